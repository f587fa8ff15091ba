"""The dashboard's daily rollups: every figure read from them equals the live one (and
the hand-computed values of tests/ragengine/selectors/dashboard_world.py), whether the
days were rolled up or are computed on the fly; late writes to a closed day invalidate
it; the hourly schedule is registered. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_q.models import Schedule

from ragengine.models import DashboardDay, Member
from ragengine.selectors.dashboard import dashboard_scope
from ragengine.selectors.dashboard_activity import activity, top_knowledge_sets
from ragengine.selectors.dashboard_days import RATIO_ERROR, figures_by_day, histogram, view_of
from ragengine.selectors.dashboard_providers import provider_health
from ragengine.selectors.dashboard_quality import feedback_figures
from ragengine.selectors.dashboard_rolled import (
    activity_from,
    histogram_percentile,
    provider_answers_from,
    speed_from,
    spend_from,
    top_knowledge_sets_from,
    top_spenders_from,
)
from ragengine.selectors.dashboard_speed import percentile, speed
from ragengine.selectors.dashboard_spend import spend, top_spenders
from ragengine.services.budgets import Reservation, UsageDetails, usage_settle
from ragengine.services.dashboard_rollups import rollups_ensure, rollups_fill
from ragengine.tasks import dashboard_rollups_task
from tests.factories import FeedbackFactory, QuestionRecordFactory, UsageRecordFactory
from tests.ragengine.selectors.dashboard_world import NOW, at, seed_world

pytestmark = pytest.mark.django_db
D = Decimal
MARCH_2 = {"period": "custom", "first_day": date(2026, 3, 2), "last_day": date(2026, 3, 10)}
FILTERS = [
    {},
    {"period": "today"},
    {"period": "30d"},
    MARCH_2,
    {"door": "slack"},
    {"door": "discord"},
    {"door": "api"},
    {"door": "cli"},
    {"door": "tests"},
    {"tier_id": "staff"},
    {"tier_id": "exec"},
    {"knowledge_set": "it"},
    {"knowledge_set": "handbook", **MARCH_2},
]


@pytest.fixture
def world():
    return seed_world()


def scope(world, **kwargs):
    if "tier_id" in kwargs:
        kwargs["tier_id"] = getattr(world, kwargs["tier_id"]).pk
    return dashboard_scope(now=NOW, **kwargs)


def ensure(chosen):
    """Roll up every missing closed day of the scope (the page does up to LAZY_DAYS)."""
    return rollups_ensure(scope=chosen, limit=400)


def rolled(chosen):
    days = figures_by_day(scope=chosen, view=view_of(chosen))
    return {
        "activity": activity_from(scope=chosen, days=days),
        "sets": top_knowledge_sets_from(days=days),
        "spend": spend_from(scope=chosen, days=days),
        "spenders": top_spenders_from(scope=chosen, days=days),
        "speed": speed_from(scope=chosen, days=days),
        "answers": provider_answers_from(days=days),
        "providers": provider_health(
            scope=chosen, snapshots={}, answers=provider_answers_from(days=days)
        ),
    }


def live(chosen):
    return {
        "activity": activity(scope=chosen),
        "sets": top_knowledge_sets(scope=chosen),
        "spend": spend(scope=chosen),
        "spenders": top_spenders(scope=chosen),
        "speed": speed(scope=chosen),
        "providers": provider_health(scope=chosen, snapshots={}),
    }


def assert_same(rolled_figures, live_figures):
    for name in ("activity", "sets", "spend", "spenders", "providers"):
        assert rolled_figures[name] == live_figures[name], name
    fast, exact = rolled_figures["speed"], live_figures["speed"]
    for stage, quantiles in exact.per_day.items():  # each day's are exact
        for q, values in quantiles.items():
            assert fast.per_day[stage][q] == pytest.approx(values), (stage, q)
    if len(fast.per_day["total"]["p50"]) == 1:
        assert fast.stages == exact.stages and fast.error == 0
    else:
        assert fast.error == RATIO_ERROR and not exact.error
        assert_close([(s.p50, s.p95) for s in fast.stages], [(s.p50, s.p95) for s in exact.stages])


def assert_close(approximate, exact):
    """Percentiles from histograms are within RATIO_ERROR of the exact ones (None alike)."""

    def flat(values):
        for v in values:
            yield from (flat(v) if isinstance(v, tuple) else (v,))

    pairs = list(zip(flat(approximate), flat(exact), strict=True))
    for a, e in pairs:
        assert (a is None) == (e is None)
        if e is not None:
            # interpolation between two buckets' middles keeps the same bound
            assert a == pytest.approx(e, rel=RATIO_ERROR + 1e-9)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(map(str, f.values())) or "7d")
def test_rolled_up_figures_equal_the_live_ones(world, filters):
    chosen = scope(world, **filters)
    assert ensure(chosen) == (len(chosen.days) > 1)  # "today" alone is read live
    closed = [d for d in chosen.days if d < date(2026, 3, 10)]  # 03-10 is today: never stored
    assert DashboardDay.objects.filter(view="", day__in=closed).count() == len(closed)
    assert not DashboardDay.objects.filter(day=date(2026, 3, 10)).exists()
    assert_same(rolled(chosen), live(chosen))


@pytest.mark.parametrize("filters", FILTERS[:6], ids=str)
def test_a_closed_day_without_a_rollup_is_computed_from_its_rows(world, filters):
    chosen = scope(world, **filters)
    assert not DashboardDay.objects.exists()
    assert_same(rolled(chosen), live(chosen))
    assert not DashboardDay.objects.exists()  # reading never stores: the service does


def test_hand_computed_figures_from_the_rollups(world):
    chosen = scope(world)
    ensure(chosen)
    figures = rolled(chosen)
    act = figures["activity"]
    assert (act.questions, act.people, act.people_per_day[-2:], act.not_found) == (8, 3, [2, 2], 2)
    assert figures["sets"] == [("handbook", 5), ("it", 3), ("(every set)", 1)]
    money = figures["spend"]
    assert money.cost_by_tier == {
        "exec": [D(0)] * 5 + [D("1.00"), D(0)],
        "staff": [D(0)] * 6 + [D("0.80")],
    }
    assert (money.answered, money.hits, money.saved, money.cost) == (6, 1, D("0.20"), D("1.80"))
    assert [(s.name, s.cost, s.questions, s.today) for s in figures["spenders"]] == [
        ("Carla", D("1.00"), 2, D(0)),
        ("Ana", D("0.80"), 3, D("0.90")),
    ]
    total = figures["speed"].per_day["total"]
    # 03-09: [600, 50] → p50 325; 03-10: [120, 400, 6] → p50 120 (each day's exact)
    assert total["p50"][-2:] == [pytest.approx(325), pytest.approx(120)]
    stages = {s.stage: s for s in figures["speed"].stages}
    # [6, 50, 120, 400, 600], each alone in its bucket: the histogram gives them back
    assert (stages["total"].p50, stages["total"].p95) == (pytest.approx(120), pytest.approx(560))
    assert figures["answers"] == {"openai": 3, "extractive": 2}
    # With two filters the page reads the rows: there is no view for the combination.
    assert view_of(scope(world, door="slack", tier_id="staff")) is None


def test_days_of_another_time_zone_roll_up_alike(db, settings):
    settings.TIME_ZONE = "America/Sao_Paulo"  # UTC-3: 02:00 UTC on 03-10 is 03-09 there
    UsageRecordFactory(cost=D("1"), latencies_ms={"total": 100}, created_at=at(10, 2))
    QuestionRecordFactory(created_at=at(10, 2))
    chosen = dashboard_scope(now=NOW, period="7d")
    ensure(chosen)
    assert DashboardDay.objects.filter(day=date(2026, 3, 9), view="").get().figures["outcomes"] == {
        "generated": 1
    }
    assert_same(rolled(chosen), live(chosen))
    # Days rolled up in another zone are not this zone's days: computed again.
    settings.TIME_ZONE = "UTC"
    chosen = dashboard_scope(now=NOW, period="7d")
    assert_same(rolled(chosen), live(chosen))
    assert rolled(chosen)["activity"].per_outcome["generated"][-2:] == [0, 1]
    assert ensure(chosen)
    assert DashboardDay.objects.get(day=date(2026, 3, 9), view="").figures["zone"] == "UTC"


def test_a_reservation_settled_after_midnight_invalidates_its_day(world):
    late = UsageRecordFactory(
        member=world.bruno, tier=world.staff, status="reserved", mode="", provider="",
        model="", reserved=D("0.40"), channel="slack:C1", created_at=at(9, 23, 50),
    )  # fmt: skip
    chosen = scope(world)
    ensure(chosen)
    before = rolled(chosen)["spend"].cost_per_day[-2]
    assert before == D("1.00")  # the reservation is not spend yet
    usage_settle(
        reservation=Reservation(
            record_id=late.pk, state=None, member_id=world.bruno.pk, created_at=late.created_at
        ),
        details=UsageDetails(
            mode="generated", provider="openai", model="gpt-4o", cost=D("0.40"),
            latencies_ms={"total": 900},
        ),
    )  # fmt: skip
    assert not DashboardDay.objects.filter(day=date(2026, 3, 9)).exists()
    assert DashboardDay.objects.filter(day=date(2026, 3, 8)).exists()  # others are kept
    assert rolled(chosen)["spend"].cost_per_day[-2] == D("1.40")  # computed from the rows
    ensure(chosen)
    assert_same(rolled(chosen), live(chosen))
    assert rolled(chosen)["spend"].cost_per_day[-2] == D("1.40")


def test_rows_saved_or_deleted_in_a_closed_day_invalidate_it(world):
    chosen = scope(world)
    ensure(chosen)
    row = QuestionRecordFactory(member=world.carla, created_at=at(8, 12))
    row.save()  # an edit: the signal sees the row's day
    assert not DashboardDay.objects.filter(day=date(2026, 3, 8)).exists()
    assert DashboardDay.objects.filter(day=date(2026, 3, 9)).exists()
    ensure(chosen)
    assert rolled(chosen)["activity"].per_outcome["generated"][-3] == 1
    row.delete()
    assert not DashboardDay.objects.filter(day=date(2026, 3, 8)).exists()
    ledger = UsageRecordFactory(cost=D("3"), created_at=at(7, 23, 30))
    ensure(chosen)
    ledger.save()
    # A ledger row gives its tier to the next hour's questions: 03-07 and 03-08 go.
    assert not DashboardDay.objects.filter(day__in=[date(2026, 3, 7), date(2026, 3, 8)]).exists()
    ensure(chosen)
    assert_same(rolled(chosen), live(chosen))


def test_deleting_a_person_drops_every_rollup(world):
    chosen = scope(world)
    ensure(chosen)
    Member.objects.filter(pk=world.carla.pk).delete()
    assert not DashboardDay.objects.exists()
    assert rolled(chosen)["activity"].people == live(chosen)["activity"].people == 2


def test_a_day_stored_meanwhile_by_another_process_is_kept(world, monkeypatch):
    """Two processes rolling up the same day: the second one's insert meets the first
    one's rows (unique day and view) and leaves them, without an error on the page."""
    from ragengine.selectors.dashboard_days import day_figures

    def other_process_stores(day):
        DashboardDay.objects.filter(day=day).delete()
        DashboardDay.objects.bulk_create(
            DashboardDay(day=day, view=v, figures=f) for v, f in day_figures(day).items()
        )

    monkeypatch.setattr("ragengine.services.dashboard_rollups._clear", other_process_stores)
    chosen = scope(world, period="custom", first_day=date(2026, 3, 8), last_day=date(2026, 3, 9))
    assert ensure(chosen)  # both days were stored "elsewhere": no error
    # Here the "other process" wrote inside our transaction, so its rows rolled back with
    # our insert; the days read from their rows meanwhile, and the next read stores them.
    assert not DashboardDay.objects.filter(day__in=chosen.days).exists()
    assert_same(rolled(chosen), live(chosen))
    monkeypatch.undo()
    assert ensure(chosen)
    assert DashboardDay.objects.filter(view="", day__in=chosen.days).count() == 2


