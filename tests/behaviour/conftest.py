"""The one parametrised fixture: `retailer`, a gateway per vendor set (tests/behaviour/
sets.py) over the session's sandbox and mongod, shared by all the set's tests in a worker
(a gateway per module cost 2 to 5 s each to start: the suite took 54 s instead of 15 s).
The tests keep out of each other's way by taking their own people (Retailer.buyer) and
keys (Retailer.key). `--vendor-set` (tests/conftest.py) picks the sets."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
        ids = [s.name for s in chosen]
        metafunc.parametrize("vendor_set", chosen, ids=ids, scope="session")


@pytest.fixture(autouse=True)
def _reported_per_set(request: pytest.FixtureRequest, vendor_set: VendorSet) -> None:
    request.node.user_properties.append((timing.PROPERTY, vendor_set.name))


@pytest.fixture(scope="session")
async def retailer(
    vendor_set: VendorSet, mongod: LocalMongod, sandbox: Sandbox, dataset: Dataset
) -> AsyncIterator[Retailer]:
    settings = set_settings(vendor_set, sandbox_settings(mongod, sandbox))
    # it idles while other modules run and count upstream calls: no reconciler rounds (the
    # suite leaves no checkout unfinished for one to take on)
    settings = settings.with_changes(
        cart={**settings.cart.model_dump(), "reconcile_interval_seconds": 0}
    )
    await open_ledger_accounts(settings, dataset)
    crm = crm_named(vendor_set.simulators["crm"], dataset)  # whose ids the people have
    async with running_gateway(settings) as client:
        yield Retailer(vendor_set, client, settings, crm, dataset, sandbox, Tokens(sandbox))
