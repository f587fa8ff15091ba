"""Every dashboard figure against hand-computed values from the seeded world
(tests/ragengine/selectors/dashboard_world.py), per filter. The same tests run on SQLite
and on PostgreSQL (percentiles in Python there, percentile_cont here)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ragengine.llm.resilience import CircuitBreakers
from ragengine.llm.types import ProviderError
from ragengine.models import ProviderEndpoint
from ragengine.selectors.cache import cache_stats
from ragengine.selectors.dashboard import dashboard_scope, questions_in
from ragengine.selectors.dashboard_activity import activity, top_knowledge_sets
from ragengine.selectors.dashboard_gaps import content_gaps, jaccard, normalised
from ragengine.selectors.dashboard_providers import provider_health
from ragengine.selectors.dashboard_quality import feedback_figures, latest_comments
from ragengine.selectors.dashboard_speed import percentile, speed
from ragengine.selectors.dashboard_spend import spend, tier_budgets, top_spenders
from ragengine.selectors.usage import member_spend
from tests.factories import QuestionRecordFactory, UsageRecordFactory
from tests.ragengine.selectors.dashboard_world import NOW, at, seed_world

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def world():
    return seed_world()


def scope(**kwargs):
    return dashboard_scope(now=NOW, **kwargs)


def test_scope_is_whole_local_days_and_refuses_bad_periods():
    week = scope(period="7d")
    assert week.days[0] == date(2026, 3, 4) and week.days[-1] == date(2026, 3, 10)
    assert len(scope(period="today").days) == 1 and len(scope(period="30d").days) == 30
    custom = scope(period="custom", first_day=date(2026, 3, 1), last_day=date(2026, 3, 2))
    assert [d.day for d in custom.days] == [1, 2]
    for bad in (
        {"period": "custom"},
        {"period": "custom", "first_day": date(2026, 3, 2), "last_day": date(2026, 3, 1)},
        {"period": "custom", "first_day": date(2020, 1, 1), "last_day": date(2026, 3, 1)},
        {"period": "year"},
        {"door": "telegram"},
    ):
        with pytest.raises(ValueError):
            scope(**bad)


def test_questions_per_day_by_answer_mode_and_people(world):
    figures = activity(scope=scope(period="7d"))
    # 03-09: monitor (generated), taxi (extractive), taxi rides (refused);
    # 03-10: vacation + laptop (generated), vacation (cached), VPN (error), wifi (extractive).
    # The evaluation question and the one of 03-02 are left out.
    assert figures.per_outcome["generated"][-2:] == [1, 2]
    assert figures.per_outcome["extractive"][-2:] == [1, 1]
    assert figures.per_outcome["cached"][-2:] == [0, 1]
    assert figures.per_outcome["refused"][-2:] == [1, 0]
    assert figures.per_outcome["error"][-2:] == [0, 1]
    assert all(sum(s[:-2]) == 0 for s in figures.per_outcome.values())
    assert figures.questions == 8
    assert figures.people == 3  # Ana, Bruno, Carla (not the evaluation's robot)
    assert figures.people_per_day[-2:] == [2, 2]  # Carla + Bruno; Ana + Bruno
    assert figures.not_found == 2  # wifi, taxi


@pytest.mark.parametrize(
    ("filters", "questions", "people", "cost"),
    [
        ({"door": "slack"}, 5, 2, D("0.80")),  # r1, r2, VPN, wifi, taxi rides
        ({"door": "api"}, 1, 1, D("1.00")),
        ({"door": "tests"}, 1, 1, D("5.00")),  # the evaluation run only
        ({"tier_id": "exec"}, 2, 1, D("1.00")),
        ({"tier_id": "staff"}, 5, 2, D("0.80")),  # the VPN error has no ledger row
        ({"knowledge_set": "it"}, 3, 2, D("1.50")),  # laptop, VPN, monitor
        ({"knowledge_set": "handbook", "door": "discord"}, 1, 1, D("0")),
        ({"period": "today"}, 5, 2, D("0.80")),
        ({"period": "custom", "first_day": date(2026, 3, 2), "last_day": date(2026, 3, 2)},
         1, 1, D("2.00")),
    ],
)  # fmt: skip
def test_each_filter_narrows_questions_people_and_cost_alike(
    world, filters, questions, people, cost
):
    if "tier_id" in filters:
        filters["tier_id"] = getattr(world, filters["tier_id"]).pk
    filters.setdefault("period", "7d")
    chosen = scope(**filters)
    figures = activity(scope=chosen)
    assert (figures.questions, figures.people) == (questions, people)
    assert spend(scope=chosen).cost == cost


def test_top_knowledge_sets_count_each_set_of_a_question(world):
    assert top_knowledge_sets(scope=scope()) == [
        ("handbook", 5),  # vacation ×2, laptop, wifi, taxi rides
        ("it", 3),  # laptop, VPN, monitor
        ("(every set)", 1),  # the CLI's unscoped taxi question
    ]


def test_cost_per_day_by_model_and_by_tier(world):
    money = spend(scope=scope())
    assert money.cost_by_model == {
        "openai:gpt-4o": [D(0)] * 5 + [D("1.00"), D("0.50")],
        "openai:gpt-4o-mini": [D(0)] * 6 + [D("0.30")],
    }
    assert money.cost_by_tier == {
        "exec": [D(0)] * 5 + [D("1.00"), D(0)],
        "staff": [D(0)] * 6 + [D("0.80")],
    }
    assert money.cost_per_day[-2:] == [D("1.00"), D("0.80")]
    assert money.cost == D("1.80")


def test_cache_hit_rate_and_savings_per_day(world):
    money = spend(scope=scope())
    # Answered (generated, extractive, cached): 03-09 monitor, taxi; 03-10 r1, r2, cached, wifi.
    assert money.answered_per_day[-2:] == [2, 4]
    assert money.hits_per_day[-2:] == [0, 1]
    assert money.saved_per_day[-1] == D("0.20")
    assert money.hit_rate_per_day()[-2:] == [0.0, 0.25]
    assert money.hit_rate_per_day()[0] is None  # nothing answered: no rate, not 0 %
    assert (money.answered, money.hits, money.saved) == (6, 1, D("0.20"))
    assert money.hit_rate == pytest.approx(1 / 6)


def test_top_spenders_with_todays_spend_against_the_daily_budget(world):
    spenders = top_spenders(scope=scope())
    assert [(s.name, s.cost, s.questions) for s in spenders] == [
        ("Carla", D("1.00"), 2),
        ("Ana", D("0.80"), 3),  # r1, r2, wifi (the reservation in flight is not settled)
    ]  # Bruno spent nothing: not a spender
    ana = spenders[1]
    assert ana.today == D("0.90")  # 0.30 + 0.50 settled + 0.10 in flight
    assert (ana.daily_budget, ana.daily_percent) == (D("1"), 90)
    assert spenders[0].daily_percent is None  # exec has no budget
    for spender, member in zip(spenders, (world.carla, world.ana), strict=True):
        day_start = NOW.replace(hour=0)
        assert spender.today == member_spend(member=member, since=day_start, now=NOW)


def test_cache_figures_agree_with_the_cache_report(world):
    """`cache_stats` (the cache's own report) counts hits and savings the same way."""
    report = cache_stats(start=scope().start, end=scope().end)
    money = spend(scope=scope())
    # cache_stats counts every door, evaluation runs included: compare on the people's
    # rows plus the evaluation's one generated answer.
    assert report.total.hits == money.hits
    assert report.total.cost_saved == money.saved
    assert report.total.questions == money.answered + 1
    by_day = {row.key: row for row in report.per_day}
    assert by_day["2026-03-10"].hits == money.hits_per_day[-1]


def test_tier_budgets_today_and_this_month(world):
    budgets = {b.name: b for b in tier_budgets(scope=scope())}
    assert "eval:run-1" not in budgets  # evaluation tiers are no one's budget
    staff, exec_ = budgets["staff"], budgets["exec"]
    assert (staff.spent_today, staff.spent_month) == (D("0.90"), D("2.90"))  # + 03-02's 2.00
    assert staff.people_month == 2
    assert (staff.top_today_percent, staff.top_month_percent) == (90, 29)
    assert (staff.soft_today, staff.hard_today, staff.soft_month, staff.hard_month) == (1, 0, 0, 0)
    assert (exec_.spent_today, exec_.spent_month, exec_.top_today_percent) == (D(0), D("1"), None)
    only = tier_budgets(scope=scope(tier_id=world.exec.pk))
    assert [b.name for b in only] == ["exec"]


def test_latency_percentiles_per_day_and_per_stage(world):
    fast = speed(scope=scope())
    total = fast.per_day["total"]
    # 03-09: [600, 50]; 03-10: [120, 400, 6] (interpolated as percentile_cont does)
    assert total["p50"][-2:] == [pytest.approx(325), pytest.approx(120)]
    assert total["p95"][-2:] == [pytest.approx(572.5), pytest.approx(372)]
    assert total["p50"][0] is None
    assert fast.per_day["retrieve"]["p50"][-1] == pytest.approx(10)  # [10, 20, 5]
    assert fast.per_day["retrieve"]["p95"][-1] == pytest.approx(19)
    assert fast.per_day["generate"]["p50"][-2:] == [pytest.approx(500), pytest.approx(200)]
    stages = {s.stage: s for s in fast.stages}
    assert stages["total"].p50 == pytest.approx(120)  # [6, 50, 120, 400, 600]
    assert stages["total"].p95 == pytest.approx(560)
    assert stages["validate"].p50 is None  # no row timed it
    slack = speed(scope=scope(door="slack")).per_day["total"]
    assert slack["p50"][-2:] == [None, pytest.approx(120)]  # the refusal has no timings


def test_percentile_matches_postgresql_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.95) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 20], 0.95) == pytest.approx(19.5)


