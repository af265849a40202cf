"""The `omnigate` command (also `python -m gateway`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.settings import Settings

# The sandbox's vendors and default ports (sandbox/server.py DEFAULT_PORTS; kept literal so
# `omnigate --help` does not import every simulator).
SANDBOX_PORTS = {"square": 8101, "shopify": 8102, "salesforce": 8103, "identity": 8104}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnigate", description="One GraphQL API over POS, e-commerce, inventory and CRM."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway (settings from OMNIGATE_* env)")
    serve.add_argument("--host", help="bind address (default: OMNIGATE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: OMNIGATE_PORT or 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")

    sandbox = commands.add_parser("sandbox", help="run the simulated vendor APIs")
    sandbox.add_argument("--host", default="127.0.0.1")
    for vendor, port in SANDBOX_PORTS.items():
        sandbox.add_argument(f"--{vendor}-port", type=int, default=port)
    sandbox.add_argument(
        "--unthrottled",
        action="store_true",
        help="no Shopify cost throttling (for load tests of the gateway itself)",
    )
    _dataset_arguments(sandbox)

    commands.add_parser("export-schema", help="print the GraphQL SDL")
    commands.add_parser(
        "check-config",
        help="print the effective configuration, secrets redacted (exit 1 on a problem)",
        description="Validate the OMNIGATE_* settings (environment, then .env) as `serve` "
        "would; print each setting as NAME=value with secrets redacted and exit 0, or each "
        "problem (one line, naming the variable) on stderr and exit 1.",
    )

    persisted = commands.add_parser(
        "persisted", help="operations in the persisted query store (docs/security.md)"
    )
    persisted_commands = persisted.add_subparsers(
        dest="persisted_command", required=True, metavar="COMMAND"
    )
    register = persisted_commands.add_parser(
        "register",
        help="register operations for the safelist and print their hashes",
        description="Register operations for the safelist (in OMNIGATE_MONGODB_URI's "
        "persisted_queries) and print `<sha256>  <source>` for each. A .graphql file is one "
        "document, registered exactly as written; a .json file is an Apollo persisted query "
        "manifest. Every document is validated against the schema first: if one fails, "
        "nothing is registered.",
    )
    register.add_argument("files", nargs="+", type=Path, metavar="FILE")

    dev = commands.add_parser("dev", help="run mongod, the sandbox and the gateway (make run)")
    dev.add_argument("--data-dir", type=Path, default=Path(".data"))
    _dataset_arguments(dev)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every upstream call at INFO: noise at our volume, and measurable CPU
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "export-schema":
        return _export_schema()
    if args.command == "check-config":
        return _check_config()
    if args.command == "serve":
        return _serve(args)
    if args.command == "sandbox":
        return _sandbox(args)
    if args.command == "persisted":
        return asyncio.run(_register_persisted(args.files))
    return _dev(args)


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=float, default=1.0, help="dataset size multiplier")
    parser.add_argument("--seed", type=int, default=42, help="dataset seed")


def _export_schema() -> int:
    from gateway.wiring.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.logging_setup import configure_logging

    settings = _valid_settings()
    if settings is None:
        return 1
    configure_logging(settings.effective_log_format, settings.log_level)
    uvicorn.run(
        "gateway.asgi:app_from_environment",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level.lower(),
        # logging is ours (configure_logging): uvicorn's records go through the root logger
        log_config=None,
        # On SIGTERM uvicorn stops accepting at once, closes idle keep-alive connections
        # and websockets (close code 1012, service restart), and lets in-flight requests
        # finish for up to this long before cancelling them (docs/operations.md).
        # (typed as whole seconds by uvicorn: rounded up, so the grace is never shorter)
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
    )
    return 0


def _valid_settings() -> Settings | None:
    """The settings, or None once each problem is on stderr (one line, naming the variable)."""
    from gateway.config_check import load_settings

    settings, problems = load_settings()
    if settings is None:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        sys.stderr.write(f"omnigate: invalid configuration ({count}):\n")
        sys.stderr.write("".join(f"  {problem}\n" for problem in problems))
    return settings


def _check_config() -> int:
    from gateway.config_check import effective_configuration

    settings = _valid_settings()
    if settings is None:
        return 1
    sys.stdout.write("".join(f"{line}\n" for line in effective_configuration(settings)))
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from gateway.serving import CoServer, serve_together, server_config
    from gateway.wiring.sandbox import STANDARD, UNTHROTTLED, sandbox_apps

    ports = {vendor: getattr(args, f"{vendor}_port") for vendor in SANDBOX_PORTS}
    plan = UNTHROTTLED if args.unthrottled else STANDARD
    apps = sandbox_apps(args.host, ports, scale=args.scale, seed=args.seed, shopify_plan=plan)
    for app in apps:
        print(f"sandbox {app.vendor:<10} {app.url}", flush=True)
    asyncio.run(serve_together([CoServer(server_config(a.app, args.host, a.port)) for a in apps]))
    return 0


async def _register_persisted(files: list[Path]) -> int:
    from datetime import timedelta

    from pymongo.errors import PyMongoError

    from gateway.mongo import connect_mongo
    from gateway.persisted.registration import RegistrationError, check, read_documents, register
    from gateway.persisted.store import PersistedQueryStore
    from gateway.wiring.schema import build_schema

    try:
        documents = read_documents(files)
    except RegistrationError as error:
        problems = error.problems
    else:
        problems = check(documents, build_schema()._schema)
    if problems:
        sys.stderr.write("".join(f"{problem}\n" for problem in problems))
        sys.stderr.write("nothing registered\n")
        return 1
    settings = Settings()
    mongo = connect_mongo(settings.mongodb_uri.get_secret_value(), settings.mongodb_timeout_seconds)
    try:
        store = PersistedQueryStore(
            mongo[settings.mongodb_database],
            apq_ttl=timedelta(seconds=settings.persisted_queries.apq_ttl_seconds),
            cache_size=len(documents) or 1,
        )
        await store.ensure_indexes()
        registered = await register(store, documents)
    except PyMongoError as exc:
        sys.stderr.write(f"MongoDB: {exc}\n")
        return 1
    finally:
        await mongo.close()
    for sha256, document in registered:
        sys.stdout.write(f"{sha256}  {document.source}\n")
    return 0


def _dev(args: argparse.Namespace) -> int:
    from gateway.devstack import run_dev_stack
    from gateway.local_mongod import LocalMongodError

    try:
        run_dev_stack(Settings(), args.data_dir, scale=args.scale, seed=args.seed)
    except LocalMongodError as exc:
        # mongod's own words (what it printed, what it logged), not a traceback
        sys.stderr.write(f"omnigate dev: the local MongoDB did not start. {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
