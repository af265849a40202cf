"""The Starlette application: `create_app(settings)` is the one place the graph is wired."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from engine.view import GRAPHIQL_CSP, GatewayGraphQL
from gateway.cors import origin_policy, with_cors
from gateway.health import healthz, metrics, readyz
from gateway.limits import AcceptNegotiation, BodySizeLimit, CsrfPrevention, OperationLimits
from gateway.metrics import Metrics
from gateway.request_id import RequestId
from gateway.settings import Settings
from gateway.telemetry import (
    OperationCounter,
    ServerSpans,
    Tracing,
    instrument_schema,
    register_process_metrics,
    tracing_from_settings,
)
from gateway.timing import RequestTiming
from gateway.webhooks.endpoints import webhook_routes
from gateway.wiring.build import build_services
from gateway.wiring.schema import build_schema

log = logging.getLogger(__name__)
GRAPHIQL_DIR = Path(__file__).parent / "graphiql"
KIOSK_DIR = Path(__file__).parent / "kiosk"


def create_app(
    settings: Settings,
    *,
    http_client: httpx.AsyncClient | None = None,
    tracing: Tracing | None = None,
) -> Starlette:
    """`tracing`: a tracer provider of the caller's (tests); by default one is built when
    `telemetry.otlp_endpoint` is set, and none otherwise (docs/operations.md "Traces")."""
    metrics_ = Metrics()
    register_process_metrics(metrics_.registry)
    tracing = tracing or tracing_from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with build_services(settings, metrics_, http_client, tracing) as services:
                app.state.services = services
                yield
        finally:
            if tracing is not None:
                await tracing.shutdown()

    limits = OperationLimits.from_settings(settings.limits, settings.env)
    schema = build_schema(
        limits,
        fast_execution=settings.graphql.fast_execution,
        verify_fast_execution=settings.graphql.verify_fast_execution,
        execution_observer=metrics_,
        operation_observer=OperationCounter(metrics_),
    )
    if tracing is not None:
        instrument_schema(
            schema, tracing.tracer(), resolver_spans=settings.telemetry.resolver_spans
        )
    graphiql_page = (GRAPHIQL_DIR / "index.html").read_text() if settings.graphiql_enabled else None
    cors = origin_policy(settings)
    view = GatewayGraphQL(
        schema,
        graphiql_page=graphiql_page,
        socket_origins=cors.allows if cors else None,
        max_json_depth=settings.limits.max_json_depth,
    )
    # Outermost first: the media type every answer, refusals included, is given in; then a
    # forged request is refused before its body is read.
    graphql: ASGIApp = BodySizeLimit(view, settings.limits.max_body_bytes)
    if settings.limits.csrf_prevention:
        graphql = CsrfPrevention(graphql)
    graphql = AcceptNegotiation(graphql)
    methods = ["GET", "POST"]
    if cors is not None:
        # outermost: a preflight is answered here, and every answer to an allowed origin,
        # refusals included, is readable by its page
        graphql = with_cors(graphql, settings, cors)
        methods.append("OPTIONS")
    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=methods),
        # Subscriptions (graphql-transport-ws). Credentials travel in connection_init, not
        # in cookies, so a cross-site page opening a socket proves nothing: no CSRF check.
        # A cross-origin handshake is accepted only from the CORS origins.
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *webhook_routes(),
    ]
    if settings.graphiql_enabled:
        # the developer pages: GraphiQL and the reference in-store page (docs/kiosk.md)
        routes += _graphiql_routes(settings.graphiql_assets_dir)
        routes += _kiosk_routes()
    return Starlette(
        routes=routes,
        middleware=[
            # outermost: every log line and span of the request has its id
            Middleware(RequestId),
            *([Middleware(ServerSpans, tracer=tracing.tracer())] if tracing else []),
            Middleware(RequestTiming, metrics=metrics_),
        ],
        lifespan=lifespan,
    )


def _graphiql_routes(assets_dir: Path) -> list[BaseRoute]:
    if not (assets_dir / "graphiql.min.js").exists():
        log.warning("GraphiQL assets missing in %s: run `make install`", assets_dir)
    return [
        Mount("/graphiql/vendor", StaticFiles(directory=assets_dir, check_dir=False)),
        Route("/graphiql/init.js", _file(GRAPHIQL_DIR / "init.js", "text/javascript")),
        Route("/graphiql/page.css", _file(GRAPHIQL_DIR / "page.css", "text/css")),
    ]


def _kiosk_routes() -> list[BaseRoute]:
    page = (KIOSK_DIR / "index.html").read_text()

    async def kiosk_page(request: Request) -> Response:
        # GraphiQL's policy: everything from this origin (the websocket too), no inline script
        return HTMLResponse(page, headers={"Content-Security-Policy": GRAPHIQL_CSP})

    return [
        Route("/kiosk", kiosk_page, methods=["GET"]),
        *(
            Route(f"/kiosk/{name}", _file(KIOSK_DIR / name, media_type), methods=["GET"])
            for name, media_type in (
                ("kiosk.js", "text/javascript"),
                ("live.js", "text/javascript"),
                ("kiosk.css", "text/css"),
            )
        ),
    ]


def _file(path: Path, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        return FileResponse(path, media_type=media_type)

    return serve
