"""`manage.py alerts`: evaluate now (some kinds only: the worker-down check runs outside
the worker) and send a rule's test alert."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from ragengine.models import AlertEvent, ProviderCircuit
from tests.factories import AlertDestinationFactory, AlertRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def run(*args: str) -> str:
    out = StringIO()
    call_command("alerts", *args, stdout=out)
    return out.getvalue()


def test_evaluate_only_the_worker_check_from_outside_the_worker():
    worker = AlertRuleFactory(name="Worker", kind="worker_down")
    AlertDestinationFactory(rule=worker, channel="email", target="ops@acme.example")
    circuit = AlertRuleFactory(name="Circuit", kind="circuit_open")
    ProviderCircuit.objects.create(name="stub", state="open", changed_at=timezone.now())
    Schedule.objects.update(next_run=timezone.now() - timedelta(minutes=30))  # nobody runs them

    out = run("evaluate", "--kind", "worker_down")

    assert "fired: Worker" in out
    assert AlertEvent.objects.filter(rule=worker, state="firing").exists()
    assert not AlertEvent.objects.filter(rule=circuit).exists()
    assert mail.outbox[0].subject == "[Arandu] [FIRING] Worker"


def test_send_a_test_alert_by_rule_name():
    rule = AlertRuleFactory(name="Spend")
    AlertDestinationFactory(rule=rule, channel="email", target="ops@acme.example")
    assert run("test", "Spend") == "email ops@acme.example: sent\n"
    assert mail.outbox[0].subject == "[Arandu] [TEST] Spend"
    with pytest.raises(CommandError, match="No alert rule is named 'Nope'"):
        run("test", "Nope")
    AlertRuleFactory(name="Lonely")
    with pytest.raises(CommandError, match="has no destinations"):
        run("test", "Lonely")
