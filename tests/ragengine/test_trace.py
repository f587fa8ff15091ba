"""The trace collector: records only inside `tracing()`, keeps concurrent traces apart,
and `ask()` reports its decisions into it."""

from __future__ import annotations

import threading

import pytest

from ragengine.ask_types import Channel
from ragengine.trace import trace_record, tracing


def test_nothing_is_recorded_without_an_open_trace():
    trace_record("retrieval", hits=[1])  # no error, no effect
    with tracing() as trace:
        trace_record("retrieval", hits=[1, 2])
    trace_record("retrieval", hits=[3])
    assert trace.all("retrieval") == [{"hits": [1, 2]}]
    assert trace.last("prompt") is None


def test_nested_and_threaded_traces_do_not_mix():
    seen = {}

    def other_thread():
        with tracing() as mine:
            trace_record("x", who="thread")
        seen["thread"] = mine

    with tracing() as outer:
        trace_record("x", who="outer")
        with tracing() as inner:
            trace_record("x", who="inner")
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        trace_record("x", who="outer again")
    assert [d["who"] for d in outer.all("x")] == ["outer", "outer again"]
    assert [d["who"] for d in inner.all("x")] == ["inner"]
    assert [d["who"] for d in seen["thread"].all("x")] == ["thread"]


@pytest.mark.django_db
def test_ask_reports_route_cache_budget_and_ranking(handbook):
    from ragengine.services.ask import ask
    from tests.factories import MemberFactory

    with tracing() as trace:
        answer = ask(
            member=MemberFactory(),
            question="How many vacation days do I get per year?",
            channel=Channel(platform="cli"),
        )
    kinds = [e.kind for e in trace.events]
    assert kinds[:2] == ["route", "cache_rule"]
    assert {"cache_open", "budget", "retrieval", "prompt", "cache_store"} <= set(kinds)
    retrieval = trace.last("retrieval")
    hits = retrieval["hits"]
    assert hits and hits[0].document_id == str(answer.sources[0].document_id)
    assert all(h.similarity >= retrieval["min_similarity"] for h in hits)
    assert trace.last("prompt")["prompt"] is None  # no model: extractive
    assert trace.last("budget")["plan"].reservation is not None
    assert trace.last("cache_store")["stored"] is True

    with tracing() as again:
        repeat = ask(
            member=MemberFactory(),
            question="How many vacation days do I get per year?",
            channel=Channel(platform="cli"),
        )
    assert repeat.mode == "cached"
    assert again.last("cache_hit")["hit"].kind == "exact"
    assert again.last("retrieval") is None and again.last("budget") is None