def test_feedback_per_day_and_latest_comments(world):
    votes = feedback_figures(scope=scope())
    assert (votes.up_per_day[-2:], votes.down_per_day[-2:]) == ([1, 1], [1, 0])
    assert (votes.up, votes.down) == (2, 1)  # the evaluation's vote is left out
    assert votes.ratio == pytest.approx(2 / 3)
    assert votes.ratio_per_day()[-2:] == [0.5, 1.0]
    handbook = feedback_figures(scope=scope(knowledge_set="handbook"))
    assert (handbook.up, handbook.down) == (1, 1)  # Carla's vote was on no handbook answer
    comments = latest_comments(scope=scope())
    assert [(c.member, c.value, c.comment, c.question) for c in comments] == [
        ("Ana", 1, "Spot on", "How many vacation days do I get?"),
        ("Bruno", -1, "No answer at all", "Can I expense taxi rides?"),
    ]


def test_content_gaps_group_similar_unanswered_questions(world):
    groups, total = content_gaps(scope=scope())
    assert total == 3  # wifi (not found), taxi (not found), taxi rides (refused)
    assert [(g.count, g.not_found, g.refused) for g in groups] == [(2, 1, 1), (1, 1, 0)]
    taxi, wifi = groups
    assert taxi.question == "Can I expense taxi rides?"  # latest on a tie
    assert taxi.examples() == ["How do I expense a taxi?"]
    assert taxi.sets == ["handbook"]
    assert wifi.question == "What is the guest wifi password?"


