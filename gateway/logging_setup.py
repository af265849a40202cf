"""Process-wide logging: JSON lines in production, readable text in development.

Every record gets the request id (gateway/request_id.py) and, when tracing is on, the
trace and span ids of the span current where it was logged, so a log line leads to its
trace and back. A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message`,
`request_id`, `trace_id`, `span_id`, any `extra={...}` fields, and `exception` with the
traceback when there is one.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson
from opentelemetry import trace

from gateway.request_id import current_request_id

# The attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "trace_id", "span_id", "taskName"}
)
# uvicorn passes a colourised copy of its messages for its own formatter
_DROPPED = frozenset({"color_message"})
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Loggers quieter than the rest: httpx logs every upstream call at INFO (noise at our
# volume, and measurable CPU).
QUIET = {"httpx": logging.WARNING}


class RequestContext(logging.Filter):
    """Stamps each record with the request id and the current trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        else:
            record.trace_id = record.span_id = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "trace_id": getattr(record, "trace_id", None),
            "span_id": getattr(record, "span_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _DROPPED and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=str).decode()


def handler(
    log_format: Literal["json", "text"], stream: TextIO | None = None
) -> logging.StreamHandler[TextIO]:
    """A handler writing `log_format` lines with the request context on each."""
    out = logging.StreamHandler(stream or sys.stdout)
    out.addFilter(RequestContext())
    if log_format == "json":
        out.setFormatter(JsonFormatter())
    else:
        out.setFormatter(logging.Formatter(TEXT_FORMAT))
    return out


def configure_logging(log_format: Literal["json", "text"], level: str = "INFO") -> None:
    """Replace the root logger's handlers with one writing to stdout. Idempotent: the
    `serve` command and each worker process it starts both call it."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler(log_format))
    root.setLevel(level)
    # uvicorn's records reach the root (`serve` gives uvicorn no logging config of its own)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
