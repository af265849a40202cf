"""The optional YAML config file (`omnigate --config FILE` / OMNIGATE_CONFIG): read by
`check-config` and `serve` (every worker), overridden key by key by the environment, with
`${NAME}` references expanded; each problem one line naming the file, the line and the key;
and `omnigate config-schema`, the JSON schema that accepts what the file accepts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from conftest import REPO_ROOT, Sandbox
from jsonschema import Draft202012Validator

from gateway.cli import main
from gateway.config_file import CONFIG_VARIABLE
from gateway.local_mongod import LocalMongod, free_port, stop_process
from gateway.settings import SafelistMode, Settings

EXAMPLE = REPO_ROOT / "docs" / "omnigate.example.yaml"
# the references docs/omnigate.example.yaml makes, as a deployment would set them
EXAMPLE_ENVIRONMENT = {
    "MONGODB_URI": "mongodb://app:pw-in-env@db.example.net/?replicaSet=rs0",
    "SQUARE_ACCESS_TOKEN": "EAAA-square-live",
    "SHOPIFY_ACCESS_TOKEN": "shpat_live_1",
    "SALESFORCE_CLIENT_ID": "3MVG9-client",
    "SALESFORCE_CLIENT_SECRET": "sf-secret-1",
    "SQUARE_WEBHOOK_SIGNATURE_KEY": "sq-sig-1",
    "SHOPIFY_WEBHOOK_SECRET": "shp-hook-1",
    "OFFERS_QUOTE_SECRET": "quote-secret-1",
    "OFFERS_WEBHOOK_SECRET": "events-secret-1",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OMNIGATE_* (OMNIGATE_CONFIG included) from the outside and no .env."""
    for name in list(os.environ):
        if name.upper().startswith("OMNIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def effective(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def problems(err: str) -> list[str]:
    assert err.startswith("omnigate: invalid configuration"), err
    return [line.strip() for line in err.splitlines()[1:]]


SECTIONED = """
    port: 8100
    square:
      base_url: https://connect.squareup.com
      online_location_id: LFILE0001
    limits:
      max_depth: 4
    """


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "omnigate.yaml", "check-config"],
        ["check-config", "--config", "omnigate.yaml"],
        ["check-config"],  # OMNIGATE_CONFIG
    ],
)
def test_check_config_reads_the_file_and_each_variable_overrides_its_own_key(
    monkeypatch, capsys, tmp_path, argv
):
    write(tmp_path / "omnigate.yaml", SECTIONED)
    if "--config" not in argv:
        monkeypatch.setenv(CONFIG_VARIABLE, "omnigate.yaml")
    monkeypatch.setenv("OMNIGATE_SQUARE__BASE_URL", "https://connect.squareupsandbox.com")

    code, out, err = run(capsys, *argv)

    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "# effective configuration: environment, then .env, then omnigate.yaml, then defaults "
        "(secrets redacted)"
    )
    settings = effective(out)
    assert settings["OMNIGATE_PORT"] == "8100"
    assert settings["OMNIGATE_LIMITS__MAX_DEPTH"] == "4"
    # the variable wins for its key; the rest of the section still comes from the file
    assert settings["OMNIGATE_SQUARE__BASE_URL"] == "https://connect.squareupsandbox.com"
    assert settings["OMNIGATE_SQUARE__ONLINE_LOCATION_ID"] == "LFILE0001"
    assert settings["OMNIGATE_LIMITS__MAX_ALIASES"] == "15"  # a default
    # --config is for the command only: nothing is left behind in this process
    assert os.environ.get(CONFIG_VARIABLE) == (None if "--config" in argv else "omnigate.yaml")


