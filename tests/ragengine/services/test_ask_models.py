"""ask() through real provider SDKs against a local replay server: routing, fallback,
budgets and the ledger. No real provider is ever reached."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from ragengine.answers import AnswerMode, Channel, Turn
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
from tests.ragengine.llm.replay_server import ReplayServer, Reply

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
        api_key_env="ARANDU_TEST_OPENAI_KEY",
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
    monkeypatch.setenv("ARANDU_TEST_OPENAI_KEY", "sk-test-fake-key")


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
        # one gpt-4o call: worst case (3000 in, 500 out) $0.0125, real (97 in, 33 out) $0.00057
        daily_budget=Decimal("0.013"),
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
    assert "daily budget of $0.01 is used up" in said and renewal in said
    if policy == HardLimitPolicy.DOWNGRADE:
        assert second.provider == "cheap" and second.model == "gpt-4o-mini-2024-07-18"
        assert len(second_server.requests_to(CHAT)) == 2
    spent = sum(r.cost for r in UsageRecord.objects.filter(member=member))
    assert spent <= Decimal("0.013")
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


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL; the suite runs on it in CI",
)
def test_fifty_concurrent_asks_never_spend_past_the_hard_limit(embedder, handbook_dir, server):
    """Budget covers exactly 10 answers (worst case == real cost): at most 10 are charged."""
    import threading

    from django.db import connection

    knowledge_set = knowledge_set_get_or_create(name="handbook")
    documents_ingest_paths(paths=[handbook_dir], knowledge_set=knowledge_set)
    server.script(CHAT, Reply.from_fixture("openai_chat_completion", delay_s=0.2))
    ModelPrice.objects.create(
        provider_kind="openai",
        model="metered",
        input_per_million=Decimal("0"),
        output_per_million=Decimal("1000"),
    )
    per_answer = Decimal(33) * 1000 / 1_000_000  # the fixture's 33 completion tokens
    tier = tier_with(
        (endpoint_for(server), "metered"),
        max_output_tokens=33,
        daily_budget=per_answer * 10,
        hard_limit_policy=HardLimitPolicy.EXTRACTIVE,
    )
    member = MemberFactory(tier=tier)
    answers = []
    barrier = threading.Barrier(50)

    def one() -> None:
        try:
            barrier.wait()
            answers.append(ask(member=member, question=QUESTION, channel=CLI))
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 50
    charged = UsageRecord.objects.filter(member=member, cost__gt=0)
    assert charged.count() == 10
    assert sum(r.cost for r in UsageRecord.objects.filter(member=member)) == per_answer * 10
    assert sum(a.mode == AnswerMode.GENERATED for a in answers) == 10
    assert sum(a.mode == AnswerMode.EXTRACTIVE for a in answers) == 40


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
