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

from ragengine.models import UsageRecord
from ragengine.selectors.dashboard import DashboardScope, ledger_in, per_day, zone

DAILY_STAGES = ("retrieve", "generate", "total")
STAGES = ("validate", "budget", "cache", "embed", "retrieve", "generate", "total")
PYTHON_SAMPLE = 50_000


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
    error: float = 0.0  # read from histograms: each percentile within this share of exact

    @property
    def error_percent(self) -> int:
        return math.ceil(self.error * 100)


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


def _in_database(scope: DashboardScope) -> Speed:
    """One pass over the period's rows: every stage's p50 and p95 (one sort each, both
    fractions from it) per day and, through GROUPING SETS, over the whole period."""
    rows = ledger_in(scope)
    where, params = rows.query.get_compiler(connection=connection).compile(rows.query.where)
    table = connection.ops.quote_name(UsageRecord._meta.db_table)
    # A literal, not a parameter: GROUP BY must see the very expression SELECT has
    # (a name from settings that ZoneInfo accepted, its quotes doubled all the same).
    zone_literal = "'" + str(zone()).replace("'", "''") + "'"
    day = f"({table}.created_at AT TIME ZONE {zone_literal})::date"
    columns = ", ".join(
        f"percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP "
        f"(ORDER BY ({table}.latencies_ms ->> %s)::float8)"
        for _ in STAGES
    )
    sql = (
        f"SELECT {day} AS day, GROUPING({day}) AS whole, {columns} "
        f"FROM {table} WHERE {where} GROUP BY GROUPING SETS (({day}), ())"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*STAGES, *params])
        results = cursor.fetchall()
    by_day: dict[str, dict[date, float]] = defaultdict(dict)
    overall: dict[str, list] = {}
    for day_value, whole, *values in results:
        for stage, pair in zip(STAGES, values, strict=True):
            if whole:
                overall[stage] = pair or [None, None]
            elif pair is not None and pair[0] is not None:
                by_day[f"{stage}_p50"][day_value] = pair[0]
                by_day[f"{stage}_p95"][day_value] = pair[1]
    return Speed(
        per_day={
            stage: {
                q: per_day(scope, by_day.get(f"{stage}_{q}", {}), default=None)
                for q in ("p50", "p95")
            }
            for stage in DAILY_STAGES
        },
        stages=[StageLatency(stage, *overall.get(stage, [None, None])) for stage in STAGES],
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