def test_references_expand_from_the_environment(monkeypatch, capsys, tmp_path):
    write(
        tmp_path / "omnigate.yaml",
        """
        port: ${GATEWAY_PORT}
        host: ${GATEWAY_HOST:-0.0.0.0}
        mongodb_database: ${EMPTY:-fallback}
        shopify:
          base_url: https://${SHOP}.myshopify.com
          access_token: ${SHOPIFY_TOKEN}
        square:
          online_location_id: $${NOT_A_REFERENCE}
        offers:
          webhook_urls: ["https://a.example/${HOOK}", "https://b.example/$$5"]
        """,
    )
    monkeypatch.setenv("GATEWAY_PORT", "8123")
    monkeypatch.delenv("GATEWAY_HOST", raising=False)
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.setenv("SHOP", "acme")
    monkeypatch.setenv("SHOPIFY_TOKEN", "shpat_from_env")
    monkeypatch.setenv("HOOK", "${SHOP}")  # a value is never expanded again

    code, out, err = run(capsys, "--config", "omnigate.yaml", "check-config")

    assert (code, err) == (0, "")
    settings = effective(out)
    assert settings["OMNIGATE_PORT"] == "8123"  # a number once validated
    assert settings["OMNIGATE_HOST"] == "0.0.0.0"
    assert settings["OMNIGATE_MONGODB_DATABASE"] == "fallback"  # empty takes the default
    assert settings["OMNIGATE_SHOPIFY__BASE_URL"] == "https://acme.myshopify.com"
    assert settings["OMNIGATE_SHOPIFY__ACCESS_TOKEN"] == "***"
    assert "shpat_from_env" not in out
    assert settings["OMNIGATE_SQUARE__ONLINE_LOCATION_ID"] == "${NOT_A_REFERENCE}"
    assert json.loads(settings["OMNIGATE_OFFERS__WEBHOOK_URLS"]) == [
        "https://a.example/${SHOP}",
        "https://b.example/$$5",  # `$` not before `{` is literal
    ]


def test_yaml_1_1_words_stay_strings_so_safelist_off_means_off(monkeypatch, tmp_path):
    write(
        tmp_path / "omnigate.yaml",
        """
        persisted_queries: {safelist: off}
        limits: {csrf_prevention: true, introspection: false}
        graphiql: no
        """,
    )
    monkeypatch.setenv(CONFIG_VARIABLE, "omnigate.yaml")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.persisted_queries.safelist is SafelistMode.OFF
    assert (settings.limits.csrf_prevention, settings.limits.introspection) == (True, False)
    assert settings.graphiql is False  # "no", read as a boolean by the setting itself


def test_problems_in_the_file_name_file_line_and_key(monkeypatch, capsys, tmp_path):
    write(
        tmp_path / "omnigate.yaml",
        """
        port: ${GATEWAY_PORT}
        square:
          acess_token: x
          base_url: "https://${oops}"
        limits:
          max_depth: 3
          max_depth: 4
        telemetry:
          service_name: "${SERVICE"
        """,
    )
    monkeypatch.delenv("GATEWAY_PORT", raising=False)

    code, out, err = run(capsys, "--config", "omnigate.yaml", "check-config")

    assert (code, out) == (1, "")
    assert problems(err) == [
        "omnigate.yaml:1: port: ${GATEWAY_PORT}: the environment variable GATEWAY_PORT is not "
        "set (${GATEWAY_PORT:-default} gives a default)",
        "omnigate.yaml:3: square.acess_token: unknown setting in square; did you mean "
        "'access_token'?",
        "omnigate.yaml:4: square.base_url: ${oops}: the environment variable oops is not set "
        "(${oops:-default} gives a default)",
        "omnigate.yaml:7: limits.max_depth: given twice (first on line 6)",
        "omnigate.yaml:9: telemetry.service_name: `${` starts no variable reference: write "
        "${NAME} or ${NAME:-default}, or $${ for a literal ${",
    ]


def test_a_bad_value_names_the_file_s_line_unless_a_variable_set_it(monkeypatch, capsys, tmp_path):
    write(
        tmp_path / "omnigate.yaml",
        """
        env: production
        port: 70000
        log_format: xml
        cache:
          profile_ttl_seconds: 600
          profile_hard_ttl_seconds: 60
        square:
          access_token: ${SQUARE_TOKEN}
        offers:
          webhook_urls:
            - https://events.example.com/in
            - 12
        """,
    )
    monkeypatch.setenv("SQUARE_TOKEN", "EAAA-secret-value")
    monkeypatch.setenv("OMNIGATE_LOG_FORMAT", "yaml")  # overrides the file's bad value

    code, out, err = run(capsys, "--config", "omnigate.yaml", "check-config")

    assert (code, out) == (1, "")
    found = problems(err)
    assert found == [  # in the settings' order
        "omnigate.yaml:2: port: Input should be less than or equal to 65535 (got '70000')",
        "omnigate.yaml:4: cache: cache.profile_hard_ttl_seconds must be >= profile_ttl_seconds",
        "omnigate.yaml:12: offers.webhook_urls[1]: Input should be a valid string (got '12')",
        # the variable's value is the one refused: the file's `xml` is not used
        "OMNIGATE_LOG_FORMAT: Input should be 'json' or 'text' (got 'yaml')",
    ]
    assert "EAAA-secret-value" not in err