def test_gaps_join_identical_wordings_and_keep_unlike_questions_apart(db):
    for text in ("Where is the printer?", "where is the PRINTER", "Where is the printer?"):
        QuestionRecordFactory(question=text, outcome="extractive", not_found=True, created_at=NOW)
    QuestionRecordFactory(question="Who approves travel?", outcome="refused", created_at=NOW)
    QuestionRecordFactory(question="", outcome="refused", created_at=NOW)  # text not kept
    groups, total = content_gaps(scope=scope(period="today"))
    assert total == 5
    assert [g.count for g in groups] == [3, 1]
    assert groups[0].question == "Where is the printer?"
    assert normalised("Where is the PRINTER??") == "where is the printer"
    assert jaccard(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)


def test_provider_health_from_the_circuits_and_the_ledger(world):
    assert ProviderEndpoint.objects.filter(name="openai").exists()  # seeded by a migration
    ProviderEndpoint.objects.create(name="local", kind="ollama", enabled=False)
    breakers = CircuitBreakers(failure_threshold=2)
    breaker = breakers.get("openai")
    breaker.record_success()
    breaker.record_outcome(ProviderError("HTTP 401: bad key", provider="openai", transient=False))
    assert breaker.state == "closed"  # a 401 says the endpoint is up
    for _ in range(2):
        breaker.record_outcome(ProviderError("HTTP 503", provider="openai", transient=True))
    health = {h.endpoint: h for h in provider_health(scope=scope(), snapshots=breakers.snapshots())}
    openai = health["openai"]
    assert (openai.state, openai.recent_calls, openai.error_rate) == ("open", 4, 0.75)
    assert openai.last_error == "ProviderError: HTTP 503"
    assert openai.answers == 3  # r1, r2 today, monitor yesterday (not the evaluation's)
    assert not openai.healthy
    local = health["local"]
    assert (local.state, local.enabled, local.error_rate, local.answers) == (
        "unused",
        False,
        None,
        0,
    )


