"""The answer cache as ask() uses it: served, accounted, scoped, invalidated."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from ragengine.ask_types import AnswerMode, Channel, Turn
from ragengine.llm.registry import reset_providers
from ragengine.models import ProviderEndpoint, Tier, TierModel, UsageRecord
from ragengine.services.ask import ask
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from tests.factories import MemberFactory
from tests.ragengine.llm.replay_server import ReplayServer, Reply

pytestmark = pytest.mark.django_db

CHAT = "/v1/chat/completions"
CLI = Channel(platform="cli")
QUESTION = "How many vacation days do I get per year?"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    reset_providers()
    monkeypatch.setenv("ARANDU_TEST_OPENAI_API_KEY", "sk-test-fake-key")
    yield
    reset_providers()


@pytest.fixture
def model_tier():
    with ReplayServer() as server:
        server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
        endpoint = ProviderEndpoint.objects.create(
            name="stub",
            kind="openai",
            base_url=f"{server.url}/v1",
            api_key_env="ARANDU_TEST_OPENAI_API_KEY",
            max_retries=0,
        )
        tier = Tier.objects.create(name="Pro")
        TierModel.objects.create(tier=tier, endpoint=endpoint, model="gpt-4o-mini")
        yield tier, server


def test_second_identical_question_comes_from_the_cache_free_and_says_so(handbook, model_tier):
    tier, server = model_tier
    member = MemberFactory(tier=tier)
    first = ask(member=member, question=QUESTION, channel=CLI)

    second = ask(member=member, question="  how many VACATION days do i get per year ", channel=CLI)

    assert first.mode == AnswerMode.GENERATED
    assert second.mode == AnswerMode.CACHED
    assert second.text == first.text
    assert [s.title for s in second.sources] == [s.title for s in first.sources]
    assert any("cache" in n for n in second.notices)
    assert len(server.requests_to(CHAT)) == 1
    rows = list(UsageRecord.objects.filter(member=member).order_by("created_at"))
    assert [r.mode for r in rows] == ["generated", "cached"]
    assert rows[1].cost == 0 and rows[1].cost_saved == rows[0].cost > 0
    assert second.timings_ms["total"] < first.timings_ms["total"]


def test_a_document_change_means_the_next_answer_is_rebuilt(handbook, model_tier, handbook_dir):
    tier, server = model_tier
    member = MemberFactory(tier=tier)
    ask(member=member, question=QUESTION, channel=CLI)
    page = handbook_dir / "employee-handbook.md"
    page.write_text(page.read_text() + "\n\nUpdated: vacation requests now go through Workday.\n")
    documents_ingest_paths(paths=[handbook_dir], knowledge_set=handbook)

    again = ask(member=member, question=QUESTION, channel=CLI)

    assert again.mode == AnswerMode.GENERATED
    assert len(server.requests_to(CHAT)) == 2


def test_never_cache_rule_and_ttl_edits_apply_immediately(handbook):
    from ragengine.cache import cache_rule_for
    from ragengine.models import CachedAnswer

    member = MemberFactory()
    realtime = "What is the cafeteria menu today?"
    assert cache_rule_for(question=realtime).ttl_seconds is None or (
        cache_rule_for(question=realtime).ttl_seconds <= 300
    )
    ask(member=member, question=QUESTION, channel=CLI)
    entry = CachedAnswer.objects.get()
    rule = entry.rule
    assert rule is not None
    assert (entry.expires_at - entry.created_at).total_seconds() == rule.ttl_seconds
    assert ask(member=member, question=QUESTION, channel=CLI).mode == AnswerMode.CACHED

    rule.ttl_seconds = 120  # edited in admin
    rule.save()
    other = "How many vacation days can I carry over?"
    assert cache_rule_for(question=other).rule == rule
    ask(member=member, question=other, channel=CLI)
    stored = CachedAnswer.objects.get(question=other)
    assert (stored.expires_at - stored.created_at).total_seconds() == 120

    rule.never_cache = True
    rule.save()
    third = "How many vacation days are lost after March?"
    assert cache_rule_for(question=third).rule == rule
    ask(member=member, question=third, channel=CLI)
    assert ask(member=member, question=third, channel=CLI).mode == AnswerMode.EXTRACTIVE
    assert not CachedAnswer.objects.filter(question=third).exists()


def test_askers_with_other_knowledge_sets_never_get_the_cached_answer(handbook, tmp_path):
    other = knowledge_set_get_or_create(name="engineering")
    (tmp_path / "ops.md").write_text(
        "# Ops\n\nVacation days for on-call staff: ask the SRE lead.\n"
    )
    documents_ingest_paths(paths=[tmp_path / "ops.md"], knowledge_set=other)
    member = MemberFactory()
    hr = Channel(platform="slack", channel_id="C1", knowledge_sets=("handbook",))
    eng = Channel(platform="slack", channel_id="C2", knowledge_sets=("engineering",))
    ask(member=member, question=QUESTION, channel=hr)

    answer = ask(member=member, question=QUESTION, channel=eng)

    assert answer.mode != AnswerMode.CACHED
    assert "25 working days" not in answer.text


def test_follow_ups_are_not_served_from_the_cache(handbook):
    member = MemberFactory()
    history = [Turn("user", "Qual é o limite de hospedagem em viagens a trabalho?")]
    ask(member=member, question="e nas capitais?", channel=CLI, history=history)
    other_thread = [Turn("user", "Quanto é o vale-refeição por dia?")]

    answer = ask(member=member, question="e nas capitais?", channel=CLI, history=other_thread)

    assert answer.mode != AnswerMode.CACHED


def test_degraded_answers_are_not_cached_for_the_model_scope(handbook):
    with ReplayServer() as server:
        server.script(CHAT, Reply.from_fixture("openai_error_500"))
        endpoint = ProviderEndpoint.objects.create(
            name="down", kind="openai", base_url=f"{server.url}/v1", max_retries=0
        )
        tier = Tier.objects.create(name="Pro")
        TierModel.objects.create(tier=tier, endpoint=endpoint, model="gpt-4o-mini")
        member = MemberFactory(tier=tier)
        first = ask(member=member, question=QUESTION, channel=CLI)
        second = ask(member=member, question=QUESTION, channel=CLI)
    assert first.mode == second.mode == AnswerMode.EXTRACTIVE  # fallback, twice


@pytest.mark.parametrize("counts", [True, False])
def test_cache_hits_count_toward_the_quota_only_if_the_tier_says_so(handbook, counts):
    tier = Tier.objects.create(
        name="Limited", questions_per_hour=1, cache_hits_count_toward_quota=counts
    )
    member = MemberFactory(tier=tier)
    ask(member=member, question=QUESTION, channel=CLI)

    repeat = ask(member=member, question=QUESTION, channel=CLI)

    if counts:
        assert repeat.mode == AnswerMode.REFUSED and "questions per hour" in repeat.text
    else:
        assert repeat.mode == AnswerMode.CACHED
        row = UsageRecord.objects.filter(member=member, mode="cached").get()
        assert row.counts_toward_quota is False and row.cost == Decimal("0")


def test_semantic_hit_serves_a_paraphrase_and_names_the_cached_question(handbook, settings):
    member = MemberFactory()
    ask(member=member, question="How many vacation days do I get?", channel=CLI)

    paraphrase = ask(member=member, question="How many vacation days will I get?", channel=CLI)
    near_miss = ask(member=member, question="How many sick days do I get?", channel=CLI)

    assert paraphrase.mode == AnswerMode.CACHED
    assert "similar question" in paraphrase.notices[0]
    assert near_miss.mode != AnswerMode.CACHED

    settings.ARANDU_CACHE_SEMANTIC_THRESHOLD = 0.999  # an admin can make it exact-only
    assert (
        ask(member=member, question="How many vacation days could I get?", channel=CLI).mode
        != AnswerMode.CACHED
    )


def test_the_paraphrase_threshold_is_the_embedders_unless_the_operator_set_one(
    handbook, settings, monkeypatch
):
    """Unset, ask() uses the threshold measured for the configured embedder (here made
    exact-only for MiniLM, the tests' embedder); set, the operator's wins."""
    from ragengine.retrieval import similarity_scale

    member = MemberFactory()
    settings.ARANDU_CACHE_SEMANTIC_THRESHOLD = None
    exact_only = dataclasses.replace(
        similarity_scale.similarity_scale(handbook_embedder_name()), cache_paraphrase=0.999
    )
    monkeypatch.setitem(similarity_scale._SCALES, handbook_embedder_name(), exact_only)
    ask(member=member, question="How many vacation days do I get?", channel=CLI)

    reworded = ask(member=member, question="How many vacation days will I get?", channel=CLI)
    settings.ARANDU_CACHE_SEMANTIC_THRESHOLD = 0.5
    operators = ask(member=member, question="How many vacation days could I get?", channel=CLI)

    assert reworded.mode != AnswerMode.CACHED
    assert operators.mode == AnswerMode.CACHED


def handbook_embedder_name() -> str:
    from ragengine.retrieval import registry

    return registry.get_embedder().name


def test_the_question_vector_names_its_embedders_threshold(settings, monkeypatch):
    from ragengine.retrieval import registry
    from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder
    from ragengine.services.document_answers import QuestionVector
    from ragengine.services.timing import Stopwatch

    use = UseMultilingualEmbedder()  # named, not loaded
    monkeypatch.setattr(registry, "get_embedder", lambda: use)
    vector = QuestionVector(question="Posso levar meu cachorro?", watch=Stopwatch())
    settings.ARANDU_CACHE_SEMANTIC_THRESHOLD = None
    measured = vector.paraphrase_threshold()
    settings.ARANDU_CACHE_SEMANTIC_THRESHOLD = 0.95
    operators = vector.paraphrase_threshold()

    assert measured == 0.92  # docs/PERFORMANCE.md section 23
    assert operators == 0.95
    assert use._backend is None  # naming the threshold loaded no model


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_redis_that_is_down_never_stops_an_answer(handbook, model_tier, settings, caplog):
    """The cache is an optimisation: with REDIS_URL pointing at a dead Redis every ask still
    answers, repeats come from the database rows, and the outage is logged once."""
    from ragengine.cache import cache_health

    tier, server = model_tier
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    member = MemberFactory(tier=tier)

    first = ask(member=member, question=QUESTION, channel=CLI)
    again = ask(member=member, question=QUESTION, channel=CLI)
    other = ask(member=member, question="Can I carry vacation days over?", channel=CLI)

    assert [first.mode, again.mode, other.mode] == ["generated", "cached", "generated"]
    assert again.text == first.text
    assert len(server.requests_to(CHAT)) == 2
    warnings = [r for r in caplog.records if "answer cache backend" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    health = cache_health()
    assert health.status == "degraded" and "Connection refused" in health.reason


def test_a_portuguese_answer_served_from_the_cache_keeps_its_labels(handbook):
    member = MemberFactory()
    first = ask(member=member, question="Quantos dias de férias eu tenho por ano?", channel=CLI)
    again = ask(member=member, question="Quantos dias de férias eu tenho por ano?", channel=CLI)

    assert first.labels["sources"] == "Fontes"
    assert again.mode == AnswerMode.CACHED
    assert (again.language, again.labels) == (first.language, first.labels)
    assert again.notices == ["Esta resposta vem do cache."]
