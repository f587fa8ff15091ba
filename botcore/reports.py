"""Delivering evaluation reports: the engine leaves a pending ReportDelivery per
destination of a finished scheduled run and sends `reports_pending`; this posts each one,
short and native to where it goes, and records how it went.

- Slack: chat.postMessage with Block Kit (settings.SLACK_API_URL, SLACK_BOT_TOKEN);
- Discord: POST /channels/{id}/messages with an embed (DISCORD_API_URL, DISCORD_BOT_TOKEN);
- e-mail: django.core.mail (EMAIL_URL, ARANDU_EMAIL_FROM).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import escape as html_escape

from botcore.slack.blocks import escape
from ragengine.evaluation.deliveries import deliveries_due, delivery_claim, delivery_done
from ragengine.evaluation.report import RunReport, run_report
from ragengine.models import DeliveryChannel, EvalRun, ReportDelivery

logger = logging.getLogger(__name__)

DELIVERY_TASK = "botcore.tasks.report_deliveries_task"
HTTP_TIMEOUT_S = 10
GREEN, RED = 0x2E7D32, 0xC62828
_MARK = {"improved": "▲", "regressed": "▼"}


class DeliveryError(RuntimeError):
    """Posting failed; the message says why (kept on the delivery row)."""


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
    sent = 0
    for delivery in deliveries_due(run=run):
        if not delivery_claim(delivery=delivery):
            continue
        try:
            SENDERS[delivery.channel](report, delivery)
        except DeliveryError as exc:
            delivery_done(delivery=delivery, error=str(exc))
        except Exception as exc:  # a bug must not stop the other destinations
            logger.exception("report delivery failed", extra={"run_id": run.pk})
            delivery_done(delivery=delivery, error=f"{type(exc).__name__}: {exc}")
        else:
            delivery_done(delivery=delivery)
            sent += 1
    return sent


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
    if not settings.SLACK_BOT_TOKEN:
        raise DeliveryError("SLACK_BOT_TOKEN is not set.")
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(
        token=settings.SLACK_BOT_TOKEN, base_url=settings.SLACK_API_URL, timeout=HTTP_TIMEOUT_S
    )
    try:
        client.chat_postMessage(channel=delivery.destination, **slack_message(report))
    except SlackApiError as exc:
        raise DeliveryError(f"Slack refused the message: {exc.response.get('error')}") from exc
    except OSError as exc:
        raise DeliveryError(f"Slack could not be reached: {exc}") from exc


def send_discord(report: RunReport, delivery: ReportDelivery) -> None:
    if not settings.DISCORD_BOT_TOKEN:
        raise DeliveryError("DISCORD_BOT_TOKEN is not set.")
    if not delivery.destination.isdigit():
        raise DeliveryError(f"{delivery.destination!r} is not a Discord channel id.")
    request = urllib.request.Request(
        f"{settings.DISCORD_API_URL}/channels/{delivery.destination}/messages",
        data=json.dumps(discord_message(report)).encode(),
        method="POST",
        headers={
            "Authorization": f"Bot {settings.DISCORD_BOT_TOKEN}",
            "Content-Type": "application/json",
            "User-Agent": "DiscordBot (https://github.com/arandu, 1.0)",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise DeliveryError(f"Discord answered {exc.code}: {detail}") from exc
    except OSError as exc:
        raise DeliveryError(f"Discord could not be reached: {exc}") from exc


def send_email(report: RunReport, delivery: ReportDelivery) -> None:
    subject, text, html = email_message(report)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [delivery.destination]
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except OSError as exc:
        raise DeliveryError(f"The mail server refused or could not be reached: {exc}") from exc


SENDERS = {
    DeliveryChannel.SLACK: send_slack,
    DeliveryChannel.DISCORD: send_discord,
    DeliveryChannel.EMAIL: send_email,
}