def test_provider_circuits_recorded_by_other_processes_show(world):
    """A worker opened the circuit: the web process, whose own breaker never saw a call,
    shows it open (with since when); a close recorded later shows closed."""
    from ragengine.llm.circuit_record import circuit_change_record

    ProviderEndpoint.objects.create(name="local", kind="ollama")
    circuit_change_record("openai", "open", 5)  # as the worker's breaker does
    health = {h.endpoint: h for h in provider_health(scope=scope(), snapshots={})}
    assert (health["openai"].state, health["openai"].healthy) == ("open", False)
    assert health["openai"].state_changed_at is not None
    assert (health["local"].state, health["local"].state_changed_at) == ("unused", None)
    breakers = CircuitBreakers(failure_threshold=2)
    breakers.get("openai").record_success()  # this process's breaker: closed
    circuit_change_record("openai", "closed", 0)
    health = {h.endpoint: h for h in provider_health(scope=scope(), snapshots=breakers.snapshots())}
    assert (health["openai"].state, health["openai"].recent_calls) == ("closed", 1)


def test_days_follow_the_configured_time_zone(db, settings):
    settings.TIME_ZONE = "America/Sao_Paulo"  # UTC-3
    UsageRecordFactory(cost=D("1"), latencies_ms={"total": 100}, created_at=at(10, 2))  # 03-09
    QuestionRecordFactory(created_at=at(10, 2))
    chosen = scope(period="7d")
    assert chosen.days[-1] == date(2026, 3, 10)
    assert spend(scope=chosen).cost_per_day[-2:] == [D("1"), D(0)]
    assert activity(scope=chosen).per_outcome["generated"][-2:] == [1, 0]
    assert speed(scope=chosen).per_day["total"]["p50"][-2:] == [100, None]


def test_a_set_name_is_matched_exactly_not_as_a_substring(db):
    QuestionRecordFactory(knowledge_sets=["it-ops"], created_at=NOW)
    QuestionRecordFactory(knowledge_sets=["it"], created_at=NOW)
    QuestionRecordFactory(knowledge_sets=['quote"d'], created_at=NOW)
    assert questions_in(scope(knowledge_set="it")).count() == 1
    assert questions_in(scope(knowledge_set="IT")).count() == 0
    assert questions_in(scope(knowledge_set='quote"d')).count() == 1
