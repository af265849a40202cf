"""The `omnigate` command (also `python -m gateway`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gateway.config_file import CONFIG_VARIABLE
from gateway.settings import Settings

# The sandbox's vendors and default ports (sandbox/server.py DEFAULT_PORTS; kept literal so
# `omnigate --help` does not import every simulator).
SANDBOX_PORTS = {
    "square": 8101,
    "shopify": 8102,
    "salesforce": 8103,
    "identity": 8104,
    "hubspot": 8105,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnigate", description="One GraphQL API over POS, e-commerce, inventory and CRM."
    )
    config_help = (
        f"a YAML config file (default: ${CONFIG_VARIABLE}); OMNIGATE_* variables override "
        "its keys (docs/operations.md)"
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help=config_help)
    # also accepted after the commands that read settings: `omnigate serve --config FILE`
    reads_settings = argparse.ArgumentParser(add_help=False)
    reads_settings.add_argument(
        "--config", type=Path, metavar="FILE", default=argparse.SUPPRESS, help=config_help
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        parents=[reads_settings],
        help="run the gateway (settings from OMNIGATE_* env and the config file)",
    )
    serve.add_argument("--host", help="bind address (default: the host setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: the port setting, 8000)")
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
    schema_check = commands.add_parser(
        "check-schema",
        help="compare schema.graphql with the last release's (exit 1 on an unrecorded break)",
        description="Compare the committed schema with the last release's "
        "(schema/released.graphql). Every breaking and dangerous change is listed; a "
        "breaking change fails (exit 1) unless schema/breaking-changes.yaml records it as "
        "intended, with a reason. Paths are relative to the working directory (the "
        "repository, in `make lint`).",
    )
    schema_check.add_argument(
        "--schema", type=Path, default=Path("schema.graphql"), help="default: %(default)s"
    )
    schema_check.add_argument(
        "--released",
        type=Path,
        default=Path("schema/released.graphql"),
        help="the last release's SDL (default: %(default)s)",
    )
    schema_check.add_argument(
        "--intended",
        type=Path,
        default=Path("schema/breaking-changes.yaml"),
        help="the record of intended breaking changes (default: %(default)s)",
    )
    commands.add_parser(
        "check-config",
        parents=[reads_settings],
        help="print the effective configuration, secrets redacted (exit 1 on a problem)",
        description="Validate the OMNIGATE_* settings (environment, then .env, then the "
        "config file) as `serve` would; print each setting as NAME=value with secrets "
        "redacted and exit 0, or each problem (one line, naming the variable, or the "
        "file, line and key) on stderr and exit 1.",
    )
    commands.add_parser(
        "config-schema",
        help="print the JSON schema of the config file",
        description="Print the JSON schema (draft 2020-12) a config file is checked "
        "against: every setting, nested as in the file, with its type, bounds and default. "
        "Point an editor's YAML language server at it.",
    )

    commands.add_parser(
        "check-upstreams",
        help="one harmless read per configured vendor: ok, or exactly what is wrong",
        description="With the OMNIGATE_* settings as `serve` reads them, make one harmless "
        "read per upstream the chosen adapters call (Square: the seller's locations; "
        "Shopify: the shop and the token's access scopes; Salesforce: a token and one "
        "Contact) and print one line each: ok with what was seen, or FAILED with the "
        "problem and the variables to check (docs/vendors/). Exit 1 if any failed.",
    )

    persisted = commands.add_parser(
        "persisted", help="operations in the persisted query store (docs/security.md)"
    )
    persisted_commands = persisted.add_subparsers(
        dest="persisted_command", required=True, metavar="COMMAND"
    )
    register = persisted_commands.add_parser(
        "register",
        parents=[reads_settings],
        help="register operations for the safelist and print their hashes",
        description="Register operations for the safelist (in OMNIGATE_MONGODB_URI's "
        "persisted_queries) and print `<sha256>  <source>` for each. A .graphql file is one "
        "document, registered exactly as written; a .json file is an Apollo persisted query "
        "manifest. Every document is validated against the schema first: if one fails, "
        "nothing is registered.",
    )
    register.add_argument("files", nargs="+", type=Path, metavar="FILE")

    _offers_commands(commands)

    dev = commands.add_parser(
        "dev", parents=[reads_settings], help="run mongod, the sandbox and the gateway (make run)"
    )
    dev.add_argument("--data-dir", type=Path, default=Path(".data"))
    _dataset_arguments(dev)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every upstream call at INFO: noise at our volume, and measurable CPU
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with _config_file(args.config):
        return _run(args)


@contextmanager
def _config_file(path: Path | None) -> Iterator[None]:
    """`--config FILE` is OMNIGATE_CONFIG=FILE for the command, and for the processes it
    starts (`serve --workers N` builds each worker's settings from the environment)."""
    if path is None:
        yield
        return
    previous = os.environ.get(CONFIG_VARIABLE)
    os.environ[CONFIG_VARIABLE] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CONFIG_VARIABLE, None)
        else:
            os.environ[CONFIG_VARIABLE] = previous


