"""Evaluation reports delivered by the doors: Block Kit to the local fake Slack Web API,
an embed to the fake Discord API, e-mail through Django's locmem backend; request bodies
asserted. A destination that fails is recorded with its reason and the others still go."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from ragengine.evaluation.deliveries import MAX_ATTEMPTS, deliveries_retry
from ragengine.evaluation.runs import run_start
from ragengine.evaluation.schedules import scheduled_run
from ragengine.models import EvalResult, EvalSchedule, ReportDelivery, WebhookAttempt
from tests.botcore import delivery_fixtures
from tests.factories import WebhookFactory
from tests.ragengine.alerts.webhook_receiver import WebhookReceiver
from tests.ragengine.evaluation.conftest import (  # noqa: F401 - fixtures
    _one_question_at_a_time,
    eval_set,
)

pytestmark = pytest.mark.django_db
discord, slack = delivery_fixtures.discord, delivery_fixtures.slack  # fixtures
DISCORD_CHANNEL = "112233445566"


@pytest.fixture
def schedule(eval_set, settings):  # noqa: F811
    settings.ARANDU_PUBLIC_URL = "https://arandu.acme.example"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return EvalSchedule.objects.create(
        name="nightly", eval_set=eval_set, targets=["extractive"],
        slack_channel="C0EVAL", discord_channel=DISCORD_CHANNEL, email_to="ops@acme.example",
    )  # fmt: skip


def statuses() -> dict[str, tuple[str, int, str]]:
    return {d.channel: (d.status, d.attempts, d.error) for d in ReportDelivery.objects.all()}


def test_a_scheduled_run_is_reported_natively_everywhere(schedule, slack, discord):
    run = scheduled_run(schedule_id=schedule.pk)
    url = f"https://arandu.acme.example/admin/ragengine/evalrun/{run.pk}/change/"

    assert statuses() == {c: ("sent", 1, "") for c in ("slack", "discord", "email")}

    (post,) = slack.calls("chat.postMessage")
    assert post.headers["Authorization"] == "Bearer xoxb-test-token"
    assert post.body["channel"] == "C0EVAL"
    blocks = post.body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": f"Evaluation of handbook: run {run.pk} finished"},
    }
    target = blocks[1]["text"]["text"]
    assert target.startswith("*extractive* — 6 cases, cost $0.000000\n")
    assert "Facts " in target and "Refusal " in target and "p95 " in target
    assert blocks[-2]["elements"][0]["text"] == "No regression, no drift."
    assert blocks[-1]["elements"][0]["url"] == url
    assert url in post.body["text"]

    (message,) = discord.posted_messages(int(DISCORD_CHANNEL))
    (embed,) = message.body["embeds"]
    assert embed["title"] == f"Evaluation of handbook: run {run.pk} finished"
    assert embed["url"] == url and embed["color"] == 0x2E7D32
    assert embed["fields"][0]["name"] == "extractive (6 cases)"
    assert "Facts " in embed["fields"][0]["value"]
    assert message.body["allowed_mentions"] == {"parse": []}

    (email,) = mail.outbox
    assert email.to == ["ops@acme.example"]
    assert email.subject == f"[Arandu] Evaluation of handbook: run {run.pk} finished (done)"
    assert url in email.body and "extractive — 6 cases" in email.body
    assert url in email.alternatives[0][0]


def test_regressions_and_drift_are_called_out(schedule, slack, discord, eval_set):  # noqa: F811
    baseline = run_start(eval_set=eval_set, specs=["extractive"])
    eval_set.baseline_run = baseline
    eval_set.save()
    # The baseline answered in a second flat; and the next run expects a fact no answer has.
    EvalResult.objects.filter(run=baseline).update(timings_ms={"total": 1_000_000.0})
    case = eval_set.cases.get(question="What is the minimum length for a password?")
    case.expected_facts = [["a fact no document states"]]
    case.save()

    run = scheduled_run(schedule_id=schedule.pk)

    run.refresh_from_db()
    assert run.flagged
    (post,) = slack.calls("chat.postMessage")
    texts = [b["text"]["text"] for b in post.body["blocks"] if b["type"] == "section"]
    assert any(t.startswith(f":warning: *Regressed since run {baseline.pk}*") for t in texts)
    assert any("fact_recall" in t for t in texts)
    assert any(
        "*Drift from the baseline*" in t and "latency distribution changed" in t for t in texts
    )
    assert "▼" in texts[0]  # the headline shows the fall

    (message,) = discord.posted_messages(int(DISCORD_CHANNEL))
    (embed,) = message.body["embeds"]
    assert embed["color"] == 0xC62828
    names = [f["name"] for f in embed["fields"]]
    assert f"⚠️ Regressed since run {baseline.pk}" in names and "📉 Drift from the baseline" in names
    assert "(regressions)" in mail.outbox[0].subject


def test_a_failing_destination_is_recorded_and_the_others_still_go(schedule, slack, discord):
    slack.errors["chat.postMessage"] = "channel_not_found"
    discord.state.fail_message_posts = True

    run = scheduled_run(schedule_id=schedule.pk)

    assert statuses() == {
        "slack": ("failed", 1, "Slack refused the message: channel_not_found"),
        "discord": ("failed", 1, statuses()["discord"][2]),
        "email": ("sent", 1, ""),
    }
    assert statuses()["discord"][2].startswith("Discord answered 403:")

    # Retried by the sweep up to MAX_ATTEMPTS, then left failed for a person to look at.
    slack.errors.clear()
    ReportDelivery.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    deliveries_retry()
    assert statuses()["slack"] == ("sent", 2, "")
    for _ in range(MAX_ATTEMPTS + 1):
        deliveries_retry()
    assert statuses()["discord"][:2] == ("failed", MAX_ATTEMPTS)
    assert len(mail.outbox) == 1  # a sent report is never sent twice
    assert run.deliveries.count() == 3


def test_without_tokens_the_reason_is_recorded(schedule, settings):
    settings.SLACK_BOT_TOKEN = settings.DISCORD_BOT_TOKEN = ""
    scheduled_run(schedule_id=schedule.pk)
    assert statuses()["slack"][2] == "SLACK_BOT_TOKEN is not set."
    assert statuses()["discord"][2] == "DISCORD_BOT_TOKEN is not set."
    assert statuses()["email"][0] == "sent"


def test_report_text_cannot_mention_everyone_or_form_links(schedule, slack, discord):
    schedule.eval_set.name = "<!channel> @everyone <https://evil.example|click>"
    schedule.eval_set.save()
    scheduled_run(schedule_id=schedule.pk)
    (post,) = slack.calls("chat.postMessage")
    assert "<!channel>" not in str(post.body["blocks"][1:])  # mrkdwn blocks: escaped
    assert "<!channel>" not in post.body["text"] and "&lt;!channel&gt;" in post.body["text"]
    assert post.body["blocks"][0]["text"]["type"] == "plain_text"  # never parsed
    (message,) = discord.posted_messages(int(DISCORD_CHANNEL))
    assert message.body["allowed_mentions"] == {"parse": []}


def test_a_report_goes_to_the_webhooks_that_list_its_schedule(
    schedule, slack, discord, monkeypatch
):
    monkeypatch.setenv("ARANDU_TEST_WEBHOOK_SECRET", "report-secret")
    with WebhookReceiver("report-secret") as receiver:
        listed = WebhookFactory(name="reports", url=receiver.url)
        listed.eval_schedules.add(schedule)
        WebhookFactory(name="unrelated", url=receiver.url)  # lists no schedule
        run = scheduled_run(schedule_id=schedule.pk)

    assert statuses()["webhook"] == ("sent", 1, "")
    assert ReportDelivery.objects.get(channel="webhook").destination == "reports"
    (received,) = receiver.received
    assert received.verified and received.headers["X-Arandu-Event"] == "evaluation.report"
    body = received.json
    assert body["type"] == "evaluation.report"
    assert body["report"]["run_id"] == run.pk and body["report"]["flagged"] is False
    assert body["report"]["targets"][0]["label"] == "extractive"
    attempt = WebhookAttempt.objects.get()
    assert (attempt.webhook, attempt.status_code, attempt.report_delivery.run) == (listed, 200, run)
