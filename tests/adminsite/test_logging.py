"""Log records stay one line whatever they hold, carry their traceback inside, and get
the request id of the work in progress."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from adminsite.logging import JsonLinesFormatter, KeyValueFormatter, RequestIdFilter
from ragengine.request_context import request_scope


def record(message: str, *, exc: bool = False, **extra) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError('bad "value"\nsecond line')
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    item = logging.LogRecord("arandu.test", logging.ERROR, __file__, 1, message, None, exc_info)
    item.__dict__.update(extra)
    return item


def test_key_value_lines_escape_quotes_and_newlines_and_keep_the_traceback_inside():
    line = KeyValueFormatter().format(
        record('asked "what?"\nthen left', exc=True, question='say "hi"\nbye', cost=Decimal("0.5"))
    )

    assert "\n" not in line
    assert 'asked "what?"\\nthen left' in line
    assert 'question="say \\"hi\\"\\nbye"' in line
    assert "cost=0.5" in line
    assert line.rstrip().endswith('"') and ' exc_info="Traceback (most recent call last):' in line
    assert 'ValueError: bad \\"value\\"\\nsecond line' in line


def test_key_value_plain_values_stay_bare_and_empty_ones_are_quoted():
    line = KeyValueFormatter().format(record("ok", mode="cached", channel="", ms=1.5))
    assert "mode=cached" in line and 'channel=""' in line and "ms=1.5" in line


def test_json_lines_are_one_object_per_record_with_the_traceback_as_a_field():
    line = JsonLinesFormatter().format(
        record("door question failed", exc=True, request_id="abc123", cost=Decimal("0.25"))
    )

    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "door question failed"
    assert data["level"] == "ERROR" and data["logger"] == "arandu.test"
    assert data["request_id"] == "abc123" and data["cost"] == "0.25"
    assert data["exc_info"].startswith("Traceback") and "second line" in data["exc_info"]
    assert "time" in data


def test_the_filter_adds_the_bound_request_id_and_door_unless_the_record_has_one():
    bare, own = record("a"), record("b", request_id="from-extra")
    with request_scope("bound-id", door="slack"):
        RequestIdFilter().filter(bare)
        RequestIdFilter().filter(own)
    outside = record("c")
    RequestIdFilter().filter(outside)

    assert (bare.request_id, bare.door) == ("bound-id", "slack")
    assert own.request_id == "from-extra"
    assert not hasattr(outside, "request_id")


def test_settings_choose_the_format_and_put_the_filter_on_the_handler(settings):
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["filters"] == ["request_id"]
    assert handler["formatter"] in settings.LOGGING["formatters"]
