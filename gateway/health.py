"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.metrics import CONTENT_TYPE_LATEST
from gateway.mongo import mongo_reachable
from gateway.services import Services


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Nothing external is checked, so a MongoDB outage never
    gets pods restarted in a loop."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to take traffic: MongoDB answers a ping and every upstream the chosen adapters
    call is configured (has a base URL).

    Each upstream's circuit breaker state is reported under `circuits` but never makes the
    pod unready. Every pod calls the same vendors, so their breakers open together: taking
    them all out of the Service would turn one vendor's outage (its fields null with
    CIRCUIT_OPEN, everything else answered) into a total one. And a pod removed from the
    Service gets no traffic to probe the vendor with, so its breaker could not close.
    """
    services: Services = request.app.state.services
    mongo_ok = await mongo_reachable(services.mongo)
    upstreams = {name: all(urls) for name, urls in services.upstream_urls.items()}
    ready = mongo_ok and all(upstreams.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {
            "mongodb": "ok" if mongo_ok else "unreachable",
            "upstreams": {
                name: "configured" if ok else "missing" for name, ok in upstreams.items()
            },
            "circuits": {
                name: policy.breaker.state.value
                for name, policy in services.upstream_policies.items()
            },
        },
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
