"""Log records, one line per event: JSON lines (ARANDU_LOG_FORMAT=json) for log shippers,
or readable `key=value` text (the default) for a terminal.

Either way a record is one line whatever its message or fields hold (quotes and newlines
are escaped) and a traceback travels inside its record, so a collector never splits an
event or mistakes the rest of a traceback for new records. `RequestIdFilter` puts the
request id of the work in progress (ragengine.request_context) on every record.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from ragengine.request_context import current_door, current_request_id

# Attributes every LogRecord has; anything else came in through `extra=` or a filter.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/@+-,%")


def _quote(value: Any) -> str:
    """A value as one token: bare when it is plain, else a JSON string (quotes, spaces,
    newlines and control characters escaped)."""
    text = str(value)
    if text and all(c in _BARE for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and `door`) of the request, event or task in progress to every
    record that does not bring its own through `extra=`. Set on the handler, so records
    of every logger (Django's, libraries') get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            request_id = current_request_id()
            if request_id:
                record.request_id = request_id
        if not getattr(record, "door", "") and (door := current_door()):
            record.door = door
        return True


class KeyValueFormatter(logging.Formatter):
    """`time LEVEL logger message key=value …`, with the traceback as an escaped
    `exc_info="…"` field at the end of the same line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        line = _one_line(f"{self.formatTime(record)} {record.levelname} {record.name} ")
        line += _one_line(record.message)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if fields:
            line += " " + " ".join(f"{k}={_quote(v)}" for k, v in sorted(fields.items()))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += f" exc_info={_quote(record.exc_text)}"
        if record.stack_info:
            line += f" stack_info={_quote(record.stack_info)}"
        return line


class JsonLinesFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, every `extra=` field, and
    `exc_info` (the traceback as one string) when there is one."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
