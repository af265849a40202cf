"""A cached profile read's gateway CPU, measured in one process: steady enough to compare
two versions of the code, and what callgrind counts instructions of (bench/README.md).

    python -m bench.profile_inprocess [--as customer|staff] [--requests 1000] [--rounds 3]
                                      [--cprofile FILE]

The app from `create_app` runs in this process, driven through ASGI without a server or
sockets (as `bench.products_inprocess` does), against a real mongod and the simulators.
`--customers` (50) profiles are first read once each, which assembles and caches them;
then every measured request reads one of them again, in turn, within the soft TTL: a
cache hit, served from MongoDB with no upstream call. `--as customer` (default): each
customer's own `me`, with their own token; `--as staff`: staff's `customer(id:)`, which
also writes its audit row. The query is `bench.profile_load`'s. What is timed is the
gateway's own work per read: the HTTP view, auth, execution, the cache read (the driver's
side of it) and, for staff, the audit insert. Not timed: uvicorn, sockets, mongod itself.
`--cprofile FILE` writes a cProfile (CPU timer) of the last round.
"""

from __future__ import annotations

import argparse
import cProfile
import time

import httpx
import orjson
import uvloop

from bench.products_inprocess import asgi_post, inprocess_stack
from bench.profile_load import OWN_PROFILE, PROFILE
from gateway.app import create_app
from gateway.asgi import tune_garbage_collector
from gateway.settings import Settings
from sandbox.dataset import build_dataset

Read = tuple[bytes, bytes]


def _token(identity_url: str, claims: dict[str, str]) -> str:
    response = httpx.post(identity_url + "/dev/token", json=claims)
    response.raise_for_status()
    return str(response.json()["access_token"])


def _reads(identity_url: str, as_: str, ids: list[str], store_id: str) -> list[Read]:
    """(the body, the bearer token) of one read of each customer, as bench.profile_load's."""
    if as_ == "staff":
        staff = {"kind": "staff", "store_id": store_id, "subject": "bench-staff"}
        token = _token(identity_url, staff).encode()
        return [(orjson.dumps({"query": PROFILE, "variables": {"id": i}}), token) for i in ids]
    body = orjson.dumps({"query": OWN_PROFILE})
    return [(body, _token(identity_url, {"kind": "customer", "subject": i}).encode()) for i in ids]


async def measure(
    settings: Settings,
    reads: list[Read],
    field: str,
    requests: int,
    rounds: int,
    profile_to: str | None,
) -> list[float]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        posts = [asgi_post(app, body, [(b"authorization", b"Bearer " + t)]) for body, t in reads]
        for post in posts:  # the misses: assembled and cached
            answer = orjson.loads(await post())
            if "errors" in answer or answer["data"][field] is None:
                raise SystemExit(f"the read failed: {answer}")
        for index in range(50):
            await posts[index % len(posts)]()
        tune_garbage_collector()  # as `omnigate serve` does once the app is built
        figures = []
        profiler = cProfile.Profile(time.process_time) if profile_to else None
        for round_ in range(rounds):
            if profiler is not None and round_ == rounds - 1:
                profiler.enable()
            started = time.process_time()
            for index in range(requests):
                await posts[index % len(posts)]()
            figures.append((time.process_time() - started) * 1000 / requests)
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)
        answer = orjson.loads(await posts[0]())
        if "errors" in answer or answer["data"][field] is None:
            raise SystemExit(f"a read failed while measured: {answer}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--customers", type=int, default=50, help="profiles read in turn")
    parser.add_argument("--as", dest="as_", choices=("customer", "staff"), default="customer")
    parser.add_argument("--cprofile", metavar="FILE", help="a cProfile of the last round")
    args = parser.parse_args()
    dataset = build_dataset()
    ids = [contact.id for contact in dataset.crm_contacts[: args.customers]]
    with inprocess_stack() as (settings, sandbox):
        reads = _reads(sandbox.urls["identity"], args.as_, ids, dataset.stores[0].id)
        field = "customer" if args.as_ == "staff" else "me"
        figures = uvloop.run(
            measure(settings, reads, field, args.requests, args.rounds, args.cprofile)
        )
    rounds = " ".join(f"{figure:.3f}" for figure in figures)
    print(f"{'gateway_cpu_ms_per_read':<30} {min(figures):.3f} (rounds: {rounds})")
    print(f"{'read as':<30} {args.as_}")


if __name__ == "__main__":
    main()
