"""Incidents over time, with the clock passed in: an outage is one "firing" and one
"resolved", however many minutes it lasts; a flap within the cool-down is recorded but
not sent; a condition that outlasts the cool-down is announced after all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django_q.models import Schedule

from ragengine.alerts import evaluate
from ragengine.alerts.evaluate import alerts_evaluate
from ragengine.alerts.rules import Measurement
from ragengine.models import AlertDelivery, AlertEvent, ProviderCircuit
from ragengine.tasks import alerts_evaluate_task
from tests.factories import AlertDestinationFactory, AlertRuleFactory
from tests.ragengine.alerts.helpers import NOW

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def rule():
    rule = AlertRuleFactory(name="Stub down", kind="circuit_open", cooldown_minutes=30)
    AlertDestinationFactory(
        rule=rule, channel="email", target="ops@acme.example, oncall@acme.example"
    )
    return rule


def circuit(state: str) -> None:
    ProviderCircuit.objects.update_or_create(
        name="stub", defaults={"state": state, "changed_at": NOW, "failures": 5}
    )


def sent() -> list[tuple[str, list[str]]]:
    return [(m.subject, m.to) for m in mail.outbox]


def test_an_outage_is_one_firing_and_one_resolved(rule):
    circuit("open")
    for minute in range(10):  # the outage lasts ten evaluations
        alerts_evaluate(now=NOW + minute * MINUTE)
    assert sent() == [
        ("[Arandu] [FIRING] Stub down", ["ops@acme.example"]),
        ("[Arandu] [FIRING] Stub down", ["oncall@acme.example"]),
    ]
    (event,) = AlertEvent.objects.all()
    assert event.state == "firing" and event.started_at == NOW
    assert event.last_checked_at == NOW + 9 * MINUTE

    circuit("closed")
    for minute in range(10, 15):
        alerts_evaluate(now=NOW + minute * MINUTE)
    assert [s for s, _ in sent()].count("[Arandu] [RESOLVED] Stub down") == 2
    assert len(mail.outbox) == 4
    event.refresh_from_db()
    assert event.state == "resolved" and event.resolved_at == NOW + 10 * MINUTE
    assert "Resolved: Every provider circuit is closed." in event.message
    assert AlertDelivery.objects.filter(status="sent").count() == 4


def test_a_refire_within_the_cooldown_is_recorded_not_sent(rule):
    circuit("open")
    alerts_evaluate(now=NOW)
    circuit("closed")
    alerts_evaluate(now=NOW + MINUTE)
    mail.outbox.clear()

    circuit("open")  # flaps back 5 minutes after it was resolved
    summary = alerts_evaluate(now=NOW + 6 * MINUTE)
    assert summary.suppressed == ["Stub down"] and mail.outbox == []
    circuit("closed")
    alerts_evaluate(now=NOW + 7 * MINUTE)
    assert mail.outbox == []  # its "resolved" is not sent either
    flap = AlertEvent.objects.order_by("-pk").first()
    assert (flap.state, flap.announced) == ("resolved", False)

    circuit("open")  # 40 minutes after the last announcement: news again
    summary = alerts_evaluate(now=NOW + 41 * MINUTE)
    assert summary.fired == ["Stub down"] and len(mail.outbox) == 2


def test_a_condition_that_outlasts_the_cooldown_is_announced_once_it_is_over(rule):
    circuit("open")
    alerts_evaluate(now=NOW)
    circuit("closed")
    alerts_evaluate(now=NOW + MINUTE)
    mail.outbox.clear()
    circuit("open")  # back within the cool-down, and this time it stays
    for minute in range(2, 31):
        alerts_evaluate(now=NOW + minute * MINUTE)
    assert mail.outbox == []
    alerts_evaluate(now=NOW + 31 * MINUTE)  # 30 minutes after the "resolved"
    assert [m.subject for m in mail.outbox] == ["[Arandu] [FIRING] Stub down"] * 2
    for minute in range(32, 40):
        alerts_evaluate(now=NOW + minute * MINUTE)
    assert len(mail.outbox) == 2
    circuit("closed")
    alerts_evaluate(now=NOW + 40 * MINUTE)
    assert [m.subject for m in mail.outbox][2:] == ["[Arandu] [RESOLVED] Stub down"] * 2


def test_disabled_rules_are_not_evaluated(rule):
    rule.enabled = False
    rule.save()
    circuit("open")
    alerts_evaluate(now=NOW)
    assert not AlertEvent.objects.exists() and mail.outbox == []


def test_one_rule_that_cannot_be_measured_does_not_stop_the_others(rule, monkeypatch):
    broken = AlertRuleFactory(name="Broken", kind="error_rate", threshold=5)
    real = evaluate.rule_measure

    def measure(*, rule, now):
        if rule.pk == broken.pk:
            raise RuntimeError("database hiccup")
        return real(rule=rule, now=now)

    monkeypatch.setattr(evaluate, "rule_measure", measure)
    circuit("open")
    summary = alerts_evaluate(now=NOW)
    assert summary.failed == ["Broken"] and summary.fired == ["Stub down"]


def test_two_evaluators_cannot_open_two_incidents(rule):
    evaluate.rule_apply(rule=rule, measurement=Measurement(True, 1.0, "open"), now=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertEvent.objects.create(rule=rule, started_at=NOW, last_checked_at=NOW)
    # The loser of the race sees the constraint and sends nothing.
    assert (
        evaluate._open(rule, Measurement(True, 1.0, "open"), NOW, evaluate.EvaluationSummary())
        is None
    )
    assert AlertEvent.objects.count() == 1 and len(mail.outbox) == 2


def test_a_failed_notice_is_offered_again_by_a_later_evaluation(rule, settings):
    settings.EMAIL_BACKEND = "tests.ragengine.alerts.test_evaluate.RefusingBackend"
    circuit("open")
    alerts_evaluate(now=NOW)
    assert set(AlertDelivery.objects.values_list("status", "attempts")) == {("failed", 1)}
    assert "could not be reached" in AlertDelivery.objects.first().error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    AlertDelivery.objects.update(created_at=NOW - 5 * MINUTE)
    alerts_evaluate(now=NOW + 5 * MINUTE)  # the retry sweep runs with every evaluation
    assert set(AlertDelivery.objects.values_list("status", "attempts")) == {("sent", 2)}
    assert len(mail.outbox) == 2


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("connection refused")


def test_the_worker_runs_the_evaluation_every_minute(rule):
    schedule = Schedule.objects.get(name="arandu: evaluate alerts")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "ragengine.tasks.alerts_evaluate_task", "I", 1, -1,
    )  # fmt: skip
    ProviderCircuit.objects.create(name="stub", state="open", changed_at=NOW)
    assert alerts_evaluate_task() == "fired 1, resolved 0, suppressed 0, failed 0"
    assert len(mail.outbox) == 2
