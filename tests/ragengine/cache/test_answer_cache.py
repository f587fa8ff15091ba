"""The answer cache: exact and semantic lookups, scope, TTL rules, purges, stampedes.

`TestAcrossBackends` runs the store/lookup/guard behaviour against locmem and against
the machine's real Redis (db 15, flushed around each test), since production shares
entries between processes through Redis.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ragengine.ask_types import AnswerMode, Source
from ragengine.cache import (
    CacheHit,
    RuleDecision,
    answer_from_hit,
    answer_payload,
    cache_key_for,
    cache_lookup,
    cache_prune,
    cache_purge,
    cache_rule_for,
    cache_scope,
    cache_store,
    fold_question,
    generation_lock,
)
from ragengine.models import CachedAnswer, CacheEvent, CacheRule, KnowledgeSet
from ragengine.models.cache import CATEGORY_PATTERNS
from ragengine.retrieval.embedders.local import EMBEDDER_NAME as MINILM
from ragengine.retrieval.similarity_scale import cache_threshold
from ragengine.services.knowledge import knowledge_set_bump_version

pytestmark = pytest.mark.django_db

DAY = RuleDecision(rule=None, ttl_seconds=86400, semantic=True)
ANSWER = {
    "text": "You get 25 days of vacation a year [1].",
    "mode": "generated",
    "sources": [
        {
            "number": 1,
            "title": "Leave",
            "location": "Vacation",
            "snippet": "25 days",
            "score": 0.9,
            "document_id": 7,
            "link": "",
        }
    ],
    "provider": "openai",
    "model": "gpt-4o-mini",
}


def vec(text: str) -> np.ndarray:
    """A deterministic unit vector per text, for tests that don't need real embeddings."""
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def kset() -> KnowledgeSet:
    return KnowledgeSet.objects.create(name="handbook")


@pytest.fixture
def scope(kset):
    return cache_scope(set_ids=[kset.pk], model_family="openai:gpt-4o-mini")


def store(question, scope, *, vector=None, decision=DAY, now=None, cost="0.0020"):
    return cache_store(
        question=question,
        query_vector=vec(question) if vector is None else vector,
        scope=scope,
        answer=ANSWER,
        cost=Decimal(cost),
        decision=decision,
        now=now,
    )


# The tests' embedder is MiniLM (tests/conftest.py): its measured paraphrase threshold.
THRESHOLD = cache_threshold(MINILM)


def lookup(
    question, scope, *, vector=None, semantic=True, now=None, threshold=THRESHOLD
) -> CacheHit | None:
    return cache_lookup(
        question=question,
        query_vector=vector,
        scope=scope,
        allow_semantic=semantic,
        semantic_threshold=threshold,
        now=now,
    )


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings) -> str:
    if request.param == "redis":
        if not _redis_reachable():
            pytest.skip("Redis is not reachable at 127.0.0.1:6379")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/15",
            }
        }
    cache.clear()
    yield request.param
    cache.clear()


# --- normalisation, scope ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("  How many   VACATION days do I get?", "how many vacation days do i get"),
        ("Quantos dias de férias?", "quantos dias de ferias"),
        ("What's the policy?!", "whats the policy"),
        ("vale-refeição", "vale refeicao"),
    ],
)
def test_fold_question_folds_case_space_punctuation_and_accents(text, normalized):
    assert fold_question(text) == normalized


def test_scope_reads_versions_sorts_ids_and_none_means_every_set(kset):
    other = KnowledgeSet.objects.create(name="it", index_version=4)

    scope = cache_scope(set_ids=[str(other.pk), kset.pk], model_family="f")
    everything = cache_scope(set_ids=None, model_family="f")

    assert scope.set_ids == (kset.pk, other.pk)
    assert scope.index_versions == {str(kset.pk): 0, str(other.pk): 4}
    assert everything == scope
    assert cache_scope(set_ids=[kset.pk], model_family="f").digest != scope.digest


# --- rules ------------------------------------------------------------------------------------


def test_seeded_rules_cover_every_category_with_valid_patterns():
    seeded = {rule.category: rule for rule in CacheRule.objects.all()}
    assert set(seeded) == {"realtime", "code", "document_analysis", "quick", "factual"}
    for category, rule in seeded.items():
        assert rule.pattern == CATEGORY_PATTERNS[category]
        rule.full_clean()
    assert seeded["realtime"].ttl_seconds == 300 and not seeded["realtime"].semantic_enabled
    assert seeded["factual"].ttl_seconds == 86400


