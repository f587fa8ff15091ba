"""Evaluation runs end to end with django-q2 in sync mode: targets side by side through
the same ask() as every door, evaluation members with their own budget, the cache
bypassed, failing providers, cancellation and the sweep of runs whose worker died."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ragengine.evaluation import runner
from ragengine.evaluation.runs import RunError, run_cancel, run_start, run_sweep_stale
from ragengine.models import (
    CachedAnswer,
    CacheEvent,
    EvalResult,
    EvalRun,
    EvalSet,
    Member,
    Tier,
    TierModel,
    UsageRecord,
)
from ragengine.services.ask import ask
from tests.factories import MemberFactory
from tests.ragengine.evaluation.conftest import CHAT, SMALL, endpoint_at

pytestmark = pytest.mark.django_db
MODEL = "model:stub:gpt-4o-mini"


def results(run, spec):
    return list(EvalResult.objects.filter(run=run, target__spec=spec).order_by("position"))


def no_nan(value) -> bool:
    if isinstance(value, dict):
        return all(no_nan(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nan(v) for v in value)
    return not (isinstance(value, float) and math.isnan(value))


def test_a_run_answers_every_case_for_every_target_side_by_side(
    eval_set, stub_endpoint, model_server
):
    people = Member.objects.count()

    run = run_start(eval_set=eval_set, specs=["extractive", MODEL], concurrency=1)

    run.refresh_from_db()
    assert run.status == "done", run.error
    assert (run.cases_done, run.cases_total) == (12, 12)
    extractive, model = results(run, "extractive"), results(run, MODEL)
    assert [r.question for r in extractive] == [r.question for r in model] == list(SMALL)
    assert {r.mode for r in extractive} == {"extractive"}
    assert {r.mode for r in model[:4]} == {"generated"}  # the answerable ones
    assert len(model_server.requests_to(CHAT)) >= 4

    summary = run.summary["targets"]
    assert set(summary) == {"extractive", MODEL}
    assert summary[MODEL]["tokens_in"] > 0 and Decimal(summary[MODEL]["cost"]) > 0
    assert Decimal(summary["extractive"]["cost"]) == 0
    recall = summary["extractive"]["metrics"]["fact_recall"]
    assert (recall["n"], recall["total"]) == (4, 6)  # unanswerable cases have no facts
    assert summary["extractive"]["metrics"]["refusal_accuracy"]["n"] == 6
    assert summary["extractive"]["latency_ms"]["total"]["p95"] > 0
    assert "leave" in run.summary["tags"]["extractive"]
    assert no_nan(run.summary)

    # Every question was asked by the run's own evaluation members, on evaluation tiers,
    # in the channel eval:run:<id>: no real person's budget, no real tier.
    rows = UsageRecord.objects.filter(channel=f"eval:run:{run.pk}")
    assert rows.count() == 12
    assert Member.objects.count() == people + 2
    assert {r.member.display_name.split(":")[1] for r in rows} == {f"run{run.pk}"}
    assert all(r.tier.name.startswith("eval:") and not r.tier.is_default for r in rows)
    assert not UsageRecord.objects.exclude(channel=f"eval:run:{run.pk}").exists()


def test_a_tier_target_copies_the_chain_and_limits_but_not_the_rate_limits(eval_set, stub_endpoint):
    pro = Tier.objects.create(name="Pro", max_output_tokens=123, questions_per_hour=1)
    TierModel.objects.create(tier=pro, endpoint=stub_endpoint, model="gpt-4o-mini")

    run = run_start(eval_set=eval_set, specs=["tier:Pro"], budget_cap=Decimal("2"))

    run.refresh_from_db()
    target = run.targets.get()
    assert run.status == "done"
    assert (target.tier.max_output_tokens, target.tier.questions_per_hour) == (123, None)
    assert target.tier.daily_budget == target.tier.monthly_budget == Decimal("2")
    assert [str(s) for s in target.tier.chain.all()] == ["stub:gpt-4o-mini"]
    assert all(r.status == "ok" for r in results(run, "tier:Pro"))  # not rate-limited


@pytest.mark.parametrize(
    "setup, specs, message",
    [
        ("no sets", ["extractive"], "has no knowledge sets"),
        ("no cases", ["extractive"], "has no enabled cases"),
        ("", ["tier:Nope"], "There is no tier named 'Nope'"),
        ("", ["model:nope:gpt-4o"], "no provider endpoint named 'nope'"),
        ("", ["model:stub:no-such-model"], "stub:no-such-model has no price"),
        ("", ["gpt-4o"], "'gpt-4o' is not a target"),
        ("", ["  "], "Pick at least one target"),
    ],
)
def test_runs_that_cannot_measure_anything_are_refused(
    eval_set, stub_endpoint, setup, specs, message
):
    if setup == "no sets":
        eval_set.knowledge_sets.clear()
    if setup == "no cases":
        eval_set.cases.update(enabled=False)
    with pytest.raises(RunError, match=message):
        run_start(eval_set=eval_set, specs=specs)
    assert not EvalRun.objects.exists()


def test_a_bypassed_run_never_reads_or_writes_the_cache(eval_set):
    member = MemberFactory()
    from ragengine.ask_types import Channel

    for question in SMALL:  # a real person's answers are cached
        ask(member=member, question=question, channel=Channel("cli", "", ("handbook",)))
    cached, events = CachedAnswer.objects.count(), CacheEvent.objects.count()
    assert cached >= 4

    run = run_start(eval_set=eval_set, specs=["extractive"])

    assert {r.mode for r in results(run, "extractive")} == {"extractive"}
    assert (CachedAnswer.objects.count(), CacheEvent.objects.count()) == (cached, events)

    with_cache = run_start(eval_set=eval_set, specs=["extractive"], use_cache=True)
    assert "cached" in {r.mode for r in results(with_cache, "extractive")}


def test_a_failing_provider_fails_its_cases_with_the_reason_and_the_run_completes(eval_set):
    endpoint_at("http://127.0.0.1:9", name="down")  # nothing listens on port 9

    run = run_start(eval_set=eval_set, specs=["model:down:gpt-4o-mini", "extractive"])

    run.refresh_from_db()
    assert run.status == "done"
    down = results(run, "model:down:gpt-4o-mini")
    answerable = [r for r in down if not r.must_refuse]
    assert {r.status for r in answerable} == {"failed"}
    assert all(r.mode == "fallback" for r in answerable)
    assert all("down:gpt-4o-mini" in r.error for r in answerable), answerable[0].error
    assert {r.status for r in results(run, "extractive")} == {"ok"}
    summary = run.summary["targets"]["model:down:gpt-4o-mini"]
    assert summary["failed"] >= 4 and summary["metrics"]["failure_rate"]["value"] >= 4 / 6


def test_the_budget_cap_stops_a_target_spending_and_says_so(eval_set, stub_endpoint):
    run = run_start(eval_set=eval_set, specs=[MODEL], budget_cap=Decimal("0.000001"))

    rows = results(run, MODEL)
    answerable = [r for r in rows if not r.must_refuse]
    assert answerable and all(r.status == "failed" for r in answerable)
    assert "budget cap" in answerable[0].error
    spent = sum(r.cost for r in UsageRecord.objects.filter(channel=f"eval:run:{run.pk}"))
    assert spent <= Decimal("0.000001")


def test_a_queued_run_cancelled_never_starts(eval_set):
    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    assert run_cancel(run=run)
    assert runner.run_execute(run_id=run.pk) is None
    run.refresh_from_db()
    assert (run.status, run.cases_done) == ("cancelled", 0)


def test_a_running_run_stops_after_a_cancel_keeping_its_results(eval_set, monkeypatch):
    monkeypatch.setattr(runner, "CANCEL_CHECK_S", 0)
    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    real_ask = runner.ask
    asked = []

    def ask_then_cancel(**kwargs):
        answer = real_ask(**kwargs)
        asked.append(kwargs["question"])
        if len(asked) == 1:
            assert run_cancel(run=run)
        return answer

    monkeypatch.setattr(runner, "ask", ask_then_cancel)
    runner.run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.cases_done == 1 == EvalResult.objects.filter(run=run).count()  # the one in flight
    assert run.summary["targets"]["extractive"]["cases"] == 1
    assert not run_cancel(run=run)  # finished: nothing to cancel


def test_an_error_in_the_runner_fails_the_run_with_its_partial_results(eval_set, monkeypatch):
    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    calls = []

    def broken_ranking(trace, *, k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return []

    monkeypatch.setattr(runner, "ranking_from_trace", broken_ranking)
    runner.run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == "failed" and run.error == "OSError: disk full"
    assert run.summary["targets"]["extractive"]["cases"] == 2


def test_the_sweep_fails_runs_whose_worker_died_and_keeps_what_they_answered(eval_set, settings):
    settings.ARANDU_EVAL_STALE_MINUTES = 10
    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    alive = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    never = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    long_ago = timezone.now() - timedelta(minutes=11)
    EvalRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=long_ago, cases_done=1)
    EvalRun.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now())
    EvalRun.objects.filter(pk=never.pk).update(created_at=timezone.now() - timedelta(hours=7))
    target = run.targets.get()
    EvalResult.objects.create(run=run, target=target, question="Q", status="ok", mode="extractive")

    assert run_sweep_stale() == 2

    run.refresh_from_db()
    assert run.status == "failed" and "stopped" in run.error
    assert run.summary["targets"]["extractive"]["cases"] == 1 and run.finished_at
    never.refresh_from_db()
    assert never.status == "failed" and "No worker took this run" in never.error
    alive.refresh_from_db()
    assert alive.status == "running"
    assert runner.run_execute(run_id=run.pk) is None  # a late redelivery does nothing


def test_a_set_without_knowledge_sets_at_run_time_is_never_asked_everywhere(eval_set):
    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    eval_set.knowledge_sets.clear()
    runner.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "no knowledge sets" in run.error
    assert not UsageRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_questions_answer_every_pair_once(handbook, stub_endpoint):
    from django.db import connection

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "in-memory SQLite locks whole tables across threads; the worker-process test "
            "runs concurrently on a SQLite file, and PostgreSQL runs this one"
        )
    from ragengine.models import ModelPrice

    # transactional tests run after others flushed the seeded price table
    ModelPrice.objects.get_or_create(provider_kind="openai", model="gpt-4o-mini")
    eval_set = EvalSet.objects.create(name="concurrent")
    eval_set.knowledge_sets.set([handbook])
    from ragengine.evaluation.cases_io import eval_cases_import
    from tests.ragengine.evaluation.conftest import example_cases

    eval_cases_import(eval_set=eval_set, cases=example_cases())

    run = run_start(eval_set=eval_set, specs=["extractive", MODEL], concurrency=4)

    run.refresh_from_db()
    assert run.status == "done", run.error
    assert EvalResult.objects.filter(run=run).count() == run.cases_done == 12
    assert EvalResult.objects.filter(run=run, status="ok").count() == 12


def test_the_sweep_is_scheduled_every_five_minutes():
    from django_q.models import Schedule

    sweep = Schedule.objects.get(func="ragengine.tasks.evaluation_sweep_task")
    assert (sweep.schedule_type, sweep.minutes, sweep.repeats) == ("I", 5, -1)


def test_the_ranking_metrics_use_what_ask_retrieved_without_searching_again(eval_set, monkeypatch):
    searches = []
    real = runner.retrieve_for_evaluation
    monkeypatch.setattr(
        runner, "retrieve_for_evaluation", lambda **kw: searches.append(kw) or real(**kw)
    )
    run = run_start(eval_set=eval_set, specs=["extractive"], use_cache=False, enqueue=False)
    runner.run_execute(run_id=run.pk)

    answered = EvalResult.objects.filter(run=run, status="ok").exclude(mode="refused")
    assert answered.exists() and searches == []
    found = answered.exclude(retrieved=[])
    assert found.count() >= answered.count() // 2
    for result in found:  # the cited documents come from that ranking
        cited = {s["document_id"] for s in result.sources}
        assert cited <= set(result.retrieved)
    # the same cases answered from the cache search once each (ask() did not search)
    cached = run_start(eval_set=eval_set, specs=["extractive"], use_cache=True, enqueue=False)
    runner.run_execute(run_id=cached.pk)
    again = run_start(eval_set=eval_set, specs=["extractive"], use_cache=True, enqueue=False)
    runner.run_execute(run_id=again.pk)
    hits = EvalResult.objects.filter(run=again, mode="cached")
    assert hits.exists() and len(searches) >= hits.count()
    first = {r.case_id: r.retrieved for r in EvalResult.objects.filter(run=run)}
    assert all(r.retrieved == first[r.case_id] for r in hits)
