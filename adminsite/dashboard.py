"""The admin home: one page joining use, cost, cache savings, speed, answer quality,
content gaps and provider health (unfold's DASHBOARD_CALLBACK).

Every figure comes from `ragengine.selectors.dashboard*`; this module only reads the
filter form, calls them and shapes their figures for the template and the charts (one
JSON document the page's script draws from, and the tests read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from ragengine.evaluation.trend import evaluation_latest, evaluation_trend
from ragengine.models import KnowledgeSet, Tier
from ragengine.selectors.dashboard import DOORS, TESTS, DashboardScope, dashboard_scope, day_labels
from ragengine.selectors.dashboard_activity import OUTCOMES, activity, top_knowledge_sets
from ragengine.selectors.dashboard_days import figures_by_day, view_of
from ragengine.selectors.dashboard_gaps import content_gaps
from ragengine.selectors.dashboard_providers import provider_health
from ragengine.selectors.dashboard_quality import feedback_figures, latest_comments
from ragengine.selectors.dashboard_rolled import (
    activity_from,
    provider_answers_from,
    speed_from,
    spend_from,
    top_knowledge_sets_from,
    top_spenders_from,
)
from ragengine.selectors.dashboard_speed import DAILY_STAGES, speed
from ragengine.selectors.dashboard_spend import spend, tier_budgets, top_spenders
from ragengine.services.dashboard_rollups import rollups_ensure

PERIODS = [("today", "Today"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("custom", "Custom")]
DOOR_LABELS = {
    "slack": "Slack",
    "discord": "Discord",
    "api": "API",
    "cli": "Command line",
    TESTS: "Tests (evaluation, playground)",
}


class DashboardFilters(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False, initial="7d")
    first_day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    door = forms.ChoiceField(required=False)
    tier = forms.ModelChoiceField(
        queryset=Tier.objects.none(), required=False, empty_label="Every tier"
    )
    knowledge_set = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["door"].choices = [("", "People's doors")] + [
            (d, DOOR_LABELS[d]) for d in DOORS
        ]
        self.fields["tier"].queryset = Tier.objects.exclude(name__startswith="eval:").order_by(
            "name"
        )
        self.fields["knowledge_set"].choices = [("", "Every knowledge set")] + [
            (name, name)
            for name in KnowledgeSet.objects.order_by("name").values_list("name", flat=True)
        ]

    def clean(self):
        data = super().clean()
        if data.get("period") == "custom":
            for name in ("first_day", "last_day"):
                if not data.get(name):
                    self.add_error(name, "A custom period needs both days.")
        return data


def current_time() -> datetime:
    """The page's clock (tests set it)."""
    return timezone.now()


def scope_from(request: HttpRequest) -> tuple[DashboardScope, DashboardFilters, str]:
    """The scope the query string asks for; bad input shows its error and falls back to
    the last 7 days, every door, tier and set."""
    now = current_time()
    form = DashboardFilters(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            scope = dashboard_scope(
                now=now,
                period=data.get("period") or "7d",
                first_day=data.get("first_day"),
                last_day=data.get("last_day"),
                door=data.get("door") or "",
                tier_id=data["tier"].pk if data.get("tier") else None,
                knowledge_set=data.get("knowledge_set") or "",
            )
            return scope, form, ""
        except ValueError as exc:
            error = str(exc)
    else:
        error = (
            "; ".join(e for errors in form.errors.values() for e in errors) if form.is_bound else ""
        )
    return dashboard_scope(now=now, period="7d"), form, error


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if abs(value) >= Decimal("0.01") else f"${value:.4f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _float(value: Decimal) -> float:
    return round(float(value), 6)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True, slots=True)