def _run(args: argparse.Namespace) -> int:
    if args.command == "export-schema":
        return _export_schema()
    if args.command == "check-config":
        return _check_config()
    if args.command == "check-upstreams":
        return _check_upstreams()
    if args.command == "config-schema":
        return _config_schema()
    if args.command == "check-schema":
        return _check_schema(args.schema, args.released, args.intended)
    if args.command == "serve":
        return _serve(args)
    if args.command == "sandbox":
        return _sandbox(args)
    if args.command == "persisted":
        return asyncio.run(_register_persisted(args.files))
    if args.command == "offers":
        return _offers(args)
    return _dev(args)


def _offers_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    offers = commands.add_parser(
        "offers", help="promotions and segments as configuration (docs/offers.md)"
    )
    offers_commands = offers.add_subparsers(dest="offers_command", required=True, metavar="COMMAND")
    apply = offers_commands.add_parser(
        "apply",
        help="bring the promotions and segments in MongoDB to an offers file (YAML)",
        description="Validate FILE (every problem printed as FILE:LINE: where: message, and "
        "nothing written), then bring OMNIGATE_MONGODB_URI's promotions and segments to it in "
        "one transaction and print what changed: + created, ~ changed, - removed. The file's "
        "`set` owns what it declares: a promotion it declared before and no longer does is "
        "withdrawn, a segment it named before is emptied; nothing else is touched. Applying "
        "the same file again changes nothing.",
    )
    apply.add_argument("file", type=Path, metavar="FILE", help="the offers file; - reads stdin")
    apply.add_argument(
        "--dry-run", action="store_true", help="print what would change, write nothing"
    )
    listing = offers_commands.add_parser(
        "list", help="print the promotions and segments in MongoDB, and the set owning each"
    )
    listing.add_argument(
        "--issued",
        action="store_true",
        help="also the promotions issued to one customer (vouchers, referral codes)",
    )


def _offers(args: argparse.Namespace) -> int:
    from gateway.offers_file import apply_offers_file, list_offers

    settings = _valid_settings()
    if settings is None:
        return 1
    if args.offers_command == "apply":
        return asyncio.run(apply_offers_file(settings, args.file, dry_run=args.dry_run))
    return asyncio.run(list_offers(settings, issued=args.issued))


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
    from gateway.config_file import configured_path

    settings = _valid_settings()
    if settings is None:
        return 1
    lines = effective_configuration(settings, configured_path())
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


def _check_upstreams() -> int:
    from gateway.upstream_checks import Outcome, check_upstreams
    from gateway.wiring.build import build_http_client

    settings = _valid_settings()
    if settings is None:
        return 1

    async def run() -> int:
        client = build_http_client(settings.http)
        try:
            reports = await check_upstreams(settings, client)
        finally:
            await client.aclose()
        width = max((len(r.service) for r in reports), default=0)
        sys.stdout.write("".join(f"{report.line(width)}\n" for report in reports))
        return 1 if any(r.outcome is Outcome.FAILED for r in reports) else 0

    return asyncio.run(run())


def _config_schema() -> int:
    import json

    from gateway.config_schema import config_schema

    sys.stdout.write(json.dumps(config_schema(), indent=2) + "\n")
    return 0


def _check_schema(current: Path, released: Path, intended: Path) -> int:
    from gateway.schema_changes import SchemaCheckError, check, report

    try:
        verdict = check(current, released, intended)
    except SchemaCheckError as error:
        sys.stderr.write("".join(f"{problem}\n" for problem in error.problems))
        return 1
    lines = report(verdict, current, released, intended)
    out = sys.stdout if verdict.passed else sys.stderr
    out.write("".join(f"{line}\n" for line in lines))
    return 0 if verdict.passed else 1


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
    settings = _valid_settings()
    if settings is None:
        return 1
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

    settings = _valid_settings()
    if settings is None:
        return 1
    try:
        run_dev_stack(settings, args.data_dir, scale=args.scale, seed=args.seed)
    except LocalMongodError as exc:
        # mongod's own words (what it printed, what it logged), not a traceback
        sys.stderr.write(f"omnigate dev: the local MongoDB did not start. {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
