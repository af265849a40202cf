"""The GraphQL operation's span and its resolvers' spans.

Leans on private internals of Strawberry 0.341: the Strawberry schema's `_schema` (the
graphql-core schema whose fields' `resolve` are wrapped) and the `strawberry-definition`
extension of each field (tests/test_execution.py fails when those change).

Not Strawberry's OpenTelemetryExtension: its `resolve` hook runs for every field, which
turns off the executor's one-pass completion of plain fields (engine/execution.py) and
cost several times the untraced CPU per request (docs/operations.md "Traces"); it also
records the whole document and every resolver's arguments, customers' emails among them.

Here the operation is one span, named `query ProductPage` after the semantic conventions,
current while it runs, so everything beneath (resolvers, DataLoader batches, upstream and
MongoDB calls) is its descendant. Resolver spans are for asynchronous resolvers only (the
ones that wait on something; plain and synchronous fields would be hundreds of spans
worth nothing), by wrapping those fields' resolve functions once when the schema is built:
nothing is added to the other fields' path. Operations over websockets are not traced.

A field answered from a value its parent prefetched (`Product.availability` on a
`products` page, engine/field_hints.py) has no span: the executor's fast path takes the
value and the resolver, which the span wraps, does not run. Deliberately: the work that
fetched the value (the page's one stock call) is already under the parent's resolver span
(`resolve Query.products`), and a span per product would time a dictionary read, twenty
times a page. Where the value was not prefetched the resolver runs, span included; with
`OMNIGATE_GRAPHQL__FAST_EXECUTION=false` every resolver runs and has its span
(tests/test_telemetry.py shows both).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from inspect import isawaitable
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.schema import Schema
from strawberry.types.field import StrawberryField

GraphQLResolver = Callable[..., Any]


class GraphQLOperationSpan(SchemaExtension):
    def __init__(self, *, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if not isinstance(getattr(context, "request", None), Request):
            yield  # a websocket's, or run outside HTTP
            return
        span = self._tracer.start_span("GraphQL operation")
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            otel_context.detach(token)
            self._describe(span)
            span.end()

    def _describe(self, span: Span) -> None:
        execution = self.execution_context
        try:
            kind = execution.operation_type.value
        except RuntimeError:  # the document did not parse
            kind = None
        name = execution.operation_name
        if kind is not None:
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
        if name:
            span.set_attribute("graphql.operation.name", name)
        errors = getattr(execution.result, "errors", None) or execution.pre_execution_errors
        if errors:
            codes = sorted({str((e.extensions or {}).get("code", "INTERNAL")) for e in errors})
            span.set_attribute("omnigate.graphql.error_codes", codes)
            span.set_status(Status(StatusCode.ERROR, ", ".join(codes)))


def instrument_schema(schema: Schema, tracer: trace.Tracer, *, resolver_spans: bool) -> None:
    """Adds the operation span (first, so it covers the other extensions' parsing and
    validation) and, with `resolver_spans`, wraps each asynchronous resolver."""
    schema.extensions = (lambda: GraphQLOperationSpan(tracer=tracer), *schema.extensions)
    if not resolver_spans:
        return
    graphql_schema = schema._schema
    subscription = graphql_schema.subscription_type
    for graphql_type in graphql_schema.type_map.values():
        if (
            not isinstance(graphql_type, GraphQLObjectType)
            or graphql_type.name.startswith("__")
            or graphql_type is subscription
        ):
            continue
        for field_name, field in graphql_type.fields.items():
            definition = field.extensions.get("strawberry-definition")
            if (
                isinstance(definition, StrawberryField)
                and definition.base_resolver is not None
                and definition.base_resolver.is_async
                and field.resolve is not None
            ):
                span_name = f"resolve {graphql_type.name}.{field_name}"
                field.resolve = _traced(field.resolve, tracer, span_name)


def _traced(resolve: GraphQLResolver, tracer: trace.Tracer, span_name: str) -> GraphQLResolver:
    def resolve_traced(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        span = tracer.start_span(span_name, attributes={"graphql.field.path": _path(info)})
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = resolve(source, info, **arguments)
        except BaseException as exc:
            _failed(span, exc)
            span.end()
            raise
        finally:
            otel_context.detach(token)
        if isawaitable(result):
            return _finish(result, span)
        span.end()
        return result

    return resolve_traced


async def _finish(result: Awaitable[Any], span: Span) -> Any:
    # The coroutine runs when graphql-core awaits it, not when the resolver returned it:
    # the span must be current again for what it awaits to be its children.
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        return await result
    except BaseException as exc:
        _failed(span, exc)
        raise
    finally:
        otel_context.detach(token)
        span.end()


def _failed(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def _path(info: GraphQLResolveInfo[Any]) -> str:
    return ".".join(str(key) for key in info.path.as_list())