CANNOT_BE_USED = [
    (None, "missing.yaml: config file cannot be read (No such file or directory)"),
    (
        "port: [1\nhost: x\n",
        "missing.yaml:2: not valid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence)",
    ),
    ("- port: 1\n", "missing.yaml:1: must be a mapping of settings, got a list"),
    (
        "offers:\n  webhook_urls: &a [*a]\n",
        "missing.yaml:2: offers.webhook_urls[0]: refers to itself through an alias",
    ),
    (
        "port: !!python/name:os.system\n",
        "missing.yaml:1: not valid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'",
    ),
]


def test_an_unknown_adapter_chosen_in_the_file_names_its_line(monkeypatch, capsys, tmp_path):
    write(tmp_path / "omnigate.yaml", "adapters:\n  pos: square\n  crm: pipedrive\n")
    monkeypatch.setenv("OMNIGATE_ADAPTERS__POS", "foo")

    code, _, err = run(capsys, "--config", "omnigate.yaml", "check-config")

    assert code == 1
    assert problems(err) == [
        "OMNIGATE_ADAPTERS__POS: unknown adapter 'foo'; known: shopify, square",
        "omnigate.yaml:3: adapters.crm: unknown adapter 'pipedrive'; known: hubspot, salesforce",
    ]


@pytest.mark.parametrize(("text", "problem"), CANNOT_BE_USED)
def test_a_file_that_cannot_be_used_is_one_line(capsys, tmp_path, text, problem):
    if text is not None:
        (tmp_path / "missing.yaml").write_text(text)
    code, out, err = run(capsys, "--config", "missing.yaml", "check-config")
    assert (code, out) == (1, "")
    assert problems(err) == [problem]


def test_an_empty_file_is_all_defaults(monkeypatch, tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing set yet\n")
    monkeypatch.setenv(CONFIG_VARIABLE, "empty.yaml")
    assert Settings(_env_file=None).model_dump() == Settings(_env_file=None, port=8000).model_dump()  # type: ignore[call-arg]  # fmt: skip


def test_the_example_in_the_docs_loads_with_its_variables_set(monkeypatch, capsys):
    for name, value in EXAMPLE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)

    code, out, err = run(capsys, "--config", str(EXAMPLE), "check-config")

    assert (code, err) == (0, "")
    settings = effective(out)
    assert settings["OMNIGATE_ENV"] == "production"
    assert settings["OMNIGATE_MONGODB_URI"] == "mongodb://app:***@db.example.net/?replicaSet=rs0"
    assert settings["OMNIGATE_RATE_LIMITS__CUSTOMER__REQUESTS"] == "200"
    assert settings["OMNIGATE_RATE_LIMITS__CUSTOMER__WINDOW_SECONDS"] == "60.0"
    assert settings["OMNIGATE_UPSTREAMS__SALESFORCE__RETRIES"] == "1"
    assert settings["OMNIGATE_SALESFORCE__CLIENT_ID"] == "3MVG9-client"  # not a secret
    for name, secret in EXAMPLE_ENVIRONMENT.items():
        assert name == "SALESFORCE_CLIENT_ID" or secret not in out


# the JSON schema


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "config-schema"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed: dict[str, object] = json.loads(result.stdout)
    return printed


