"""Delivering evaluation reports: the engine leaves a pending ReportDelivery per
destination of a finished scheduled run and sends `reports_pending`; this posts each one,
short and native to where it goes, and records how it went.

- Slack: chat.postMessage with Block Kit (settings.SLACK_API_URL, SLACK_BOT_TOKEN);
- Discord: POST /channels/{id}/messages with an embed (DISCORD_API_URL, DISCORD_BOT_TOKEN);
- e-mail: django.core.mail (EMAIL_URL, ARANDU_EMAIL_FROM);
- webhooks the schedule is listed on: the report as signed JSON (`ragengine.alerts.webhooks`).

The transport and the claim-send-record loop are shared with alerts (`botcore.delivery`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.conf import settings
from django.utils.html import escape as html_escape

from botcore.delivery import (
    DeliveryError,
    deliveries_send,
    post_discord,
    post_slack,
    send_email,
    webhook_outcome,
)
from botcore.slack.blocks import escape
from ragengine.alerts.webhooks import webhook_post
from ragengine.evaluation.deliveries import deliveries_due
from ragengine.evaluation.report import RunReport, run_report
from ragengine.models import DeliveryChannel, EvalRun, ReportDelivery, Webhook

logger = logging.getLogger(__name__)

DELIVERY_TASK = "botcore.tasks.report_deliveries_task"
GREEN, RED = 0x2E7D32, 0xC62828
_MARK = {"improved": "▲", "regressed": "▼"}


def on_reports_pending(sender: Any, run: EvalRun, **kwargs: Any) -> None:
    """Receiver of ragengine.evaluation.signals.reports_pending: deliver off the caller's
    path, as a django-q2 task (inline in sync mode)."""
    from django_q.tasks import async_task

    async_task(
        DELIVERY_TASK,
        run.pk,
        task_name=f"evaluation reports of run {run.pk}",
        sync=bool(settings.Q_CLUSTER.get("sync")),
    )


def report_deliveries_send(*, run_id: int) -> int:
    """Post every due report of the run; returns how many were sent."""
    run = EvalRun.objects.select_related("eval_set").filter(pk=run_id).first()
    if run is None:
        return 0
    report = run_report(run=run)
    return deliveries_send(
        deliveries_due(run=run), lambda delivery: SENDERS[delivery.channel](report, delivery)
    )


# --- what each destination gets -----------------------------------------------------------


def _score_text(score) -> str:
    mark = _MARK.get(score.verdict, "")
    change = f" ({mark}{score.change})" if score.change else ""
    return f"{score.label} {score.value}{change}"


def slack_message(report: RunReport) -> dict[str, Any]:
    """Block Kit: a header, one section per target, regressions and drift, a button."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": report.title[:150]}}
    ]
    if report.error:
        blocks.append(_mrkdwn(f":x: {escape(report.error[:500])}"))
    for target in report.targets:
        scores = " · ".join(escape(_score_text(s)) for s in target.scores)
        blocks.append(
            _mrkdwn(
                f"*{escape(target.label)}* — {target.cases} cases, cost {escape(target.cost)}\n"
                f"{scores}"
            )
        )
    if report.regressions:
        lines = "\n".join(f"• {escape(r)}" for r in report.regressions[:10])
        blocks.append(_mrkdwn(f":warning: *Regressed since run {report.against}*\n{lines}"))
    if report.drift:
        lines = "\n".join(f"• {escape(d)}" for d in report.drift[:10])
        blocks.append(_mrkdwn(f":chart_with_downwards_trend: *Drift from the baseline*\n{lines}"))
    if not report.flagged:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "No regression, no drift."}],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open the run"},
                    "url": report.url,
                    "action_id": "open_evaluation_run",
                }
            ],
        }
    )
    return {"text": escape(f"{report.title} — {report.url}"), "blocks": blocks}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def discord_message(report: RunReport) -> dict[str, Any]:
    """One embed: a field per target, regressions and drift, red when anything is wrong."""
    fields = [
        {
            "name": f"{target.label} ({target.cases} cases)"[:256],
            "value": (" · ".join(_score_text(s) for s in target.scores) + f" · cost {target.cost}")[
                :1024
            ],
            "inline": False,
        }
        for target in report.targets[:20]
    ]
    if report.regressions:
        fields.append(
            {
                "name": f"⚠️ Regressed since run {report.against}",
                "value": "\n".join(report.regressions[:10])[:1024],
                "inline": False,
            }
        )
    if report.drift:
        fields.append(
            {
                "name": "📉 Drift from the baseline",
                "value": "\n".join(report.drift[:10])[:1024],
                "inline": False,
            }
        )
    embed = {
        "title": report.title[:256],
        "url": report.url,
        "description": (report.error or ("No regression, no drift." if not report.flagged else ""))[
            :4096
        ],
        "color": RED if report.flagged else GREEN,
        "fields": fields,
    }
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def email_message(report: RunReport) -> tuple[str, str, str]:
    """Subject, plain text and HTML."""
    flag = "regressions" if report.regressions else "drift" if report.drift else report.status
    subject = f"[Arandu] {report.title} ({flag})"
    lines = [report.title, ""]
    if report.error:
        lines += [report.error, ""]
    for target in report.targets:
        lines.append(f"{target.label} — {target.cases} cases, cost {target.cost}")
        lines.append("  " + " · ".join(_score_text(s) for s in target.scores))
    if report.regressions:
        lines += ["", f"Regressed since run {report.against}:"]
        lines += [f"  - {r}" for r in report.regressions]
    if report.drift:
        lines += ["", "Drift from the baseline:"] + [f"  - {d}" for d in report.drift]
    lines += ["", f"The run: {report.url}"]
    text = "\n".join(lines)
    html = (
        f'<pre>{html_escape(text)}</pre><p><a href="{html_escape(report.url)}">Open the run</a></p>'
    )
    return subject, text, html


# --- sending -----------------------------------------------------------------------------


def send_slack(report: RunReport, delivery: ReportDelivery) -> None:
    post_slack(channel=delivery.destination, message=slack_message(report))


def send_discord(report: RunReport, delivery: ReportDelivery) -> None:
    post_discord(channel_id=delivery.destination, message=discord_message(report))


def send_email_report(report: RunReport, delivery: ReportDelivery) -> None:
    subject, text, html = email_message(report)
    send_email(to=delivery.destination, subject=subject, text=text, html=html)


def webhook_payload(report: RunReport, delivery: ReportDelivery) -> dict[str, Any]:
    return {
        "type": "evaluation.report",
        "delivery_id": delivery.pk,
        "report": dataclasses.asdict(report) | {"flagged": report.flagged},
    }


def send_webhook(report: RunReport, delivery: ReportDelivery) -> None:
    webhook = Webhook.objects.filter(name=delivery.destination).first()
    if webhook is None:
        raise DeliveryError(f"The webhook {delivery.destination!r} no longer exists.")
    webhook_outcome(
        webhook_post(
            webhook=webhook,
            payload=webhook_payload(report, delivery),
            event="evaluation.report",
            delivery_id=f"report-{delivery.pk}",
            report_delivery=delivery,
        )
    )


SENDERS = {
    DeliveryChannel.SLACK: send_slack,
    DeliveryChannel.DISCORD: send_discord,
    DeliveryChannel.EMAIL: send_email_report,
    DeliveryChannel.WEBHOOK: send_webhook,
}
