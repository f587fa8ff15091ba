"""The engine's metrics move as questions are answered, served from the cache, refused
and failed (read from this process's own metric files)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ragengine import metrics
from ragengine.ask_types import AnswerMode, Channel
from ragengine.llm.registry import reset_providers
from ragengine.llm.resilience import CircuitBreaker
from ragengine.llm.types import ProviderError
from ragengine.models import HardLimitPolicy, ProviderEndpoint, Tier, TierModel
from ragengine.services.ask import ask
from tests.factories import MemberFactory
from tests.metrics_values import own_value
from tests.ragengine.llm.replay_server import ReplayServer, Reply

pytestmark = pytest.mark.django_db

CHAT = "/v1/chat/completions"
QUESTION = "How many vacation days do I get per year?"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    reset_providers()
    monkeypatch.setenv("ARANDU_TEST_OPENAI_API_KEY", "sk-test-fake-key")
    yield
    reset_providers()


def _tier(name: str, server: ReplayServer, **fields) -> Tier:
    endpoint = ProviderEndpoint.objects.create(
        name=f"stub-{name}",
        kind="openai",
        base_url=f"{server.url}/v1",
        api_key_env="ARANDU_TEST_OPENAI_API_KEY",
        max_retries=0,
    )
    tier = Tier.objects.create(name=name, **fields)
    TierModel.objects.create(tier=tier, endpoint=endpoint, model="gpt-4o-mini")
    return tier


def test_a_generated_then_cached_answer_moves_questions_stages_tokens_cost_and_cache(handbook):
    with ReplayServer() as server:
        server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
        tier = _tier("metrics-pro", server)
        member = MemberFactory(tier=tier)
        door = Channel(platform="metrics-door")
        before = {
            "generated": own_value("arandu_questions_total", door="metrics-door", mode="generated"),
            "cached": own_value("arandu_questions_total", door="metrics-door", mode="cached"),
            "tokens_in": own_value("arandu_tokens_total", direction="in"),
            "tokens_out": own_value("arandu_tokens_total", direction="out"),
            "cost": own_value("arandu_cost_total"),
            "hits": own_value("arandu_cache_lookups_total", result="hit"),
            "misses": own_value("arandu_cache_lookups_total", result="miss"),
            "saved": own_value("arandu_cache_saved_cost_total"),
            "generate": own_value("arandu_stage_seconds_count", stage="generate"),
            "total": own_value("arandu_stage_seconds_count", stage="total"),
        }

        first = ask(member=member, question=QUESTION, channel=door)
        second = ask(member=member, question=QUESTION, channel=door)

    assert (first.mode, second.mode) == (AnswerMode.GENERATED, AnswerMode.CACHED)
    delta = lambda key, value: value - before[key]  # noqa: E731
    assert (
        delta(
            "generated",
            own_value(
                "arandu_questions_total", door="metrics-door", mode="generated", tier="metrics-pro"
            ),
        )
        == 1
    )
    assert (
        delta("cached", own_value("arandu_questions_total", door="metrics-door", mode="cached"))
        == 1
    )
    # the cached answer adds no tokens and no cost: only the generated one's count
    assert delta("tokens_in", own_value("arandu_tokens_total", direction="in")) == first.tokens_in
    assert (
        delta("tokens_out", own_value("arandu_tokens_total", direction="out"))
        == first.tokens_out
        == 33
    )
    assert first.tokens_in == 97
    assert own_value("arandu_tokens_total", model=first.model, direction="in") >= 97
    cost = delta("cost", own_value("arandu_cost_total"))
    assert cost == pytest.approx(float(first.cost)) and cost > 0
    assert own_value("arandu_cost_total", model=first.model) >= cost
    assert delta("hits", own_value("arandu_cache_lookups_total", result="hit")) == 1
    assert delta("misses", own_value("arandu_cache_lookups_total", result="miss")) == 1
    # the cached answer saved what the generated one cost
    saved = delta("saved", own_value("arandu_cache_saved_cost_total"))
    assert saved == pytest.approx(float(first.cost))
    assert delta("generate", own_value("arandu_stage_seconds_count", stage="generate")) == 1
    assert delta("total", own_value("arandu_stage_seconds_count", stage="total")) == 2


def test_a_refused_question_is_counted_with_its_mode(db):
    before = own_value("arandu_questions_total", door="metrics-refused", mode="refused")
    answer = ask(member=MemberFactory(), question="hi", channel=Channel(platform="metrics-refused"))
    assert answer.mode == AnswerMode.REFUSED
    after = own_value("arandu_questions_total", door="metrics-refused", mode="refused")
    assert after - before == 1


def test_budget_refusals_and_rate_limits_are_counted_per_tier(handbook):
    with ReplayServer() as server:
        server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
        broke = _tier(
            "metrics-broke",
            server,
            daily_budget=Decimal("0.000001"),
            hard_limit_policy=HardLimitPolicy.REFUSE,
        )
        limited = _tier("metrics-limited", server, questions_per_hour=1)
        refusals = own_value("arandu_budget_refusals_total", tier="metrics-broke")
        limits = own_value("arandu_rate_limited_total", tier="metrics-limited")

        refused = ask(member=MemberFactory(tier=broke), question=QUESTION, channel=Channel())
        asker = MemberFactory(tier=limited)
        ask(member=asker, question=QUESTION, channel=Channel(), use_cache=False)
        over = ask(member=asker, question="Where is the office?", channel=Channel())

    assert refused.mode == AnswerMode.REFUSED
    assert own_value("arandu_budget_refusals_total", tier="metrics-broke") - refusals == 1
    assert over.mode == AnswerMode.REFUSED
    assert own_value("arandu_rate_limited_total", tier="metrics-limited") - limits == 1


def test_provider_errors_and_circuit_state_are_recorded():
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=60, name="metrics-provider")
    errors = own_value("arandu_provider_errors_total", provider="metrics-provider")
    for _ in range(2):
        breaker.allow()
        breaker.record_outcome(
            ProviderError("HTTP 503", provider="metrics-provider", transient=True)
        )

    assert own_value("arandu_provider_errors_total", provider="metrics-provider") - errors == 2
    assert own_value("arandu_provider_circuit_state", provider="metrics-provider") == 2  # open


def test_a_question_that_fails_unexpectedly_is_counted_as_an_error(db, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr("ragengine.services.ask.question_intake", broken)
    before = own_value("arandu_questions_total", door="metrics-error", mode="error")
    with pytest.raises(RuntimeError):
        ask(member=MemberFactory(), question=QUESTION, channel=Channel(platform="metrics-error"))
    assert own_value("arandu_questions_total", door="metrics-error", mode="error") - before == 1


def test_recording_never_breaks_the_work(monkeypatch):
    def broken():
        raise OSError("disk full")

    monkeypatch.setattr(metrics, "instruments", broken)
    metrics.record_rate_limited(tier="any")  # logs, does not raise


def test_ingestion_outcomes_are_counted_failures_included(embedder, tmp_path):
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create

    (tmp_path / "good.md").write_text("# Parking\n\nStaff park on level 2 of the garage.\n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a PDF")
    before = {
        s: own_value("arandu_ingested_documents_total", status=s) for s in ("ingested", "failed")
    }

    report = documents_ingest_paths(
        paths=[tmp_path], knowledge_set=knowledge_set_get_or_create(name="metrics-ingest")
    )

    assert report.count("failed") == 1 and report.count("ingested") == 1
    for status in ("ingested", "failed"):
        after = own_value("arandu_ingested_documents_total", status=status)
        assert after - before[status] == 1
