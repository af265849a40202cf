"""The `omnigate` command (also `python -m gateway`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
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

    dev = commands.add_parser("dev", help="run mongod, the sandbox and the gateway (make run)")
    dev.add_argument("--data-dir", type=Path, default=Path(".data"))
    _dataset_arguments(dev)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every upstream call at INFO: noise at our volume, and measurable CPU
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "export-schema":
        return _export_schema()
    if args.command == "serve":
        return _serve(args)
    if args.command == "sandbox":
        return _sandbox(args)
    return _dev(args)


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=float, default=1.0, help="dataset size multiplier")
    parser.add_argument("--seed", type=int, default=42, help="dataset seed")


def _export_schema() -> int:
    from resolvers.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "gateway.asgi:app_from_environment",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="info",
    )
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from gateway.serving import CoServer, serve_together, server_config
    from sandbox.server import UNTHROTTLED, sandbox_apps
    from sandbox.shopify import STANDARD

    ports = {vendor: getattr(args, f"{vendor}_port") for vendor in SANDBOX_PORTS}
    plan = UNTHROTTLED if args.unthrottled else STANDARD
    apps = sandbox_apps(args.host, ports, scale=args.scale, seed=args.seed, shopify_plan=plan)
    for app in apps:
        print(f"sandbox {app.vendor:<10} {app.url}", flush=True)
    asyncio.run(serve_together([CoServer(server_config(a.app, args.host, a.port)) for a in apps]))
    return 0


def _dev(args: argparse.Namespace) -> int:
    from gateway.devstack import run_dev_stack

    run_dev_stack(Settings(), args.data_dir, scale=args.scale, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
