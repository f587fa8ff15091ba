"""ask() through real provider SDKs against a local replay server: routing, fallback,
budgets and the ledger. No real provider is ever reached."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from ragengine.ask_types import AnswerMode, Channel, Turn
from ragengine.llm.registry import reset_providers
from ragengine.models import (
    HardLimitPolicy,
    ModelPrice,
    ProviderEndpoint,
    Tier,
    TierModel,
    UsageRecord,
)
from ragengine.services.ask import ALL_DOWN_NOTICE, ask
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from tests.factories import MemberFactory
from tests.ragengine.llm.replay_server import ReplayServer, Reply, load_fixture

pytestmark = pytest.mark.django_db

CHAT = "/v1/chat/completions"
CLI = Channel(platform="cli")
QUESTION = "How many vacation days do I get per year?"


@pytest.fixture(autouse=True)
def _no_answer_cache(settings):
    """These tests ask the same question again and again to exercise routing and budgets;
    the cache (tested in test_ask_cache.py) would answer the repeats."""
    from ragengine.models import CacheRule

    CacheRule.objects.update(enabled=False)
    settings.ARANDU_CACHE_DEFAULT_TTL = 0


@pytest.fixture(autouse=True)
def _fresh_providers():
    reset_providers()
    yield
    reset_providers()


@pytest.fixture
def server():
    with ReplayServer() as replay:
        yield replay


@pytest.fixture
def second_server():
    with ReplayServer() as replay:
        yield replay


def endpoint_for(server: ReplayServer, name: str = "stub", **kwargs) -> ProviderEndpoint:
    return ProviderEndpoint.objects.create(
        name=name,
        kind="openai",
        base_url=f"{server.url}/v1",
        api_key_env="ARANDU_TEST_OPENAI_API_KEY",
        max_retries=kwargs.pop("max_retries", 0),
        timeout_s=kwargs.pop("timeout_s", 5.0),
        **kwargs,
    )


def tier_with(*steps: tuple[ProviderEndpoint, str], **fields) -> Tier:
    tier = Tier.objects.create(name=fields.pop("name", "Pro"), **fields)
    for position, (endpoint, model) in enumerate(steps):
        TierModel.objects.create(tier=tier, position=position, endpoint=endpoint, model=model)
    return tier


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("ARANDU_TEST_OPENAI_API_KEY", "sk-test-fake-key")


# The "metered" model: output only, $1000 per 1M tokens; the fixture's answer has 33.
PER_ANSWER = Decimal(33) * 1000 / 1_000_000


def metered_tier(server: ReplayServer, *, answers: int, **fields) -> Tier:
    """A tier whose daily budget pays exactly `answers` fixture answers."""
    ModelPrice.objects.get_or_create(
        provider_kind="openai",
        model="metered",
        defaults={"input_per_million": Decimal("0"), "output_per_million": Decimal("1000")},
    )
    fields.setdefault("max_output_tokens", 33)  # worst case == real cost
    return tier_with(
        (endpoint_for(server), "metered"),
        daily_budget=PER_ANSWER * answers,
        hard_limit_policy=HardLimitPolicy.EXTRACTIVE,
        **fields,
    )


def charged(member) -> Decimal:
    return sum((r.cost for r in UsageRecord.objects.filter(member=member)), Decimal("0"))


def test_without_models_answers_are_extractive_and_free(handbook):
    member = MemberFactory()
    answer = ask(member=member, question=QUESTION, channel=CLI)

    assert answer.mode == AnswerMode.EXTRACTIVE
    row = UsageRecord.objects.get(member=member)
    assert (row.mode, row.cost, row.status) == ("extractive", Decimal("0"), "settled")


def test_generated_answer_goes_through_the_tier_model_and_is_accounted(handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = tier_with((endpoint_for(server), "gpt-4o-mini"), max_output_tokens=256)
    member = MemberFactory(tier=tier)

    answer = ask(member=member, question=QUESTION, channel=CLI)

    assert answer.mode == AnswerMode.GENERATED
    assert answer.text.startswith("Full-time employees accrue")
    assert answer.sources and answer.sources[0].number == 1
    assert (answer.tokens_in, answer.tokens_out) == (97, 33)
    price = ModelPrice.objects.get(provider_kind="openai", model="gpt-4o-mini")
    expected = (97 * price.input_per_million + 33 * price.output_per_million) / 1_000_000
    assert answer.cost == expected > 0

    (sent,) = server.requests_to(CHAT)
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.json["max_tokens"] == 256
    assert sent.headers["authorization"] == "Bearer sk-test-fake-key"
    system, *rest = sent.json["messages"]
    assert (
        system["role"] == "system" and "Answer ONLY from the numbered sources" in system["content"]
    )
    assert QUESTION in rest[-1]["content"]
    assert "25 working days" in rest[-1]["content"]  # the retrieved source went in

    row = UsageRecord.objects.get(member=member)
    assert (row.mode, row.model, row.tokens_in, row.tokens_out) == (
        "generated",
        "gpt-4o-mini-2024-07-18",
        97,
        33,
    )
    assert row.cost == expected and row.reserved == 0 and row.status == "settled"
    assert row.arm == "A"

    report = StringIO()
    call_command("costreport", "--period", "day", "--by", "model", stdout=report)
    assert "stub:gpt-4o-mini-2024-07-18" in report.getvalue()
    assert "97" in report.getvalue() and "33" in report.getvalue()


def test_thread_history_reaches_the_model_without_unreadable_characters(handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = tier_with((endpoint_for(server), "gpt-4o-mini"), max_output_tokens=256)
    history = [
        Turn("user", "Do interns get vacation days \ud83d too?\x00"),
        Turn("assistant", "Interns get\x1b 10 days\x7f [1]."),
    ]

    answer = ask(member=MemberFactory(tier=tier), question=QUESTION, channel=CLI, history=history)

    assert answer.mode == AnswerMode.GENERATED
    (sent,) = server.requests_to(CHAT)
    prompt = json.dumps(sent.json["messages"], ensure_ascii=False)
    assert "Do interns get vacation days \ufffd too?" in prompt
    assert "Interns get 10 days." in prompt  # (old answers lose their [n] markers)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", prompt)


def test_server_error_falls_back_to_the_next_model_with_a_notice(handbook, server, second_server):
    server.script(CHAT, Reply.from_fixture("openai_error_500"))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = tier_with(
        (endpoint_for(server, "primary"), "gpt-4o"),
        (endpoint_for(second_server, "backup"), "gpt-4o-mini"),
    )

    answer = ask(member=MemberFactory(tier=tier), question=QUESTION, channel=CLI)

    assert answer.mode == AnswerMode.GENERATED
    assert answer.provider == "backup"
    assert any("gpt-4o did not answer" in n for n in answer.notices)
    assert len(server.requests_to(CHAT)) == 1 and len(second_server.requests_to(CHAT)) == 1


def test_timeout_falls_back(handbook, server, second_server):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion", delay_s=2.0))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = tier_with(
        (endpoint_for(server, "slow", timeout_s=0.3), "gpt-4o"),
        (endpoint_for(second_server, "backup"), "gpt-4o-mini"),
    )

    answer = ask(member=MemberFactory(tier=tier), question=QUESTION, channel=CLI)

    assert answer.provider == "backup"


def test_open_circuit_skips_a_failing_provider_without_calling_it(handbook, server, second_server):
    server.script(CHAT, Reply.from_fixture("openai_error_500"))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = tier_with(
        (endpoint_for(server, "flaky"), "gpt-4o"),
        (endpoint_for(second_server, "backup"), "gpt-4o-mini"),
    )
    member = MemberFactory(tier=tier)
    for _ in range(5):  # the breaker's failure threshold
        ask(member=member, question=QUESTION, channel=CLI)
    calls = len(server.requests_to(CHAT))

    answer = ask(member=member, question=QUESTION, channel=CLI)

    assert answer.provider == "backup"
    assert len(server.requests_to(CHAT)) == calls  # failed fast, never sent


def test_every_provider_down_gives_an_extractive_answer_with_a_notice(handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_error_500"))
    tier = tier_with((endpoint_for(server), "gpt-4o-mini"))
    member = MemberFactory(tier=tier)

    answer = ask(member=member, question=QUESTION, channel=CLI)

    assert answer.mode == AnswerMode.EXTRACTIVE
    assert ALL_DOWN_NOTICE in answer.notices
    assert "25 working days" in answer.text
    assert UsageRecord.objects.get(member=member).cost == 0


def test_unreachable_provider_falls_back_too(handbook, server):
    endpoint = endpoint_for(server)
    url = endpoint.base_url
    server.stop()  # "killing the stub"
    endpoint.base_url = url
    tier = tier_with((endpoint, "gpt-4o-mini"))

    answer = ask(member=MemberFactory(tier=tier), question=QUESTION, channel=CLI)

    assert answer.mode == AnswerMode.EXTRACTIVE
    assert ALL_DOWN_NOTICE in answer.notices


def _spend_one_answer(member, server) -> None:
    ask(member=member, question=QUESTION, channel=CLI)
    assert server.requests_to(CHAT)


@pytest.mark.parametrize(
    "policy, expected_mode",
    [
        (HardLimitPolicy.REFUSE, AnswerMode.REFUSED),
        (HardLimitPolicy.EXTRACTIVE, AnswerMode.EXTRACTIVE),
        (HardLimitPolicy.DOWNGRADE, AnswerMode.GENERATED),
    ],
)
def test_hard_limit_policies(handbook, server, second_server, policy, expected_mode):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    cheap = endpoint_for(second_server, "cheap")
    ModelPrice.objects.create(provider_kind="openai", model="free-local", input_per_million=0)
    tier = tier_with(
        (endpoint_for(server), "gpt-4o"),
        # one gpt-4o call: worst case (3000 in, 500 out) $0.0125, real (97 in, 33 out)
        # $0.00057; the budget pays a full prompt and 150 tokens out once, then less than
        # the floor of 100 tokens
        daily_budget=Decimal("0.009"),
        hard_limit_policy=policy,
        downgrade_endpoint=cheap,
        downgrade_model="free-local",
    )
    member = MemberFactory(tier=tier)
    first = ask(member=member, question=QUESTION, channel=CLI)
    assert first.mode == AnswerMode.GENERATED and first.provider == "stub"

    second = ask(member=member, question=QUESTION, channel=CLI)
    third = ask(member=member, question=QUESTION, channel=CLI)

    assert second.mode == expected_mode, second.text
    renewal = "renews at 00:00 tomorrow (UTC)"
    said = second.text + " ".join(second.notices)
    assert "daily budget of $0.0090 is used up" in said and renewal in said
    if policy == HardLimitPolicy.DOWNGRADE:
        assert second.provider == "cheap" and second.model == "gpt-4o-mini-2024-07-18"
        assert len(second_server.requests_to(CHAT)) == 2
    spent = sum(r.cost for r in UsageRecord.objects.filter(member=member))
    assert spent <= Decimal("0.009")
    assert third.mode == expected_mode


def test_soft_limit_adds_a_notice(handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = tier_with(
        (endpoint_for(server), "gpt-4o-mini"), daily_budget=Decimal("0.001"), soft_limit_percent=1
    )
    member = MemberFactory(tier=tier)
    ask(member=member, question=QUESTION, channel=CLI)

    answer = ask(member=member, question=QUESTION, channel=CLI)

    assert any("of your daily budget" in n for n in answer.notices), answer.notices


def test_rate_limit_says_when_to_ask_again_and_charges_nothing(handbook):
    tier = Tier.objects.create(name="Limited", questions_per_hour=2)
    member = MemberFactory(tier=tier)
    for _ in range(2):
        assert ask(member=member, question=QUESTION, channel=CLI).mode == AnswerMode.EXTRACTIVE

    answer = ask(member=member, question=QUESTION, channel=CLI)

    assert answer.mode == AnswerMode.REFUSED
    assert "2 questions per hour" in answer.text and "ask again at" in answer.text
    assert UsageRecord.objects.filter(member=member).count() == 2


def test_ab_split_sends_the_b_arm_to_the_b_model(handbook, server, second_server):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = tier_with(
        (endpoint_for(server, "arm-a"), "gpt-4o-mini"),
        ab_endpoint=endpoint_for(second_server, "arm-b"),
        ab_model="gpt-4.1-mini",
        ab_percent=100,
    )
    member = MemberFactory(tier=tier)

    answer = ask(member=member, question=QUESTION, channel=CLI)

    assert answer.provider == "arm-b"
    assert second_server.requests_to(CHAT)[0].json["model"] == "gpt-4.1-mini"
    assert UsageRecord.objects.get(member=member).arm == "B"


def _ask_concurrently(member, count: int) -> list:
    import threading

    from django.db import connection

    answers = []
    barrier = threading.Barrier(count)

    def one() -> None:
        try:
            barrier.wait()
            answers.append(ask(member=member, question=QUESTION, channel=CLI))
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _concurrency_tier(server, *, max_output_tokens: int) -> Tier:
    ModelPrice.objects.create(
        provider_kind="openai",
        model="metered",
        input_per_million=Decimal("0"),
        output_per_million=Decimal("1000"),
    )
    tier = tier_with(
        (endpoint_for(server), "metered"),
        max_output_tokens=max_output_tokens,
        daily_budget=PER_ANSWER * 10,  # exactly 10 of the fixture's answers
        hard_limit_policy=HardLimitPolicy.EXTRACTIVE,
    )
    tier.min_output_tokens = 16  # the smallest answer worth a call
    tier.save()
    return tier


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL; the suite runs on it in CI",
)
@pytest.mark.parametrize("max_output_tokens", [33, 47])
def test_fifty_concurrent_asks_use_the_budget_and_never_spend_past_the_hard_limit(
    embedder, handbook_dir, server, max_output_tokens
):
    """A budget for exactly 10 answers. With max output == the real answer (33 tokens)
    the worst case is the real cost; with 47 it is 42 % more, which used to leave 3 of
    the 10 answers unpaid (7 charged): at least 9 must be, and never a cent over."""
    knowledge_set = knowledge_set_get_or_create(name="handbook")
    documents_ingest_paths(paths=[handbook_dir], knowledge_set=knowledge_set)
    # Each answer takes longer than the 50 questions take to arrive: they all meet the
    # budget while the first calls are in flight.
    server.script(CHAT, Reply.from_fixture("openai_chat_completion", delay_s=1.0))
    member = MemberFactory(tier=_concurrency_tier(server, max_output_tokens=max_output_tokens))

    answers = _ask_concurrently(member, 50)

    assert len(answers) == 50
    paid = UsageRecord.objects.filter(member=member, cost__gt=0).count()
    assert 9 <= paid <= 10
    assert charged(member) == PER_ANSWER * paid <= PER_ANSWER * 10
    assert sum(a.mode == AnswerMode.GENERATED for a in answers) == paid
    assert sum(a.mode == AnswerMode.EXTRACTIVE for a in answers) == 50 - paid


def test_near_the_limit_the_output_is_capped_so_the_last_affordable_answer_comes(handbook, server):
    """Sequentially, a budget for exactly 10 answers gives 10: the last call's output is
    capped to what is left (33 tokens instead of 47), then the policy applies."""
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    member = MemberFactory(tier=_concurrency_tier(server, max_output_tokens=47))

    answers = [ask(member=member, question=QUESTION, channel=CLI) for _ in range(11)]

    assert [a.mode for a in answers] == ["generated"] * 10 + ["extractive"]
    assert charged(member) == PER_ANSWER * 10
    sent = [r.json["max_tokens"] for r in server.requests_to(CHAT)]
    assert sent == [47] * 9 + [33]
    assert "daily budget of $0.33 is used up" in " ".join(answers[-1].notices)


def test_below_the_floor_the_hard_limit_policy_applies(handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = _concurrency_tier(server, max_output_tokens=47)
    tier.min_output_tokens = 40  # more than the 33 tokens the last answer could pay
    tier.save()
    member = MemberFactory(tier=tier)

    answers = [ask(member=member, question=QUESTION, channel=CLI) for _ in range(10)]

    assert [a.mode for a in answers] == ["generated"] * 9 + ["extractive"]
    assert charged(member) == PER_ANSWER * 9


def test_on_text_streams_the_answer_so_far_and_the_result_is_accounted(handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_chat_stream"))
    tier = tier_with((endpoint_for(server), "gpt-4o-mini"), max_output_tokens=256)
    member = MemberFactory(tier=tier)
    seen: list[str] = []

    answer = ask(
        member=member, question=QUESTION, channel=CLI, request_id="door-req-1", on_text=seen.append
    )

    (sent,) = server.requests_to(CHAT)
    assert sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}
    assert len(seen) >= 3
    assert all(b.startswith(a) and len(b) > len(a) for a, b in zip(seen, seen[1:], strict=False))
    assert answer.mode == AnswerMode.GENERATED
    assert answer.text.startswith(seen[-1][:20])
    assert answer.request_id == "door-req-1"
    row = UsageRecord.objects.get(member=member)
    assert row.request_id == "door-req-1"
    assert (row.tokens_in, row.tokens_out) == (answer.tokens_in, answer.tokens_out)
    assert row.tokens_out > 0 and row.cost > 0


def test_a_failing_stream_falls_back_and_a_broken_sink_loses_nothing(
    handbook, server, second_server
):
    server.script(CHAT, Reply.from_fixture("openai_error_500"))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_stream"))
    tier = tier_with(
        (endpoint_for(server, name="first"), "gpt-4o-mini"),
        (endpoint_for(second_server, name="second"), "gpt-4o-mini"),
    )
    calls: list[str] = []

    def broken_sink(text: str) -> None:
        calls.append(text)
        raise RuntimeError("chat.update failed")

    answer = ask(
        member=MemberFactory(tier=tier), question=QUESTION, channel=CLI, on_text=broken_sink
    )

    assert answer.mode == AnswerMode.GENERATED
    assert answer.provider == "second"
    assert calls  # the sink was called (and failed) without losing the answer
    assert any("did not answer" in n for n in answer.notices)


# --- money: what a paid call costs is settled before anything else can fail ----------------


def test_a_failing_cache_write_after_a_paid_call_is_charged_and_the_answer_still_comes(
    handbook, server, settings, monkeypatch, caplog
):
    settings.ARANDU_CACHE_DEFAULT_TTL = 3600  # this test needs the cache on
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    member = MemberFactory(tier=metered_tier(server, answers=2))

    def broken_store(**kwargs):
        raise RuntimeError("cache backend exploded")

    monkeypatch.setattr("ragengine.cache.question.cache_store", broken_store)
    questions = [QUESTION, "What is the vacation policy?", "How do I book vacation days?"]

    answers = [ask(member=member, question=q, channel=CLI) for q in questions]

    assert [a.mode for a in answers] == ["generated", "generated", "extractive"]
    assert len(server.requests_to(CHAT)) == 2  # the budget paid for two calls, no more
    assert charged(member) == 2 * PER_ANSWER
    assert any("not cached" in r.getMessage() for r in caplog.records)


def test_any_failure_after_a_paid_call_settles_its_real_cost_never_zero(
    handbook, server, monkeypatch
):
    """A budget for 2 answers and a failure after every model call (here: rendering the
    citations) must still mean at most 2 paid calls, each charged."""
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    member = MemberFactory(tier=metered_tier(server, answers=2))

    def broken_rendering(text, hits):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr("ragengine.services.document_answers.cited_sources", broken_rendering)
    failures = 0
    for _ in range(5):
        try:
            ask(member=member, question=QUESTION, channel=CLI)
        except RuntimeError:
            failures += 1

    assert failures == 5  # the error still reaches the caller
    assert len(server.requests_to(CHAT)) == 2
    assert charged(member) == 2 * PER_ANSWER
    paid = UsageRecord.objects.filter(member=member, cost__gt=0)
    assert [(r.status, r.tokens_in, r.tokens_out) for r in paid] == [("settled", 97, 33)] * 2


class Interrupted(BaseException):
    """Not an Exception: e.g. the worker being shut down while the answer streams."""


def test_a_stream_interrupted_after_text_arrived_is_charged_for_that_text(handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_chat_stream"))
    member = MemberFactory(tier=metered_tier(server, answers=10, max_output_tokens=256))

    def sink(text: str) -> None:
        if len(text) > 40:
            raise Interrupted

    with pytest.raises(Interrupted):
        ask(member=member, question=QUESTION, channel=CLI, on_text=sink)

    row = UsageRecord.objects.get(member=member)
    assert row.status == "settled"
    assert row.tokens_in > 0 and row.tokens_out > 0  # estimated: the usage chunk never came
    assert row.cost == Decimal(row.tokens_out) * 1000 / 1_000_000 > 0


def test_a_stream_that_breaks_mid_answer_is_charged_with_the_fallback(
    handbook, server, second_server
):
    """Tokens a provider streamed before failing are billed by it: they are charged (an
    estimate from the text received), plus the model that then answered."""
    events = load_fixture("openai_chat_stream")["response"]["sse"]
    broken = [*events[:8], {"error": {"message": "overloaded", "type": "server_error"}}]
    server.script(CHAT, Reply(sse=broken))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_stream"))
    ModelPrice.objects.create(
        provider_kind="openai",
        model="metered",
        input_per_million=Decimal("0"),
        output_per_million=Decimal("1000"),
    )
    tier = tier_with(
        (endpoint_for(server, "first"), "metered"),
        (endpoint_for(second_server, "second"), "metered"),
        max_output_tokens=256,
    )
    member = MemberFactory(tier=tier)

    answer = ask(member=member, question=QUESTION, channel=CLI, on_text=lambda text: None)

    assert answer.provider == "second"
    full = Decimal(answer.tokens_out) * 1000 / 1_000_000
    row = UsageRecord.objects.get(member=member)
    assert row.cost == answer.cost > full  # the broken stream's tokens are in it
    assert row.tokens_out > answer.tokens_out


@pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql",
    reason="only PostgreSQL refuses NUL characters in text",
)
def test_a_nul_byte_that_breaks_the_cache_store_on_postgresql_is_still_charged(
    handbook, server, settings, monkeypatch
):
    """The reported case: 5 paid calls charged at 0. Input validation may refuse NUL
    bytes, so it is bypassed here: the money rule must hold whatever reaches the store."""
    settings.ARANDU_CACHE_DEFAULT_TTL = 3600
    monkeypatch.setattr("ragengine.services.questions.question_validate", lambda *, question: None)
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    member = MemberFactory(tier=metered_tier(server, answers=2))
    outcomes = []
    for _ in range(5):
        try:
            outcomes.append(ask(member=member, question=f"{QUESTION}\x00", channel=CLI).mode)
        except Exception as exc:  # noqa: BLE001 - the starting code raised here
            outcomes.append(type(exc).__name__)

    assert outcomes == ["generated"] * 2 + ["extractive"] * 3
    assert len(server.requests_to(CHAT)) == 2
    assert charged(member) == 2 * PER_ANSWER


# --- time: every model call ends before its reservation stops counting ---------------------


def test_a_slow_stream_is_stopped_at_the_deadline_and_charged_for_what_came(
    handbook, server, second_server, settings
):
    """A model trickling its answer (~4 s here) never trips a per-read timeout; the
    question's deadline (counted from its reservation) stops it, and no fallback starts
    once it has passed."""
    settings.ARANDU_MODEL_DEADLINE_S = 0.5
    server.script(CHAT, Reply.from_fixture("openai_chat_stream", trickle_s=0.1))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_stream"))
    ModelPrice.objects.create(
        provider_kind="openai", model="metered", output_per_million=Decimal("1000")
    )
    tier = tier_with(
        (endpoint_for(server, "slow"), "metered"),
        (endpoint_for(second_server, "backup"), "metered"),
        max_output_tokens=256,
    )
    member = MemberFactory(tier=tier)
    seen: list[str] = []

    started = time.monotonic()
    answer = ask(member=member, question=QUESTION, channel=CLI, on_text=seen.append)

    assert time.monotonic() - started < 2.5
    assert answer.mode == AnswerMode.EXTRACTIVE and ALL_DOWN_NOTICE in answer.notices
    assert seen, "some text had streamed in"
    assert second_server.requests_to(CHAT) == []
    row = UsageRecord.objects.get(member=member)
    assert row.status == "settled" and row.tokens_out > 0 and row.cost > 0


def test_retries_and_fallbacks_share_one_deadline(handbook, server, second_server, settings):
    settings.ARANDU_MODEL_DEADLINE_S = 0.6
    server.script(CHAT, Reply.from_fixture("openai_chat_completion", trickle_s=0.1))
    second_server.script(CHAT, Reply.from_fixture("openai_chat_completion", trickle_s=0.1))
    tier = tier_with(
        (endpoint_for(server, "slow", max_retries=3), "gpt-4o-mini"),
        (endpoint_for(second_server, "slower", max_retries=3), "gpt-4o-mini"),
    )

    started = time.monotonic()
    answer = ask(member=MemberFactory(tier=tier), question=QUESTION, channel=CLI)

    assert time.monotonic() - started < 2.5
    assert answer.mode == AnswerMode.EXTRACTIVE
    assert len(server.requests_to(CHAT)) + len(second_server.requests_to(CHAT)) <= 2


def test_a_reservation_left_by_a_dead_process_is_named_as_such_then_swept(
    handbook, server, settings
):
    """A process killed mid-question leaves its reservation holding the budget. The
    member is told what blocks (not "used up"), without waiting for a call that can no
    longer be running, and once the reservation has outlived every possible call the
    budget is theirs again and the sweep marks the row abandoned."""
    from datetime import timedelta

    from django.utils import timezone

    from ragengine.services.budgets import usage_sweep

    settings.ARANDU_MODEL_DEADLINE_S = 60  # a reservation then lives 3 minutes
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = metered_tier(server, answers=2)
    member = MemberFactory(tier=tier)
    dead = UsageRecord.objects.create(
        member=member, tier=tier, reserved=PER_ANSWER * 2, request_id="killed"
    )
    UsageRecord.objects.filter(pk=dead.pk).update(
        created_at=timezone.now() - timedelta(seconds=90)  # past its deadline
    )

    started = time.monotonic()
    blocked = ask(member=member, question=QUESTION, channel=CLI)

    assert time.monotonic() - started < 5
    said = " ".join(blocked.notices)
    assert blocked.mode == AnswerMode.EXTRACTIVE and server.requests_to(CHAT) == []
    assert "used up" not in said and "held by 1 unfinished question" in said

    UsageRecord.objects.filter(pk=dead.pk).update(
        created_at=timezone.now() - timedelta(seconds=181)
    )
    assert usage_sweep() == 1
    again = ask(member=member, question=QUESTION, channel=CLI)

    assert again.mode == AnswerMode.GENERATED
    assert UsageRecord.objects.get(pk=dead.pk).status == "abandoned"
