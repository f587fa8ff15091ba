"""The alerts admin: a rule is made with its destinations on one page, a test alert goes
out from the list, incidents, deliveries and webhook attempts are read-only records."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from ragengine.alerts.deliver import alert_test_send
from ragengine.models import AlertDelivery, AlertEvent, AlertRule, ProviderCircuit, WebhookAttempt
from tests.botcore import delivery_fixtures
from tests.factories import AlertDestinationFactory, AlertRuleFactory, WebhookFactory

pytestmark = pytest.mark.django_db
slack = delivery_fixtures.slack  # fixtures


def changelist(model: str) -> str:
    return reverse(f"admin:ragengine_{model}_changelist")


def test_a_rule_is_created_with_its_destinations(admin_client):
    hook = WebhookFactory(name="pager")
    data = {
        "name": "Errors", "kind": "error_rate", "enabled": "on", "threshold": "5",
        "window_minutes": "10", "min_questions": "5", "tier": "", "provider": "",
        "cooldown_minutes": "30",
        "destinations-TOTAL_FORMS": "2", "destinations-INITIAL_FORMS": "0",
        "destinations-MIN_NUM_FORMS": "0", "destinations-MAX_NUM_FORMS": "1000",
        "destinations-0-channel": "slack", "destinations-0-target": "C0ALERTS",
        "destinations-1-channel": "webhook", "destinations-1-webhook": str(hook.pk),
    }  # fmt: skip
    response = admin_client.post(reverse("admin:ragengine_alertrule_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = AlertRule.objects.get(name="Errors")
    assert sorted(str(d) for d in rule.destinations.all()) == ["Slack: C0ALERTS", "Webhook: pager"]

    page = admin_client.get(changelist("alertrule")).content.decode()
    assert "5% errors over 10 min" in page and "Slack: C0ALERTS" in page


def test_a_bad_destination_is_refused_with_the_reason(admin_client):
    data = {
        "name": "Latency", "kind": "latency_p95", "enabled": "on", "threshold": "2000",
        "window_minutes": "10", "min_questions": "5", "cooldown_minutes": "30",
        "destinations-TOTAL_FORMS": "1", "destinations-INITIAL_FORMS": "0",
        "destinations-MIN_NUM_FORMS": "0", "destinations-MAX_NUM_FORMS": "1000",
        "destinations-0-channel": "discord", "destinations-0-target": "#general",
    }  # fmt: skip
    response = admin_client.post(reverse("admin:ragengine_alertrule_add"), data)
    assert response.status_code == 200
    assert "A Discord channel id is a number." in response.content.decode()
    assert not AlertRule.objects.exists()


def test_send_test_alert_from_the_list(admin_client, slack):
    rule = AlertRuleFactory(name="Spend")
    AlertDestinationFactory(rule=rule, channel="slack", target="C0ALERTS")
    lonely = AlertRuleFactory(name="Nowhere")
    response = admin_client.post(
        changelist("alertrule"),
        {"action": "send_test_alert", "_selected_action": [rule.pk, lonely.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Spend: test sent to 1 of 1." in page
    assert "Nowhere: no destinations to test." in page
    assert len(slack.calls("chat.postMessage")) == 1
    assert AlertEvent.objects.get().is_test


def test_evaluate_now_reports_what_fired(admin_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rule = AlertRuleFactory(name="Circuit")
    AlertDestinationFactory(rule=rule, channel="email", target="ops@acme.example")
    ProviderCircuit.objects.create(name="stub", state="open", changed_at=timezone.now())
    response = admin_client.post(
        changelist("alertrule"),
        {"action": "evaluate_now", "_selected_action": [rule.pk]},
        follow=True,
    )
    assert "Fired: Circuit; resolved: none" in response.content.decode()
    page = admin_client.get(changelist("alertrule")).content.decode()
    assert "firing since" in page


def test_records_are_read_only_and_every_list_renders(admin_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rule = AlertRuleFactory()
    AlertDestinationFactory(rule=rule, channel="email", target="ops@acme.example")
    event = alert_test_send(rule=rule)
    hook = WebhookFactory()
    WebhookAttempt.objects.create(webhook=hook, attempt=1, status_code=503, error="HTTP 503")
    for model in ("alertevent", "alertdelivery", "webhookattempt", "providercircuit"):
        assert admin_client.get(changelist(model)).status_code == 200
        assert admin_client.get(reverse(f"admin:ragengine_{model}_add")).status_code == 403
    assert admin_client.get(changelist("webhook")).status_code == 200
    detail = admin_client.get(reverse("admin:ragengine_alertevent_change", args=[event.pk]))
    assert "ops@acme.example" in detail.content.decode()  # its deliveries, inline
    hook_page = admin_client.get(reverse("admin:ragengine_webhook_change", args=[hook.pk]))
    assert "HTTP 503" in hook_page.content.decode()  # its attempts, inline


def test_failed_notices_can_be_sent_again(admin_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rule = AlertRuleFactory()
    AlertDestinationFactory(rule=rule, channel="email", target="ops@acme.example")
    alert_test_send(rule=rule)
    AlertDelivery.objects.update(status="failed", attempts=3, error="boom")
    delivery = AlertDelivery.objects.get()
    admin_client.post(
        changelist("alertdelivery"), {"action": "retry", "_selected_action": [delivery.pk]}
    )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 1, "")