@pytest.mark.parametrize(
    "question, category, ttl",
    [
        ("What is the latest status of the VPN?", "realtime", 300),
        ("O que mudou hoje?", "realtime", 300),
        ("Why does this Python script raise an error?", "code", 3600),
        ("Summarize the travel document for me", "document_analysis", 3600),
        ("vpn password", "quick", 1800),
        ("How many vacation days do I get?", "factual", 86400),
        ("Quantos dias de férias eu tenho?", "factual", 86400),
    ],
)
def test_seeded_rules_pick_a_ttl_by_category(question, category, ttl):
    decision = cache_rule_for(question=question)
    assert decision.rule is not None and decision.rule.category == category
    assert decision.ttl_seconds == ttl


def test_no_matching_rule_falls_back_to_the_default_ttl(settings):
    question = "Please explain the reimbursement process for travel expenses"
    assert cache_rule_for(question=question) == RuleDecision(None, 86400, True)
    settings.ARANDU_CACHE_DEFAULT_TTL = 600
    assert cache_rule_for(question=question).ttl_seconds == 600
    settings.ARANDU_CACHE_DEFAULT_TTL = 0
    assert not cache_rule_for(question=question).cacheable


def test_rules_apply_in_priority_order_and_never_cache_wins_when_first():
    CacheRule.objects.all().delete()
    CacheRule.objects.create(name="slow", pattern=r"salary", ttl_seconds=60, priority=20)
    CacheRule.objects.create(name="private", pattern=r"salar", never_cache=True, priority=10)
    CacheRule.objects.create(name="no ttl", pattern=r"bonus", ttl_seconds=None, priority=5)
    CacheRule.objects.create(name="off", pattern=r"salary", ttl_seconds=1, enabled=False)

    salary = cache_rule_for(question="What is my salary?")
    bonus = cache_rule_for(question="And my bonus?")

    assert salary.rule.name == "private" and not salary.cacheable and not salary.semantic
    assert bonus.rule.name == "no ttl" and bonus.ttl_seconds is None

    CacheRule.objects.filter(name="private").update(priority=30)
    assert cache_rule_for(question="What is my salary?").ttl_seconds == 60


def test_blank_pattern_uses_the_category_and_other_catches_everything():
    CacheRule.objects.all().delete()
    CacheRule.objects.create(name="code", category="code", ttl_seconds=7200, priority=1)
    CacheRule.objects.create(
        name="all", category="other", ttl_seconds=99, semantic_enabled=False, priority=2
    )

    assert cache_rule_for(question="This function throws an exception").ttl_seconds == 7200
    assert cache_rule_for(question="Anything else at all") == RuleDecision(
        CacheRule.objects.get(name="all"), 99, False
    )


def test_an_invalid_pattern_is_skipped_and_refused_by_validation():
    CacheRule.objects.all().delete()
    broken = CacheRule.objects.create(name="broken", pattern=r"(unclosed", ttl_seconds=5)

    assert cache_rule_for(question="(unclosed question").rule is None
    with pytest.raises(ValidationError, match="regular expression"):
        broken.full_clean()


# --- store and lookup on every backend --------------------------------------------------------


