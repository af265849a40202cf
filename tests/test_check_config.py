"""Settings checked before anything starts: `omnigate check-config` prints the effective
configuration with secrets redacted, and both it and `serve` name each bad variable on a
line of its own and exit non-zero, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from gateway.cli import main
from gateway.config_check import redact_uri

MONGODB_URI = "mongodb://app:s3cr3t-pw@db-0.example.net:27017,db-1.example.net/?replicaSet=rs0"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No OMNIGATE_* from the outside and no .env: only what each test sets."""
    for name in list(os.environ):
        if name.upper().startswith("OMNIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def check_config(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check-config"])
    out, err = capsys.readouterr()
    return code, out, err


def effective(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_check_config_prints_every_setting_with_secrets_redacted(monkeypatch, capsys):
    monkeypatch.setenv("OMNIGATE_MONGODB_URI", MONGODB_URI)
    monkeypatch.setenv("OMNIGATE_SHOPIFY__ACCESS_TOKEN", "shpat_live_0123456789")
    monkeypatch.setenv("OMNIGATE_TELEMETRY__OTLP_HEADERS", '{"x-api-key": "collector-key-42"}')
    monkeypatch.setenv("OMNIGATE_UPSTREAMS__ALL__DEADLINE_SECONDS", "4")

    code, out, err = check_config(capsys)

    assert (code, err) == (0, "")
    settings = effective(out)
    assert settings["OMNIGATE_MONGODB_URI"] == (
        "mongodb://app:***@db-0.example.net:27017,db-1.example.net/?replicaSet=rs0"
    )
    assert settings["OMNIGATE_SHOPIFY__ACCESS_TOKEN"] == "***"
    assert settings["OMNIGATE_TELEMETRY__OTLP_HEADERS"] == '{"x-api-key": "***"}'
    assert settings["OMNIGATE_UPSTREAMS__ALL__DEADLINE_SECONDS"] == "4.0"
    assert settings["OMNIGATE_PORT"] == "8000"
    for secret in ("s3cr3t-pw", "shpat_live_0123456789", "collector-key-42"):
        assert secret not in out
    # one line per setting: the same names the manifests test checks against
    assert "OMNIGATE_RATE_LIMITS__CUSTOMER__WINDOW_SECONDS" in settings
    assert "OMNIGATE_TELEMETRY__SAMPLING_RATIO" in settings


def test_check_config_names_each_bad_variable_and_exits_1(monkeypatch, capsys):
    monkeypatch.setenv("OMNIGATE_PORT", "70000")
    monkeypatch.setenv("OMNIGATE_LOG_FORMAT", "xml")
    monkeypatch.setenv("OMNIGATE_UPSTREAMS__ALL__RETRIES", "-1")
    monkeypatch.setenv("OMNIGATE_TELEMETRY__OTLP_ENDPOINT", "collector:4318")

    code, out, err = check_config(capsys)

    assert code == 1
    assert out == ""
    problems = err.splitlines()[1:]
    assert len(problems) == 4, err
    named = {line.split(":", 1)[0].strip() for line in problems}
    assert named == {
        "OMNIGATE_PORT",
        "OMNIGATE_LOG_FORMAT",
        "OMNIGATE_UPSTREAMS__ALL__RETRIES",
        "OMNIGATE_TELEMETRY__OTLP_ENDPOINT",
    }
    assert "65535 (got '70000')" in err
    assert "must be an http:// or https:// URL" in err


def test_a_problem_with_a_secret_never_echoes_it(monkeypatch, capsys):
    monkeypatch.setenv("OMNIGATE_ENV", "production")
    monkeypatch.setenv("OMNIGATE_SHOPIFY__ACCESS_TOKEN", "shpat_live_0123456789")

    code, _, err = check_config(capsys)

    assert code == 1
    # a problem of the model as a whole names the variables to set, not dotted names
    assert "OMNIGATE_SQUARE__ACCESS_TOKEN" in err
    assert "OMNIGATE_SHOPIFY__ACCESS_TOKEN" not in err  # that one was set
    assert "shpat_live" not in err


def test_unparseable_json_is_named_too(monkeypatch, capsys):
    monkeypatch.setenv("OMNIGATE_AUTH__ALGORITHMS", "[RS256")
    code, _, err = check_config(capsys)
    assert code == 1
    assert "OMNIGATE_AUTH" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("mongodb+srv://u:p%40ss@cluster.example.net/db", "mongodb+srv://u:***@cluster.example.net/db"),
        ("mongodb://127.0.0.1:27017/?directConnection=true", "mongodb://127.0.0.1:27017/?directConnection=true"),
        ("https://user@example.net/", "https://user@example.net/"),
    ],
)  # fmt: skip
def test_uris_lose_their_password_only(uri, shown):
    assert redact_uri(uri) == shown


