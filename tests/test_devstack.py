"""`make run`'s stack (`omnigate dev`): it starts, answers (with the sandbox's promotions
applied), and Ctrl-C leaves nothing behind; with HubSpot as the CRM too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from conftest import REPO_ROOT

from gateway.local_mongod import free_port, pid_alive
from gateway.settings import SANDBOX_ISSUER
from sandbox.hubspot import hubspot_contacts

# starts whole processes (the stack, workers): `make test-processes`, its own CI step
pytestmark = pytest.mark.processes


def wait_until_ready(process: subprocess.Popen[str], url: str) -> None:
    """Until the stack answers /readyz (60 s at most); its output if it exits first."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "dev stack did not become ready"
        time.sleep(0.2)


def test_dev_stack_serves_graphql_and_stops_cleanly_on_ctrl_c(tmp_path, dataset):
    port = free_port()
    env = {
        **os.environ,
        "OMNIGATE_PORT": str(port),
        "OMNIGATE_SQUARE__BASE_URL": f"http://127.0.0.1:{free_port()}",
        "OMNIGATE_SHOPIFY__BASE_URL": f"http://127.0.0.1:{free_port()}",
        "OMNIGATE_SALESFORCE__LOGIN_URL": f"http://127.0.0.1:{free_port()}",
        "OMNIGATE_HUBSPOT__BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    # its own process group, so Ctrl-C can reach the whole group as a terminal's does
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "dev", "--data-dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(process, url)
        response = httpx.post(
            url + "/graphql", json={"query": "{ products(first: 2) { edges { node { sku } } } }"}
        )
        assert (
            response.json()["data"]["products"]["edges"][0]["node"]["sku"]
            == dataset.products[0].sku
        )
        assert httpx.get(url + "/kiosk").status_code == 200  # the developer pages are on
        # the sandbox's promotions (sandbox/offers.yaml) were applied at start-up
        for channel, promotion in (
            ("WEB", "sandbox-web-spring"),
            ("MOBILE", "sandbox-app-free-shipping"),
        ):
            offered = httpx.post(
                url + "/graphql",
                json={"query": f"{{ offers(channel: {channel}) {{ promotionId }} }}"},
            ).json()["data"]["offers"]
            assert [o["promotionId"] for o in offered] == [promotion]
        mongod_pid = int((tmp_path / "mongodb" / "mongod.lock").read_text().strip())
        assert pid_alive(mongod_pid)

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: every process of the group
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    # the gateway's last writes (the CRM poll lease) land before mongod stops
    assert "WARNING" not in output, output
    assert f"GraphiQL   {url}/graphql" in output
    assert f"kiosk      {url}/kiosk" in output
    assert "offers     offer set 'sandbox': 6 created, 0 changed, 0 removed (offers.yaml)" in output
    deadline = time.monotonic() + 10
    while pid_alive(mongod_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(mongod_pid), "mongod outlived the dev stack"


def test_dev_stack_with_hubspot_as_the_crm_serves_me_and_delivers_its_webhooks(tmp_path, dataset):
    """`OMNIGATE_ADAPTERS__CRM=hubspot OMNIGATE_ADAPTERS__LOYALTY=mongodb make run`: the
    profile comes from the HubSpot simulator, which sends its signed contact webhooks to the
    gateway, and its loyalty from omnigate's ledger, opened with the sandbox's members."""
    port, hubspot = free_port(), f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "OMNIGATE_ADAPTERS__CRM": "hubspot",
        "OMNIGATE_ADAPTERS__LOYALTY": "mongodb",
        "OMNIGATE_PORT": str(port),
        "OMNIGATE_SQUARE__BASE_URL": f"http://127.0.0.1:{free_port()}",
        "OMNIGATE_SHOPIFY__BASE_URL": f"http://127.0.0.1:{free_port()}",
        "OMNIGATE_SALESFORCE__LOGIN_URL": f"http://127.0.0.1:{free_port()}",
        "OMNIGATE_HUBSPOT__BASE_URL": hubspot,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "dev", "--data-dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    pos_by_person = {c.person_key: c.id for c in dataset.pos_customers}
    accounts = {a.customer_id: a for a in dataset.loyalty_accounts}
    contact = [
        c
        for c in hubspot_contacts(dataset)
        if pos_by_person.get(c.person_key) in accounts and c.email
    ][11]
    account = accounts[pos_by_person[contact.person_key]]
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(process, url)
        issued = httpx.post(
            f"{SANDBOX_ISSUER}/dev/token",
            json={"kind": "customer", "subject": contact.id},
            timeout=10,
        )
        headers = {"authorization": f"Bearer {issued.json()['access_token']}"}
        me = {"query": "{ me { id givenName externalRefs { system id } loyalty { balance } } }"}
        before = httpx.post(url + "/graphql", json=me, headers=headers, timeout=10).json()
        assert before["data"]["me"]["givenName"] == contact.firstname
        assert before["data"]["me"]["loyalty"] == {"balance": account.balance}
        assert {"system": "HUBSPOT", "id": contact.id} in before["data"]["me"]["externalRefs"]

        edit = f"{hubspot}/_sandbox/hubspot/contacts/{contact.id}"
        change = httpx.post(edit, json={"firstname": "Renamed"}, timeout=10).json()
        assert change["webhook"]["url"] == f"{url}/webhooks/hubspot"
        assert change["webhook"]["status"] == 200  # sent, verified and applied
        after = httpx.post(url + "/graphql", json=me, headers=headers, timeout=10).json()
        assert after["data"]["me"]["givenName"] == "Renamed"

        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert f"sandbox    hubspot    {hubspot}" in output
    assert "members in omnigate's ledger" in output
