"""Fuzzed queries against the gateway while its upstreams misbehave: never an HTTP 5xx.

hypothesis-graphql writes valid queries from the schema itself (any root field, any
selection, arbitrary argument values); each example also draws a fault for each upstream
and who asks (nobody, staff, a customer). The gateway runs under uvicorn in a thread of its
own, as deployed, so an exception escaping the app would show as the 500 it becomes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import graphql
import httpx
import pytest
import uvicorn
from conftest import Sandbox, Tokens, bearer
from fault_proxy import VENDOR_500, Fault, FaultProxy, behind_proxies, proxies_in_front_of
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from gateway.app import create_app
from gateway.local_mongod import free_port
from gateway.settings import Settings
from gateway.wiring.schema import build_schema
from sandbox.dataset import Dataset

VENDORS = ("square", "shopify", "salesforce")
REQUEST_DEADLINE = 0.3
EXAMPLES = 60
# PASS weighs as much as all the faults together: most answers then mix data and errors
FAULTS = [Fault.PASS] * 9 + [f for f in Fault if f is not Fault.PASS]


@pytest.fixture(scope="module")
def proxies(sandbox: Sandbox) -> Iterator[dict[str, FaultProxy]]:
    with proxies_in_front_of({vendor: sandbox.url(vendor) for vendor in VENDORS}) as proxies:
        yield proxies


def serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        lifespan="on",  # a failed start-up must fail the test, not serve without services
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the gateway failed to start"
        assert time.monotonic() < deadline, "the gateway did not start within 20 s"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def representations(dataset: Dataset) -> st.SearchStrategy[graphql.ValueNode]:
    """Federation `_Any` values: entity references with real or arbitrary keys."""

    def reference(typename: str, key: str, value: str) -> graphql.ValueNode:
        fields = [("__typename", typename), (key, value)]
        return graphql.ObjectValueNode(
            fields=tuple(
                graphql.ObjectFieldNode(
                    name=graphql.NameNode(value=name), value=graphql.StringValueNode(value=text)
                )
                for name, text in fields
            )
        )

    keys = {"Product": "sku", "Store": "id", "Customer": "id"}
    known = {
        "Product": [p.sku for p in dataset.products[:5]],
        "Store": [s.id for s in dataset.stores[:3]],
        "Customer": [c.id for c in dataset.crm_contacts[:3]],
    }
    return st.sampled_from(sorted(keys)).flatmap(
        lambda typename: st.builds(
            reference,
            st.just(typename),
            st.just(keys[typename]),
            st.sampled_from(known[typename]) | st.text(max_size=12),
        )
    )


def test_fuzzed_queries_with_faulty_upstreams_never_get_a_5xx(
    settings: Settings, proxies: dict[str, FaultProxy], sandbox: Sandbox, dataset: Dataset
) -> None:
    faulty = behind_proxies(
        settings,
        proxies,
        upstreams={
            "all": {
                "connect_timeout_seconds": 0.2,
                "backoff_base_seconds": 0.01,
                "backoff_max_seconds": 0.02,
            }
        },
        request_deadline_seconds=REQUEST_DEADLINE,
    )
    tokens = Tokens(sandbox)
    principals = {
        "nobody": {},
        "staff": bearer(tokens.staff(dataset.stores[0].id)),
        "customer": bearer(tokens.customer(dataset.crm_contacts[0].id)),
    }
    schema = build_schema()._schema
    statuses: list[int] = []
    for proxy in proxies.values():
        proxy.reset_counts()
    server, thread, url = serve(faulty)
    try:
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:

            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(
                query=queries(schema, custom_scalars={"_Any": representations(dataset)}),
                faults=st.tuples(*(st.sampled_from(FAULTS) for _ in VENDORS)),
                who=st.sampled_from(sorted(principals)),
            )
            def check(query: str, faults: tuple[Fault, ...], who: str) -> None:
                for vendor, fault in zip(VENDORS, faults, strict=True):
                    options: dict[str, Any] = {}
                    if fault is Fault.HTTP_500:
                        options["body"] = VENDOR_500[vendor]
                    elif fault is Fault.SLOW_DRIP:
                        options["drip_interval"] = 0.05
                    proxies[vendor].set(fault, **options)
                started = time.monotonic()
                response = client.post("/graphql", json={"query": query}, headers=principals[who])
                elapsed = time.monotonic() - started
                statuses.append(response.status_code)
                assert response.status_code < 500, (response.status_code, response.text)
                body = response.json()
                assert "data" in body or "errors" in body
                for error in body.get("errors", []):
                    assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
                assert elapsed <= REQUEST_DEADLINE + 0.5, elapsed

            check()
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    assert len(statuses) >= EXAMPLES
    assert sum(proxy.seen() for proxy in proxies.values()) > 0  # the upstreams were reached
