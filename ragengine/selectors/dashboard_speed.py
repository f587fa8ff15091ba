"""Dashboard: how fast answers come, per day and per stage (the ledger's `latencies_ms`).

On PostgreSQL the percentiles are `percentile_cont` in the database. Elsewhere (SQLite,
the small embedded default) they are computed in Python with the same interpolation over
the period's latest `PYTHON_SAMPLE` rows, so the two agree wherever the sample is whole.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Aggregate, FloatField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from ragengine.selectors.dashboard import DashboardScope, ledger_in, local_day, per_day, zone

DAILY_STAGES = ("retrieve", "generate", "total")
STAGES = ("validate", "budget", "cache", "embed", "retrieve", "generate", "total")
PYTHON_SAMPLE = 50_000


class PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass(frozen=True, slots=True)
class StageLatency:
    stage: str
    p50: float | None
    p95: float | None


@dataclass(frozen=True, slots=True)
class Speed:
    per_day: dict[str, dict[str, list[float | None]]]  # stage -> {"p50": [...], "p95": [...]}
    stages: list[StageLatency]  # over the whole period
    sampled: bool  # computed over the latest PYTHON_SAMPLE rows only


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def speed(*, scope: DashboardScope) -> Speed:
    """p50 and p95 per day of retrieval, generation and the whole answer, and p50/p95 of
    every stage over the period. Rows without a stage's timing (cache hits have none)
    don't count for that stage."""
    if connection.vendor == "postgresql":
        return _in_database(scope)
    return _in_python(scope)


def _stage(name: str) -> Cast:
    return Cast(KeyTextTransform(name, "latencies_ms"), FloatField())


def _in_database(scope: DashboardScope) -> Speed:
    rows = ledger_in(scope)
    daily = {}
    for stage in DAILY_STAGES:
        daily[f"{stage}_p50"] = PercentileCont(_stage(stage), fraction=0.5)
        daily[f"{stage}_p95"] = PercentileCont(_stage(stage), fraction=0.95)
    by_day: dict[str, dict[date, float]] = defaultdict(dict)
    for row in rows.annotate(day=local_day()).values("day").annotate(**daily).order_by():
        for key in daily:
            if row[key] is not None:
                by_day[key][row["day"]] = row[key]
    overall = {}
    for stage in STAGES:
        overall[f"{stage}_p50"] = PercentileCont(_stage(stage), fraction=0.5)
        overall[f"{stage}_p95"] = PercentileCont(_stage(stage), fraction=0.95)
    totals = rows.aggregate(**overall)
    return Speed(
        per_day={
            stage: {
                q: per_day(scope, by_day.get(f"{stage}_{q}", {}), default=None)
                for q in ("p50", "p95")
            }
            for stage in DAILY_STAGES
        },
        stages=[
            StageLatency(stage, totals[f"{stage}_p50"], totals[f"{stage}_p95"]) for stage in STAGES
        ],
        sampled=False,
    )


def _in_python(scope: DashboardScope) -> Speed:
    sample = list(
        ledger_in(scope)
        .exclude(latencies_ms={})
        .order_by("-created_at")
        .values_list("created_at", "latencies_ms")[: PYTHON_SAMPLE + 1]
    )
    sampled = len(sample) > PYTHON_SAMPLE
    sample = sample[:PYTHON_SAMPLE]
    here = zone()
    by_day: dict[str, dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_stage: dict[str, list[float]] = defaultdict(list)
    for created_at, timings in sample:
        day = created_at.astimezone(here).date()
        for stage, value in (timings or {}).items():
            if not isinstance(value, int | float):
                continue
            by_stage[stage].append(float(value))
            if stage in DAILY_STAGES:
                by_day[stage][day].append(float(value))
    return Speed(
        per_day={
            stage: {
                q: per_day(
                    scope,
                    {d: percentile(v, f) for d, v in by_day[stage].items()},
                    default=None,
                )
                for q, f in (("p50", 0.5), ("p95", 0.95))
            }
            for stage in DAILY_STAGES
        },
        stages=[
            StageLatency(stage, percentile(by_stage[stage], 0.5), percentile(by_stage[stage], 0.95))
            for stage in STAGES
        ],
        sampled=sampled,
    )
