"""The one parametrised fixture: `retailer`, the gateway of a vendor set (tests/behaviour/
sets.py) over the session's sandbox and mongod. Each set's gateway starts once per worker,
when its first test needs it, and serves all the set's tests until the session ends: a
gateway per module cost 2 to 5 s each to start (the suite took 54 s instead of 15 s), and
a session-scoped parametrised fixture is set up again each time pytest-xdist's loadfile
order moves from one set to the other. The tests keep out of each other's way by taking
their own people (Retailer.buyer) and keys (Retailer.key). `--vendor-set`
(tests/conftest.py) picks the sets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from conftest import Sandbox, Tokens, crm_named, running_gateway, sandbox_settings

from behaviour import timing
from behaviour.retailer import Retailer, open_ledger_accounts, set_settings
from behaviour.sets import VendorSet, chosen_sets
from gateway.local_mongod import LocalMongod
from sandbox.dataset import Dataset


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "vendor_set" in metafunc.fixturenames:
        chosen = chosen_sets(metafunc.config.getoption("vendor_set"))
        metafunc.parametrize("vendor_set", chosen, ids=[s.name for s in chosen])


@pytest.fixture(autouse=True)
def _reported_per_set(request: pytest.FixtureRequest, vendor_set: VendorSet) -> None:
    request.node.user_properties.append((timing.PROPERTY, vendor_set.name))


class Retailers:
    """The sets' gateways started so far in this worker, by set name."""

    def __init__(
        self, stack: AsyncExitStack, mongod: LocalMongod, sandbox: Sandbox, dataset: Dataset
    ) -> None:
        self._stack = stack
        self._mongod = mongod
        self._sandbox = sandbox
        self._dataset = dataset
        self._started: dict[str, Retailer] = {}

    async def of(self, vendor_set: VendorSet) -> Retailer:
        if vendor_set.name not in self._started:
            self._started[vendor_set.name] = await self._start(vendor_set)
        return self._started[vendor_set.name]

    async def _start(self, vendor_set: VendorSet) -> Retailer:
        settings = set_settings(vendor_set, sandbox_settings(self._mongod, self._sandbox))
        # it idles while other modules run and count upstream calls: no reconciler rounds
        # (the suite leaves no checkout unfinished for one to take on)
        settings = settings.with_changes(
            cart={**settings.cart.model_dump(), "reconcile_interval_seconds": 0}
        )
        await open_ledger_accounts(settings, self._dataset)
        # the people are known by the ids of the CRM simulator the set speaks to
        crm = crm_named(vendor_set.simulators["crm"], self._dataset)
        client = await self._stack.enter_async_context(running_gateway(settings))
        tokens = Tokens(self._sandbox)
        return Retailer(vendor_set, client, settings, crm, self._dataset, self._sandbox, tokens)


@pytest.fixture(scope="session")
async def retailers(
    mongod: LocalMongod, sandbox: Sandbox, dataset: Dataset
) -> AsyncIterator[Retailers]:
    async with AsyncExitStack() as stack:
        yield Retailers(stack, mongod, sandbox, dataset)


@pytest.fixture
async def retailer(retailers: Retailers, vendor_set: VendorSet) -> Retailer:
    return await retailers.of(vendor_set)