def test_serve_with_a_bad_variable_exits_non_zero_with_one_line_per_problem(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMNIGATE_")}
    env |= {"OMNIGATE_PORT": "not-a-port", "OMNIGATE_SHUTDOWN_GRACE_SECONDS": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "omnigate: invalid configuration (2 problems):",
        "  OMNIGATE_PORT: Input should be a valid integer, unable to parse string as an "
        "integer (got 'not-a-port')",
        "  OMNIGATE_SHUTDOWN_GRACE_SECONDS: Input should be greater than 0 (got '0')",
    ]


PRODUCTION = {
    "OMNIGATE_ENV": "production",
    "OMNIGATE_SQUARE__ACCESS_TOKEN": "real-square",
    "OMNIGATE_SHOPIFY__ACCESS_TOKEN": "real-shopify",
    "OMNIGATE_SALESFORCE__CLIENT_SECRET": "real-salesforce",
    "OMNIGATE_WEBHOOKS__SQUARE_SIGNATURE_KEY": "real-signature-key",
    "OMNIGATE_WEBHOOKS__SHOPIFY_SECRET": "real-shopify-secret",
    "OMNIGATE_OFFERS__QUOTE_SECRET": "real-quote-secret",
    "OMNIGATE_OFFERS__WEBHOOK_SECRET": "real-webhook-secret",
    "OMNIGATE_AUTH__ISSUER": "https://login.example/",
}
SIGNED_URL = (
    "production needs the public https URL Square calls and signs, exactly as in the Square "
    "webhook subscription"
)


LOOPBACK = "is a loopback address (the development default)"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (None, LOOPBACK),
        ("https://localhost:8443/webhooks/square", LOOPBACK),
        ("https://127.0.0.2/webhooks/square", LOOPBACK),
        ("https://[::1]/webhooks/square", LOOPBACK),
        ("https://0.0.0.0/webhooks/square", LOOPBACK),
        ("http://api.example.com/webhooks/square", "is not an https URL"),
    ],
)
def test_production_refuses_a_square_notification_url_square_could_not_have_signed(
    monkeypatch, capsys, url, why
):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    if url is not None:
        monkeypatch.setenv("OMNIGATE_WEBHOOKS__SQUARE_NOTIFICATION_URL", url)

    code, out, err = check_config(capsys)

    assert (code, out) == (1, "")
    shown = url or "http://127.0.0.1:8000/webhooks/square"
    assert err.splitlines() == [
        "omnigate: invalid configuration (1 problem):",
        f"  OMNIGATE_WEBHOOKS__SQUARE_NOTIFICATION_URL: {why}: {SIGNED_URL} (got '{shown}')",
    ]


def test_production_takes_the_public_square_notification_url(monkeypatch, capsys):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    public = "https://api.example.com/webhooks/square"
    monkeypatch.setenv("OMNIGATE_WEBHOOKS__SQUARE_NOTIFICATION_URL", public)

    code, out, err = check_config(capsys)

    assert (code, err) == (0, "")
    assert effective(out)["OMNIGATE_WEBHOOKS__SQUARE_NOTIFICATION_URL"] == public
