"""Alerts delivered by the doors: Block Kit to the local fake Slack Web API, an embed to
the fake Discord API, e-mail through locmem, a signed webhook to a loopback receiver; a
destination that fails is recorded and the others still go. And the whole story: a stub
model goes down, its circuit opens, one alert reaches Slack; it comes back, one
"resolved" follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from botcore.alerts import alert_deliveries_send
from ragengine.alerts.deliver import alert_test_send
from ragengine.alerts.evaluate import alerts_evaluate, rule_apply
from ragengine.alerts.rules import rule_measure
from ragengine.ask_types import AnswerMode, Channel
from ragengine.llm import registry
from ragengine.llm.circuit_record import circuit_change_record
from ragengine.llm.resilience import CircuitBreakers
from ragengine.models import (
    AlertDelivery,
    AlertEvent,
    CacheRule,
    ProviderCircuit,
    ProviderEndpoint,
    Tier,
    TierModel,
    Webhook,
)
from ragengine.services.ask import ask
from tests.botcore import delivery_fixtures
from tests.factories import (
    AlertDestinationFactory,
    AlertRuleFactory,
    MemberFactory,
    WebhookFactory,
)
from tests.ragengine.alerts.webhook_receiver import WebhookReceiver
from tests.ragengine.llm.replay_server import FakeClock, ReplayServer, Reply

pytestmark = pytest.mark.django_db
discord, slack = delivery_fixtures.discord, delivery_fixtures.slack  # fixtures
DISCORD_CHANNEL = "112233445566"
SECRET = "alert-webhook-secret-42"
CHAT = "/v1/chat/completions"


@pytest.fixture
def receiver(monkeypatch, settings):
    monkeypatch.setenv("ARANDU_TEST_WEBHOOK_SECRET", SECRET)
    settings.ARANDU_WEBHOOK_BACKOFF_S = 0.001
    with WebhookReceiver(SECRET, fail_first=1) as hook:
        yield hook


@pytest.fixture(autouse=True)
def _mail_and_links(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ARANDU_PUBLIC_URL = "https://arandu.acme.example"


def rule_everywhere(receiver=None, **fields):
    rule = AlertRuleFactory(name="Stub down", kind="circuit_open", **fields)
    AlertDestinationFactory(rule=rule, channel="slack", target="C0ALERTS")
    AlertDestinationFactory(rule=rule, channel="discord", target=DISCORD_CHANNEL)
    AlertDestinationFactory(rule=rule, channel="email", target="ops@acme.example")
    if receiver is not None:
        hook = WebhookFactory(name="pager", url=receiver.url)
        AlertDestinationFactory(rule=rule, channel="webhook", target="", webhook=hook)
    return rule


def open_circuit(name: str = "stub") -> None:
    ProviderCircuit.objects.update_or_create(
        name=name, defaults={"state": "open", "changed_at": timezone.now(), "failures": 5}
    )


def test_a_firing_alert_reaches_every_destination_natively(slack, discord, receiver):
    rule = rule_everywhere(receiver)
    open_circuit()
    alerts_evaluate()
    event = AlertEvent.objects.get(rule=rule)
    url = f"https://arandu.acme.example/admin/ragengine/alertevent/{event.pk}/change/"

    statuses = {d.channel: (d.status, d.attempts, d.error) for d in AlertDelivery.objects.all()}
    assert statuses == {c: ("sent", 1, "") for c in ("slack", "discord", "email", "webhook")}

    (post,) = slack.calls("chat.postMessage")
    assert post.body["channel"] == "C0ALERTS"
    section = post.body["blocks"][0]["text"]["text"]
    assert section.startswith(":rotating_light: *[FIRING] Stub down*\nProvider circuit open: stub")
    assert post.body["blocks"][-1]["elements"][0]["url"] == url

    (message,) = discord.posted_messages(int(DISCORD_CHANNEL))
    (embed,) = message.body["embeds"]
    assert embed["title"] == "🚨 [FIRING] Stub down" and embed["color"] == 0xC62828
    assert embed["url"] == url and "stub" in embed["description"]
    assert message.body["allowed_mentions"] == {"parse": []}

    (email,) = mail.outbox
    assert email.subject == "[Arandu] [FIRING] Stub down" and email.to == ["ops@acme.example"]
    assert url in email.body

    # The receiver failed the first attempt: retried, both recorded, both signed.
    first, second = receiver.received
    assert first.verified and second.verified and (first.status, second.status) == (503, 200)
    assert second.json["type"] == "alert.firing"
    assert second.json["alert"]["rule"] == "Stub down" and second.json["alert"]["url"] == url
    assert second.headers["X-Arandu-Event"] == "alert.firing"
    webhook_delivery = AlertDelivery.objects.get(channel="webhook")
    assert list(
        webhook_delivery.event.rule.destinations.get(channel="webhook")
        .webhook.attempts.order_by("pk")
        .values_list("attempt", "status_code", "alert_delivery")
    ) == [(1, 503, webhook_delivery.pk), (2, 200, webhook_delivery.pk)]


def test_a_failing_destination_is_recorded_and_the_others_still_go(slack, discord):
    discord.state.fail_message_posts = True
    slack.errors["chat.postMessage"] = "channel_not_found"
    rule_everywhere()
    open_circuit()
    alerts_evaluate()
    statuses = {d.channel: (d.status, d.error) for d in AlertDelivery.objects.all()}
    assert statuses["email"] == ("sent", "")
    assert statuses["slack"] == ("failed", "Slack refused the message: channel_not_found")
    assert statuses["discord"][0] == "failed" and "Discord answered" in statuses["discord"][1]


def test_a_webhook_that_keeps_failing_is_a_failed_delivery_with_every_attempt(
    monkeypatch, settings
):
    monkeypatch.setenv("ARANDU_TEST_WEBHOOK_SECRET", SECRET)
    settings.ARANDU_WEBHOOK_BACKOFF_S = 0.001
    with WebhookReceiver(SECRET, fail_first=100) as hook_server:
        rule = AlertRuleFactory(kind="circuit_open")
        hook = WebhookFactory(url=hook_server.url, max_attempts=3)
        AlertDestinationFactory(rule=rule, channel="webhook", target="", webhook=hook)
        open_circuit()
        alerts_evaluate()
    delivery = AlertDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.error.startswith("Webhook failed after 3 attempt(s): HTTP 503")
    assert hook.attempts.count() == 3


def test_the_admins_test_alert_reaches_the_destinations(slack):
    rule = AlertRuleFactory(kind="error_rate", threshold=10)
    AlertDestinationFactory(rule=rule, channel="slack", target="C0ALERTS")
    event = alert_test_send(rule=rule)
    assert event.is_test and event.state == "resolved"
    (post,) = slack.calls("chat.postMessage")
    assert post.body["blocks"][0]["text"]["text"].startswith(":bell: *[TEST] ")
    assert not AlertEvent.objects.filter(state="firing").exists()


# --- the whole story: a stub model goes down and comes back -------------------------------


@pytest.fixture
def breakers(monkeypatch):
    """The process's breakers, with a clock the test moves: two failures open a circuit
    for 30 s. Circuit changes are recorded as in production."""
    registry.reset_providers()
    clock = FakeClock()
    fresh = CircuitBreakers(
        failure_threshold=2, reset_after_s=30, clock=clock, on_change=circuit_change_record
    )
    monkeypatch.setattr(registry, "circuit_breakers", lambda: fresh)
    yield clock
    registry._provider.cache_clear()


def test_the_stub_model_down_then_back_is_one_alert_and_one_resolved(
    handbook, slack, breakers, monkeypatch, settings
):
    monkeypatch.setenv("ARANDU_TEST_OPENAI_API_KEY", "sk-test-fake-key")
    CacheRule.objects.update(enabled=False)
    settings.ARANDU_CACHE_DEFAULT_TTL = 0
    rule = AlertRuleFactory(name="Model down", kind="circuit_open", provider="stub")
    AlertDestinationFactory(rule=rule, channel="slack", target="C0ALERTS")

    with ReplayServer() as stub:
        endpoint = ProviderEndpoint.objects.create(
            name="stub", kind="openai", base_url=f"{stub.url}/v1",
            api_key_env="ARANDU_TEST_OPENAI_API_KEY", max_retries=0, timeout_s=5.0,
        )  # fmt: skip
        tier = Tier.objects.create(name="Pro")
        TierModel.objects.create(tier=tier, position=0, endpoint=endpoint, model="gpt-4o-mini")
        member = MemberFactory(tier=tier)

        def question():
            return ask(member=member, question="How many vacation days?", channel=Channel("cli"))

        stub.script(CHAT, Reply.from_fixture("openai_chat_completion"))
        assert question().mode == AnswerMode.GENERATED
        alerts_evaluate()
        assert slack.calls("chat.postMessage") == []

        stub.script(CHAT, Reply(status=503, body={"error": {"message": "down"}}))
        for _ in range(4):  # two failures open the circuit; then it fails fast
            assert question().mode == AnswerMode.EXTRACTIVE
        assert len(stub.requests_to(CHAT)) == 3
        assert ProviderCircuit.objects.get(name="stub").state == "open"
        for minute in range(5):  # five evaluations of the outage
            alerts_evaluate(now=timezone.now() + timedelta(minutes=minute))

        (fired,) = slack.calls("chat.postMessage")
        assert fired.body["channel"] == "C0ALERTS"
        assert "*[FIRING] Model down*" in fired.body["blocks"][0]["text"]["text"]
        assert "stub (since" in fired.body["blocks"][0]["text"]["text"]

        stub.script(CHAT, Reply.from_fixture("openai_chat_completion"))
        breakers.advance(31)  # the circuit lets a trial call through; it succeeds
        assert question().mode == AnswerMode.GENERATED
        assert ProviderCircuit.objects.get(name="stub").state == "closed"
        for minute in range(5, 10):
            alerts_evaluate(now=timezone.now() + timedelta(minutes=minute))

    first, resolved = slack.calls("chat.postMessage")  # one alert, one "resolved"
    assert first == fired
    assert "*[RESOLVED] Model down*" in resolved.body["blocks"][0]["text"]["text"]
    assert "resolved after" in resolved.body["blocks"][1]["elements"][0]["text"]
    (event,) = AlertEvent.objects.filter(rule=rule)
    assert event.state == "resolved"


def test_a_webhook_deleted_before_delivery_is_a_failure_with_the_reason(receiver, caplog):
    rule = rule_everywhere(receiver)
    rule.destinations.exclude(channel="webhook").delete()
    open_circuit()
    # The notice is recorded, then the webhook goes before the doors deliver it.
    with pytest.MonkeyPatch.context() as patch:  # the doors are not told yet
        patch.setattr("ragengine.alerts.evaluate.alerts_announce", lambda **kwargs: None)
        event = rule_apply(rule=rule, measurement=rule_measure(rule=rule), now=timezone.now())
    Webhook.objects.filter(name="pager").delete()  # its destination goes with it
    assert alert_deliveries_send(event_id=event.pk) == 0
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.error) == (
        "failed",
        "The webhook 'pager' no longer exists.",
    )
    assert receiver.received == []
    assert SECRET not in caplog.text


def test_an_unknown_incident_delivers_nothing():
    assert alert_deliveries_send(event_id=987654) == 0