class Kpi:
    key: str
    label: str
    value: str
    detail: str = ""


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """Everything the home page shows."""
    scope, form, error = scope_from(request)
    view = view_of(scope)
    if view is None or not rollups_ensure(scope=scope):
        # Two filters or more (not rolled up), or days the hourly task has not rolled
        # up yet: read from the rows.
        act = activity(scope=scope)
        sets = top_knowledge_sets(scope=scope)
        money_ = spend(scope=scope)
        spenders = top_spenders(scope=scope)
        fast = speed(scope=scope)
        answers = None
    else:
        days = figures_by_day(scope=scope, view=view)
        act = activity_from(scope=scope, days=days)
        sets = top_knowledge_sets_from(days=days)
        money_ = spend_from(scope=scope, days=days)
        spenders = top_spenders_from(scope=scope, days=days)
        fast = speed_from(scope=scope, days=days)
        answers = provider_answers_from(days=days)
    budgets = tier_budgets(scope=scope)
    votes = feedback_figures(scope=scope)
    comments = latest_comments(scope=scope)
    trend = evaluation_trend()
    gaps, gap_total = content_gaps(scope=scope)
    providers = provider_health(scope=scope, answers=answers)
    total_stage = next(s for s in fast.stages if s.stage == "total")
    kpis = [
        Kpi(
            "questions",
            "Questions",
            f"{act.questions:,}",
            f"{act.totals['error']:,} error{'s' if act.totals['error'] != 1 else ''}",
        ),
        Kpi("people", "People asking", f"{act.people:,}"),
        Kpi("cost", "Cost", money(money_.cost)),
        Kpi(
            "hit_rate",
            "Cache hit rate",
            percent(money_.hit_rate if money_.answered else None),
            f"{money(money_.saved)} saved",
        ),
        Kpi(
            "p95",
            "Answer time p95",
            f"{total_stage.p95 / 1000:.1f} s" if total_stage.p95 is not None else "—",
            f"p50 {total_stage.p50 / 1000:.1f} s" if total_stage.p50 is not None else "",
        ),
        Kpi(
            "satisfaction",
            "Helpful",
            percent(votes.ratio),
            f"of {votes.up + votes.down:,} vote{'s' if votes.up + votes.down != 1 else ''}",
        ),
        Kpi("gaps", "Unanswered", f"{gap_total:,}", "not found or refused"),
    ]
    charts = {
        "days": day_labels(scope),
        "questions": {o: act.per_outcome[o] for o in OUTCOMES},
        "people": act.people_per_day,
        "sets": [[name, count] for name, count in sets],
        "cost_by_model": {k: [_float(v) for v in s] for k, s in money_.cost_by_model.items()},
        "cost_by_tier": {k: [_float(v) for v in s] for k, s in money_.cost_by_tier.items()},
        "cache": {
            "hit_rate": [None if r is None else round(r, 4) for r in money_.hit_rate_per_day()],
            "saved": [_float(v) for v in money_.saved_per_day],
        },
        "latency": {
            stage: {q: [_ms(v) for v in values] for q, values in fast.per_day[stage].items()}
            for stage in DAILY_STAGES
        },
        "stages": {s.stage: {"p50": _ms(s.p50), "p95": _ms(s.p95)} for s in fast.stages},
        "feedback": {"up": votes.up_per_day, "down": votes.down_per_day},
        "evaluation": {
            "labels": [f"#{p.run_id}" for p in trend],
            "sets": [p.eval_set for p in trend],
            **{
                metric: [p.scores.get(metric) for p in trend]
                for metric in ("fact_recall", "hit_at_k", "refusal_accuracy")
            },
        },
        "totals": {
            "questions": act.questions,
            "by_outcome": act.totals,
            "people": act.people,
            "cost": _float(money_.cost),
            "answered": money_.answered,
            "hits": money_.hits,
            "saved": _float(money_.saved),
            "up": votes.up,
            "down": votes.down,
            "gaps": gap_total,
        },
    }
    return {
        "dashboard": {
            "scope": scope,
            "form": form,
            "error": error,
            "time_zone": settings.TIME_ZONE,
            "door_label": DOOR_LABELS.get(scope.door, "People's doors"),
            "kpis": kpis,
            "charts": charts,
            "empty": act.questions == 0 and money_.answered == 0,
            "sets": sets,
            "budgets": budgets,
            "spenders": spenders,
            "speed": fast,
            "votes": votes,
            "comments": comments,
            "trend": trend,
            "evaluation": evaluation_latest(points=trend),
            "gaps": gaps,
            "gap_total": gap_total,
            "providers": providers,
        }
    }


def home(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Unfold's DASHBOARD_CALLBACK: the admin home is the dashboard."""
    return {**context, **dashboard_context(request)}