def test_with_many_days_missing_the_page_reads_live_and_stores_nothing(world):
    chosen = scope(world, period="30d")
    assert not rollups_ensure(scope=chosen)  # 29 closed days missing > LAZY_DAYS
    assert not DashboardDay.objects.exists()
    rollups_fill(now=NOW)
    assert rollups_ensure(scope=chosen)
    assert not rollups_ensure(scope=scope(world, door="slack", tier_id="staff"))  # no view
    assert not rollups_ensure(scope=scope(world, period="today"))  # nothing closed


def test_a_late_vote_shows_at_once(world):
    """Feedback is read live, never rolled up: a vote on a closed day counts at once."""
    chosen = scope(world)
    ensure(chosen)
    FeedbackFactory(member=world.ana, request_id="late", value=-1, created_at=at(9, 20))
    assert feedback_figures(scope=chosen).down_per_day[-2] == 2


def test_a_day_still_open_is_never_stored(world):
    """03-09 closes at 01:00 on 03-10 (its questions' history rows come up to an hour late)."""
    early = replace(scope(world), now=NOW.replace(hour=0, minute=30))
    assert ensure(early)
    assert DashboardDay.objects.filter(view="").count() == 5  # 03-04..03-08
    assert not DashboardDay.objects.filter(day__gte=date(2026, 3, 9)).exists()
    assert_same(rolled(early), live(early))


