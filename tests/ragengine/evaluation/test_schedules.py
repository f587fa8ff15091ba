"""Scheduled evaluations: each schedule kept in step with a django-q2 Schedule, its runs
leaving one pending report per destination; the engine itself never imports a door."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from ragengine.evaluation import deliveries
from ragengine.evaluation.schedules import Q_FUNC, scheduled_run
from ragengine.evaluation.signals import reports_pending
from ragengine.models import EvalRun, EvalSchedule, ReportDelivery

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def form(eval_set, **fields):
    return {
        "name": "nightly",
        "eval_set": eval_set.pk,
        "targets": "extractive",
        "frequency": "daily",
        "cron": "",
        "budget_cap": "1",
        "slack_channel": "",
        "discord_channel": "",
        "email_to": "",
        "enabled": "on",
        **fields,
    }


def test_admin_keeps_a_django_q_schedule_in_step(admin_client, eval_set):
    add = admin_client.post(reverse("admin:ragengine_evalschedule_add"), form(eval_set))
    assert add.status_code == 302, add.content.decode()[:2000]
    schedule = EvalSchedule.objects.get()
    q = schedule.q_schedule
    assert (q.func, q.args, q.schedule_type, q.repeats) == (Q_FUNC, str(schedule.pk), "D", -1)
    assert timedelta(hours=23) < q.next_run - timezone.now() <= timedelta(days=1)

    change = reverse("admin:ragengine_evalschedule_change", args=[schedule.pk])
    admin_client.post(change, form(eval_set, frequency="cron", cron="0 6 * * 1-5"))
    q.refresh_from_db()
    assert (q.schedule_type, q.cron) == ("C", "0 6 * * 1-5")
    assert timezone.localtime(q.next_run).hour == 6

    admin_client.post(change, form(eval_set, frequency="cron", cron="0 6 * * 1-5", enabled=""))
    assert not Schedule.objects.filter(pk=q.pk).exists()
    schedule.refresh_from_db()
    assert schedule.q_schedule is None

    admin_client.post(change, form(eval_set, frequency="weekly"))
    schedule.refresh_from_db()
    assert schedule.q_schedule.schedule_type == "W"
    admin_client.post(
        reverse("admin:ragengine_evalschedule_delete", args=[schedule.pk]), {"post": "yes"}
    )
    assert not EvalSchedule.objects.exists()
    assert not Schedule.objects.filter(func=Q_FUNC).exists()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"targets": "tier:Nope"}, "There is no tier named"),
        ({"targets": ""}, "at least one target"),
        ({"frequency": "cron", "cron": "every day"}, "five fields"),
        ({"frequency": "cron", "cron": "0 25 * * *"}, "Not a valid cron expression"),
        ({"email_to": "ops@acme.example, nobody"}, "is not an e-mail address"),
    ],
)
def test_a_schedule_that_could_not_run_is_refused(admin_client, eval_set, fields, message):
    response = admin_client.post(
        reverse("admin:ragengine_evalschedule_add"), form(eval_set, **fields)
    )
    assert message in response.content.decode()
    assert not EvalSchedule.objects.exists() and not Schedule.objects.filter(func=Q_FUNC).exists()


@pytest.fixture
def announced():
    """The runs the engine announces as having reports to deliver, with the doors'
    receiver unplugged (what the engine does on its own)."""
    from botcore.reports import on_reports_pending

    runs: list[int] = []

    def listener(sender, run, **kwargs):
        runs.append(run.pk)

    reports_pending.disconnect(dispatch_uid="botcore.reports")
    reports_pending.connect(listener, dispatch_uid="test-listener")
    yield runs
    reports_pending.disconnect(dispatch_uid="test-listener")
    reports_pending.connect(on_reports_pending, dispatch_uid="botcore.reports")


def test_a_scheduled_run_leaves_one_pending_report_per_destination(eval_set, announced):
    schedule = EvalSchedule.objects.create(
        name="nightly", eval_set=eval_set, targets=["extractive"],
        slack_channel="C0EVAL", discord_channel="123456", email_to="a@acme.example, b@acme.example",
    )  # fmt: skip

    run = scheduled_run(schedule_id=schedule.pk)

    assert run.status == "done" and run.schedule == schedule
    assert announced == [run.pk]
    rows = sorted(ReportDelivery.objects.values_list("channel", "destination", "status"))
    assert rows == [
        ("discord", "123456", "pending"),
        ("email", "a@acme.example", "pending"),
        ("email", "b@acme.example", "pending"),
        ("slack", "C0EVAL", "pending"),
    ]
    # still pending later (the worker died): offered again by the sweep
    announced.clear()
    assert deliveries.deliveries_retry() == 0  # not yet
    ReportDelivery.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert deliveries.deliveries_retry() == 1
    assert announced == [run.pk]


def test_a_run_without_a_schedule_leaves_no_reports(eval_set, announced):
    from ragengine.evaluation.runs import run_start

    run_start(eval_set=eval_set, specs=["extractive"])
    assert not ReportDelivery.objects.exists() and announced == []


def test_a_schedule_gone_or_disabled_runs_nothing(eval_set):
    schedule = EvalSchedule.objects.create(
        name="off", eval_set=eval_set, targets=["extractive"], enabled=False
    )
    assert scheduled_run(schedule_id=schedule.pk) is None
    left_behind = Schedule.objects.create(func=Q_FUNC, args="999", schedule_type="D")
    assert scheduled_run(schedule_id=999) is None
    assert not Schedule.objects.filter(pk=left_behind.pk).exists()  # cleaned up
    assert not EvalRun.objects.exists()


def test_the_engine_never_imports_a_door():
    doors = ("botcore", "adminsite")
    offenders = []
    for path in (ROOT / "ragengine").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in doors
            ]
    assert offenders == []