@pytest.mark.usefixtures("cache_backend")
class TestAcrossBackends:
    def test_a_stored_answer_is_served_exactly_with_text_sources_and_savings(self, scope):
        entry = store("How many vacation days do I get?", scope, cost="0.0042")

        hit = lookup("how many vacation days do I get", scope)

        assert hit.kind == "exact" and hit.entry_id == entry.pk and hit.similarity == 1.0
        assert hit.answer == ANSWER
        assert hit.cost_saved == Decimal("0.0042")
        entry.refresh_from_db()
        assert entry.hits == 1 and entry.last_hit_at is not None
        event = CacheEvent.objects.get(kind="exact")
        assert event.entry_id == entry.pk and event.cost_saved == Decimal("0.0042")
        assert event.scope_sets == list(scope.set_ids)

    def test_expired_answers_are_never_served(self, scope):
        start = timezone.now()
        ttl = RuleDecision(rule=None, ttl_seconds=60, semantic=True)
        store("Is parking free?", scope, decision=ttl, now=start)

        assert lookup("Is parking free?", scope, now=start + timedelta(seconds=59))
        assert lookup("Is parking free?", scope, now=start + timedelta(seconds=61)) is None
        cache.clear()  # and not from the database either
        assert lookup("Is parking free?", scope, now=start + timedelta(seconds=61)) is None

    def test_never_cache_stores_nothing(self, scope):
        never = RuleDecision(rule=None, ttl_seconds=None, semantic=False)

        assert store("What is my salary?", scope, decision=never) is None
        assert lookup("What is my salary?", scope) is None
        assert not CachedAnswer.objects.exists()

    @pytest.mark.parametrize("change", ["sets", "version", "family"])
    def test_another_scope_never_sees_the_answer(self, kset, scope, change):
        store("How many vacation days do I get?", scope)
        other = KnowledgeSet.objects.create(name="other")
        if change == "sets":
            scope = cache_scope(set_ids=[kset.pk, other.pk], model_family=scope.model_family)
        elif change == "version":
            knowledge_set_bump_version(knowledge_set_id=kset.pk)
            scope = cache_scope(set_ids=[kset.pk], model_family=scope.model_family)
        else:
            scope = cache_scope(set_ids=[kset.pk], model_family="ollama:llama3.2")

        vector = vec("How many vacation days do I get?")
        assert lookup("How many vacation days do I get?", scope, vector=vector) is None

    def test_entries_survive_a_restart_and_rewarm_the_cache(self, scope):
        store("How many vacation days do I get?", scope)
        key = cache_key_for(question="How many vacation days do I get?", scope=scope)
        cache.clear()  # a restart (locmem) or a flushed Redis

        assert lookup("How many vacation days do I get?", scope).kind == "exact"
        assert cache.get(f"arandu:answers:v1:entry:{key}") is not None

    def test_a_purged_answer_is_gone_from_rows_and_cache(self, kset, scope):
        store("How many vacation days do I get?", scope)
        store("Is parking free?", scope)

        assert cache_purge(knowledge_set_id=kset.pk) == 2

        assert lookup("How many vacation days do I get?", scope) is None
        assert not CachedAnswer.objects.exists()

    def test_a_paraphrase_is_served_semantically_and_a_near_miss_is_not(self, scope, embedder):
        question = "Can I expense taxis?"
        store(question, scope, vector=embedder.embed_query(question))

        paraphrase = "Can I expense a taxi?"
        hit = lookup(paraphrase, scope, vector=embedder.embed_query(paraphrase))
        near_miss = "Can I expense flights?"

        assert hit.kind == "semantic" and hit.question == question
        assert hit.similarity >= THRESHOLD
        assert lookup(near_miss, scope, vector=embedder.embed_query(near_miss)) is None
        assert CacheEvent.objects.filter(kind="semantic").count() == 1

    def test_the_guard_waiter_reuses_the_first_callers_answer(self):
        done = threading.Event()
        seen: list[tuple[bool, object]] = []

        def waiter() -> None:
            with generation_lock(key="k", wait_s=5) as held:
                seen.append((held, cache.get("answer")))
            done.set()

        with generation_lock(key="k", wait_s=5) as held:
            assert held
            thread = threading.Thread(target=waiter)
            thread.start()
            assert not done.wait(0.05)  # it waits while the first caller generates
            cache.set("answer", "42")
        thread.join()

        assert seen == [(True, "42")]  # its turn came after the answer was stored

    def test_the_guard_gives_up_after_wait_s_and_frees_the_lock_on_exit(self):
        with generation_lock(key="stuck", wait_s=5, lock_s=60) as held:
            assert held
            with generation_lock(key="stuck", wait_s=0.05) as second:
                assert second is False
            assert cache.get("arandu:answers:v1:lock:stuck") is not None  # still ours
        with generation_lock(key="stuck", wait_s=0.05) as again:
            assert again


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("cache_backend")
def test_concurrent_identical_questions_generate_once(kset):
    """Eight people ask at once: one generation, everyone gets its answer."""
    scope = cache_scope(set_ids=[kset.pk], model_family="openai:gpt-4o-mini")
    question = "How many vacation days do I get?"
    key = cache_key_for(question=question, scope=scope)
    generations: list[int] = []
    answers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)
    # SQLite's shared in-memory test database fails ("table is locked") where a real
    # database file waits (busy timeout): there, take turns on the database. The guard,
    # which is what this tests, still runs concurrently.
    turn = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()

    def db(call):
        with turn:
            return call()

    def ask() -> None:
        try:
            hit = db(lambda: lookup(question, scope, semantic=False))
            barrier.wait()  # everyone missed before anyone generates
            if hit is None:
                with generation_lock(key=key, wait_s=10):
                    hit = db(lambda: lookup(question, scope, semantic=False))
                    if hit is None:
                        generations.append(1)
                        db(lambda: store(question, scope))
                        hit = db(lambda: lookup(question, scope, semantic=False))
            answers.append(hit.answer["text"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(generations) == 1
    assert answers == [ANSWER["text"]] * 8
    assert CachedAnswer.objects.get().hits == 8  # 7 served from the cache, 1 after storing


# --- semantic details, purges, prune (locmem) -------------------------------------------------


def test_semantic_lookup_respects_switches_and_skips_the_embedding_without_candidates(
    scope, embedder
):
    question = "Are pets allowed?"
    store(question, scope, vector=embedder.embed_query(question))
    exact_only = RuleDecision(rule=None, ttl_seconds=3600, semantic=False)
    store(
        "Is a dog allowed?",
        scope,
        vector=embedder.embed_query("Is a dog allowed?"),
        decision=exact_only,
    )
    calls: list[str] = []

    def lazy(question):
        def embed():
            calls.append(question)
            return embedder.embed_query(question)

        return embed

    assert (
        lookup("Is a pet allowed?", scope, vector=lazy("Is a pet allowed?"), semantic=False) is None
    )
    assert lookup("Is a dog allowed?", scope, vector=lazy("Is a dog allowed?")).kind == "exact"
    assert lookup("Are dogs allowed?", scope, vector=lazy("Are dogs allowed?")) is None
    assert lookup("Can I expense taxis?", scope, vector=lazy("Can I expense taxis?")) is None
    # the dog answer is exact-only, and nothing shares the taxi question's words: no
    # candidate, so nothing was embedded
    assert calls == []
    assert lookup("Is a pet allowed?", scope, vector=lazy("Is a pet allowed?")).kind == "semantic"
    assert calls == ["Is a pet allowed?"]


def test_with_use_multilingual_a_paraphrase_hits_and_a_near_miss_does_not(scope):
    """USE-multilingual's own threshold: "What is my bonus?" is 0.918 from "What is a
    bonus?" (same words: only the threshold keeps it out), where MiniLM's 0.87 would
    serve it; a true paraphrase is served in either language."""
    from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

    use = UseMultilingualEmbedder()
    threshold = cache_threshold(use.name)
    for question in ("What is a bonus?", "Are pets allowed?", "Quem aprova as férias?"):
        store(question, scope, vector=use.embed_query(question))

    def use_lookup(question, at):
        return lookup(question, scope, vector=use.embed_query(question), threshold=at)

    assert use_lookup("Is a pet allowed?", threshold).question == "Are pets allowed?"
    assert use_lookup("Quem aprova minhas férias?", threshold).kind == "semantic"
    assert use_lookup("What is my bonus?", threshold) is None
    assert use_lookup("What is my bonus?", THRESHOLD) is not None  # MiniLM's would serve it


def test_a_semantic_match_below_the_threshold_is_not_served(scope, embedder):
    store("Are pets allowed?", scope, vector=embedder.embed_query("Are pets allowed?"))
    vector = embedder.embed_query("Is a pet allowed?")
    assert lookup("Is a pet allowed?", scope, vector=vector, threshold=0.999) is None
    assert lookup("Is a pet allowed?", scope, vector=vector, threshold=0.5).kind == "semantic"


def test_expired_entries_are_not_served_semantically(scope, embedder):
    start = timezone.now()
    ttl = RuleDecision(rule=None, ttl_seconds=60, semantic=True)
    store(
        "Are pets allowed?",
        scope,
        vector=embedder.embed_query("Are pets allowed?"),
        decision=ttl,
        now=start,
    )
    vector = embedder.embed_query("Is a pet allowed?")

    assert lookup("Is a pet allowed?", scope, vector=vector, now=start + timedelta(seconds=30))
    assert (
        lookup("Is a pet allowed?", scope, vector=vector, now=start + timedelta(seconds=61)) is None
    )


def test_a_row_purged_by_another_process_is_not_served_from_a_local_copy(scope):
    store("Is parking free?", scope)
    CachedAnswer.objects.all().delete()  # another process purged; our locmem copy remains

    assert lookup("Is parking free?", scope) is None
    assert not CacheEvent.objects.filter(kind="exact").exists()


def test_storing_the_same_question_again_replaces_the_entry(scope):
    first = store("Is parking free?", scope, cost="0.1")
    second = store("is parking FREE", scope, cost="0.2")

    assert second.pk != first.pk
    assert list(CachedAnswer.objects.values_list("pk", flat=True)) == [second.pk]
    assert lookup("Is parking free?", scope).cost_saved == Decimal("0.2")


def test_purge_by_rule_and_everything(scope):
    CacheRule.objects.all().delete()
    rule = CacheRule.objects.create(name="code", category="code", ttl_seconds=60)
    store("Why does my script fail?", scope, decision=RuleDecision(rule, 60, True))
    store("Is parking free?", scope)

    assert cache_purge(rule_id=rule.pk) == 1
    assert lookup("Why does my script fail?", scope) is None
    assert lookup("Is parking free?", scope) is not None
    assert cache_purge(everything=True) == 1
    with pytest.raises(ValueError):
        cache_purge()


def test_prune_drops_expired_and_superseded_entries(kset, scope):
    start = timezone.now()
    store("Old version", scope)
    store("Expired", scope, decision=RuleDecision(None, 10, True), now=start - timedelta(hours=1))
    knowledge_set_bump_version(knowledge_set_id=kset.pk)
    fresh = cache_scope(set_ids=[kset.pk], model_family=scope.model_family)
    store("Current", fresh)

    assert cache_prune() == 2
    assert list(CachedAnswer.objects.values_list("question", flat=True)) == ["Current"]


def test_answer_round_trip_marks_the_reply_cached():
    from ragengine.ask_types import Answer

    original = Answer(
        text="25 days [1].",
        mode=AnswerMode.GENERATED,
        sources=[Source(1, "Leave", "Vacation", "25 days", 0.9, 7)],
        provider="openai",
        model="gpt-4o-mini",
        tokens_in=900,
        tokens_out=20,
        cost=Decimal("0.001"),
    )
    payload = answer_payload(answer=original)
    hit = CacheHit(1, "semantic", payload, Decimal("0.001"), 0.93, question="Vacation days?")

    reply = answer_from_hit(hit=hit, request_id="r1")

    assert payload["mode"] == "generated"
    assert reply.mode == AnswerMode.CACHED and reply.cost == 0
    assert reply.text == original.text and reply.sources == original.sources
    assert reply.model == "gpt-4o-mini" and reply.request_id == "r1"
    assert "cache" in reply.notices[0] and "Vacation days?" in reply.notices[0]


# --- admin --------------------------------------------------------------------------------------


@pytest.fixture
def cached(kset, scope):
    CacheRule.objects.all().delete()
    rule = CacheRule.objects.create(name="factual", category="factual", ttl_seconds=86400)
    other_set = KnowledgeSet.objects.create(name="it")
    other = cache_scope(set_ids=[other_set.pk], model_family=scope.model_family)
    return {
        "a": store(
            "How many vacation days do I get?", scope, decision=RuleDecision(rule, 60, True)
        ),
        "b": store("Is parking free?", scope),
        "c": store("How do I reset my password?", other, decision=RuleDecision(rule, 60, True)),
        "rule": rule,
    }


@pytest.mark.parametrize(
    "url_name, query, expected",
    [
        ("admin:ragengine_cacherule_changelist", "", "factual"),
        ("admin:ragengine_cachedanswer_changelist", "?q=parking", "Is parking free?"),
        ("admin:ragengine_cachedanswer_changelist", "?state=live", "reset my password"),
        ("admin:ragengine_cacheevent_changelist", "", "store"),
    ],
)
def test_cache_changelists_render(admin_client, cached, url_name, query, expected):
    response = admin_client.get(reverse(url_name) + query)
    assert response.status_code == 200
    assert expected in response.content.decode()


def _act(admin_client, model, action, pks):
    """Run an admin action as an admin does: pick it, then confirm on the page it shows
    (the confirmation itself is tested in tests.ragengine.admin.test_cache.py)."""
    from tests.ragengine.admin.test_cache import confirm

    page = admin_client.post(
        reverse(f"admin:ragengine_{model}_changelist"),
        {"action": action, "_selected_action": [str(pk) for pk in pks]},
    )
    return confirm(admin_client, model, page)


@pytest.mark.parametrize(
    "action, selected, left",
    [
        ("purge_selected", ["b"], {"a", "c"}),
        ("purge_by_set", ["b"], {"c"}),  # a shares b's knowledge set
        ("purge_by_rule", ["c"], {"b"}),  # a shares c's rule
        ("purge_all", ["a"], set()),
    ],
)
def test_admin_purge_actions(admin_client, cached, action, selected, left):
    response = _act(admin_client, "cachedanswer", action, [cached[k].pk for k in selected])

    assert response.status_code == 302
    remaining = set(CachedAnswer.objects.values_list("pk", flat=True))
    assert remaining == {cached[k].pk for k in left}
    assert (
        "delete_selected"
        not in admin_client.get(reverse("admin:ragengine_cachedanswer_changelist")).content.decode()
    )


def test_admin_rule_action_purges_its_answers(admin_client, cached):
    _act(admin_client, "cacherule", "purge_rule_answers", [cached["rule"].pk])
    assert list(CachedAnswer.objects.values_list("pk", flat=True)) == [cached["b"].pk]


def test_admin_shows_a_cached_answer_and_refuses_an_invalid_rule_pattern(admin_client, cached):
    page = admin_client.get(reverse("admin:ragengine_cachedanswer_change", args=[cached["a"].pk]))
    assert page.status_code == 200 and "25 days" in page.content.decode()

    response = admin_client.post(
        reverse("admin:ragengine_cacherule_add"),
        {
            "name": "bad",
            "pattern": "(oops",
            "category": "other",
            "ttl_seconds": "60",
            "priority": "1",
            "enabled": "on",
            "semantic_enabled": "on",
        },
    )
    assert response.status_code == 200 and "regular expression" in response.content.decode()
    assert not CacheRule.objects.filter(name="bad").exists()


# --- a cache backend that fails -------------------------------------------------------------


@pytest.fixture
def dead_redis(settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }


@pytest.mark.usefixtures("dead_redis")
def test_without_a_backend_entries_are_stored_and_served_from_the_database(scope):
    from ragengine.cache import cache_health

    assert cache_health().status == "ok"
    entry = store("How many vacation days do I get?", scope)

    hit = lookup("how many vacation days do I get", scope, semantic=False)

    assert entry is not None and hit is not None and hit.entry_id == entry.pk
    assert cache_purge(everything=True) == 1
    assert cache_health().status == "degraded"


@pytest.mark.usefixtures("dead_redis")
def test_without_a_backend_the_guard_lets_every_caller_through_at_once():
    import time

    started = time.monotonic()
    with (
        generation_lock(key="k", wait_s=5) as first,
        generation_lock(key="k", wait_s=5) as second,
    ):
        pass

    assert (first, second) == (False, False)  # no lock was taken, none was waited for
    assert time.monotonic() - started < 1


def test_the_backend_is_tried_again_after_the_interval_and_recovery_is_seen(
    settings, dead_redis, caplog, monkeypatch
):
    from ragengine.cache.backend import BACKEND_RETRY_S, cache_backend, cache_health

    backend = cache_backend()
    clock = [1000.0]
    monkeypatch.setattr(backend, "clock", lambda: clock[0])
    for _ in range(3):
        assert backend.get("x") is None
    clock[0] += BACKEND_RETRY_S + 1
    backend.get("x")
    warned = [r for r in caplog.records if "answer cache backend" in r.getMessage()]
    assert len(warned) == 2  # once per interval, however many calls failed

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    clock[0] += BACKEND_RETRY_S + 1
    backend.set("x", 1, timeout=60)

    assert backend.get("x") == 1
    assert cache_health().status == "ok"


def test_a_cached_answer_keeps_its_language_and_labels():
    from ragengine.ask_types import Answer

    original = Answer(
        text="30 dias [1].",
        mode=AnswerMode.EXTRACTIVE,
        language="pt",
        labels={"sources": "Fontes", "notes": "Notas"},
    )
    payload = answer_payload(answer=original)
    exact = answer_from_hit(hit=CacheHit(1, "exact", payload, Decimal("0"), 1.0))
    similar = answer_from_hit(
        hit=CacheHit(1, "semantic", payload, Decimal("0"), 0.95, question="Férias?")
    )
    old_entry = answer_from_hit(hit=CacheHit(1, "exact", {"text": "25 days."}, Decimal("0"), 1.0))

    assert exact.language == "pt" and exact.labels == {"sources": "Fontes", "notes": "Notas"}
    assert exact.notices == ["Esta resposta vem do cache."]
    assert similar.notices == ['Esta resposta vem do cache, da pergunta parecida "Férias?".']
    assert old_entry.labels == {} and old_entry.notices == ["This answer comes from the cache."]