def test_config_schema_prints_a_draft_2020_12_schema_of_every_setting(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert list(schema["properties"]) == list(Settings.model_fields)  # type: ignore[call-overload]
    text = json.dumps(schema)
    assert "**********" not in text  # no secret mask shown as a default
    assert str(REPO_ROOT) not in text  # nor a default that depends on the install


def yaml_values(text: str) -> object:
    import yaml

    return yaml.safe_load(textwrap.dedent(text))


# Files the loader and the schema must judge alike: the schema says what the file accepts.
ACCEPTED = [
    "port: ${PORT}\nenv: ${ENV:-test}\ngraphiql: ${GRAPHIQL}\n",
    "rate_limits:\n  customer: {requests: 100}\n",
    "offers:\n  webhook_urls: [https://a.example, '${HOOK}']\n  point_value: '0.05'\n",
    "telemetry:\n  otlp_headers: {x-api-key: '${KEY}'}\n",
    "upstreams:\n  square: {retries: 0}\n",
]
REFUSED = [
    "prot: 8000\n",
    "square:\n  acess_token: x\n",
    "port: eighty\n",
    "env: staging\n",
    "rate_limits:\n  customer: {requests: 0}\n",
    "offers:\n  webhook_urls: https://a.example\n",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_what_the_file_accepts_the_schema_accepts(schema, monkeypatch, tmp_path, text):
    for name in ("PORT", "ENV", "GRAPHIQL", "HOOK", "KEY"):
        monkeypatch.setenv(name, {"PORT": "8001", "GRAPHIQL": "true"}.get(name, "x"))
    monkeypatch.delenv("ENV")
    (tmp_path / "f.yaml").write_text(text)
    monkeypatch.setenv(CONFIG_VARIABLE, "f.yaml")
    Settings(_env_file=None)  # type: ignore[call-arg]
    assert list(Draft202012Validator(schema).iter_errors(yaml_values(text))) == []


@pytest.mark.parametrize("text", REFUSED)
def test_what_the_file_refuses_the_schema_refuses(schema, capsys, tmp_path, text):
    (tmp_path / "f.yaml").write_text(text)
    assert main(["--config", "f.yaml", "check-config"]) == 1
    capsys.readouterr()
    assert list(Draft202012Validator(schema).iter_errors(yaml_values(text))) != []


# serve


def test_serve_refuses_a_bad_file_one_line_per_problem(tmp_path):
    write(tmp_path / "omnigate.yaml", "port: 70000\nlimits:\n  max_dept: 3\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMNIGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", "omnigate.yaml"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "omnigate: invalid configuration (1 problem):",
        "  omnigate.yaml:3: limits.max_dept: unknown setting in limits; did you mean 'max_depth'?",
    ]


DEEP = "{ products(first: 1) { edges { node { sku } } } }"  # depth 3


@pytest.mark.processes
def test_every_worker_serves_with_the_file(mongod: LocalMongod, sandbox: Sandbox, tmp_path):
    """`omnigate --config FILE serve --workers 2`: the supervisor checks the file, and each
    worker builds its app from it (here: the database from a reference, a depth limit)."""
    port = free_port()
    write(
        tmp_path / "omnigate.yaml",
        f"""
        env: test
        mongodb_uri: ${{TEST_MONGODB_URI}}
        mongodb_database: test_config_file
        limits:
          max_depth: 2
        square: {{base_url: "{sandbox.url("square")}"}}
        shopify: {{base_url: "{sandbox.url("shopify")}"}}
        salesforce: {{login_url: "{sandbox.url("salesforce")}"}}
        auth: {{issuer: "{sandbox.url("identity")}"}}
        """,
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMNIGATE_")}
    env |= {"TEST_MONGODB_URI": mongod.uri, "PYTHONPATH": str(REPO_ROOT)}
    serve = ["serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", "omnigate.yaml", *serve],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        refusals = asyncio.run(_refusals_by_worker(f"http://127.0.0.1:{port}", process))
    finally:
        stop_process(process)
    assert len(refusals) == 2, refusals
    for messages in refusals.values():
        assert messages == {"Operation refused: depth 3 exceeds the limit of 2 (max_depth)."}


async def _refusals_by_worker(url: str, process: subprocess.Popen[bytes]) -> dict[int, set[str]]:
    """Per worker pid, the errors it answered DEEP with: each fresh connection asks /readyz
    (ready: MongoDB reached with the file's URI) and /metrics (whose pid) and sends DEEP on
    the same connection, in bursts until two workers have answered or 30 s pass."""
    found: dict[int, set[str]] = {}
    deadline = time.monotonic() + 30
    while len(found) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "serve --workers 2 exited"

        async def one() -> tuple[int, set[str]] | None:
            try:
                async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                    ready = await client.get("/readyz")
                    metrics = await client.get("/metrics")
                    answer = await client.post("/graphql", json={"query": DEEP})
            except httpx.TransportError:
                return None  # not listening yet
            if ready.status_code != 200:
                return None  # not ready yet
            pid = re.search(r'^omnigate_process_info\{pid="(\d+)"', metrics.text, re.M)
            assert pid, metrics.text[:200]
            return int(pid.group(1)), {e["message"] for e in answer.json().get("errors", [])}

        for result in await asyncio.gather(*(one() for _ in range(16))):
            if result is not None:
                found.setdefault(result[0], set()).update(result[1])
        await asyncio.sleep(0.2)
    return found