def test_the_hourly_task_fills_missing_days_once(world, monkeypatch):
    monkeypatch.setattr("ragengine.services.dashboard_rollups.timezone.now", lambda: NOW)
    assert dashboard_rollups_task() == 366
    assert DashboardDay.objects.filter(view="").count() == 366
    assert DashboardDay.objects.filter(day=date(2026, 3, 9), view=f"tier:{world.exec.pk}").exists()
    assert rollups_fill(now=NOW) == 0  # nothing missing
    assert not DashboardDay.objects.filter(day=NOW.date()).exists()
    oldest = NOW.date() - timedelta(days=366)
    assert DashboardDay.objects.filter(view="").order_by("day").first().day == oldest


def test_the_rollup_schedule_is_registered():
    schedule = Schedule.objects.get(name="arandu: dashboard rollups")
    assert schedule.func == "ragengine.tasks.dashboard_rollups_task"
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)


def test_percentiles_from_a_histogram():
    assert histogram_percentile({}, 0.5) is None
    assert histogram_percentile(histogram([0.0, 0.0, -1.0]), 0.95) == pytest.approx(-1 / 3)
    # values alone in their buckets come back exact
    assert histogram_percentile(histogram([6.0, 120.0, 400.0]), 0.95) == pytest.approx(372)
    # 1000 values between 100 and 200: every percentile within RATIO_ERROR of the exact one
    values = [100 + (n * 7919 % 1000) / 10 for n in range(1000)]
    merged = histogram(values[:400])
    for key, (n, total) in histogram(values[400:]).items():
        merged.setdefault(key, [0, 0.0])
        merged[key] = [merged[key][0] + n, merged[key][1] + total]
    for fraction in (0.05, 0.5, 0.95, 0.99):
        exact = percentile(values, fraction)
        assert histogram_percentile(merged, fraction) == pytest.approx(exact, rel=RATIO_ERROR)
    assert histogram_percentile(merged, 0.5) != exact  # it is an approximation
