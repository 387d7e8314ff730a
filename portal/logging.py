"""Structured JSON logs. Records carry ids and reference numbers, never patient data."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed in ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key != "request":
                payload[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class ScrubQueryStringFilter(logging.Filter):
    """Drop query strings from logged request lines and messages.

    Deep links such as ``/refer/?mrn=…&name=…`` carry patient data in the query
    string; Django's request and server loggers would otherwise write it out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_strip_query(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _strip_query(record.msg)
        if "request" in vars(record):
            record.request = None
        return True


def _strip_query(text: str) -> str:
    # "GET /refer/?mrn=123 HTTP/1.1" -> "GET /refer/?… HTTP/1.1"
    out = []
    for part in text.split(" "):
        if "?" in part and ("/" in part.split("?", 1)[0]):
            part = part.split("?", 1)[0] + "?…"
        out.append(part)
    return " ".join(out)
