"""Checks, on the database `bench_dashboard.py` seeded (1M ledger rows), that the 30-day
figures read from the daily rollups equal the live ones, per filter, and how far the
period's latency percentiles (from histograms) are from the exact `percentile_cont`.

    PYTHONPATH=. .venv/bin/python bench/dashboard_rollups_check.py [--database arandu_dash]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="arandu_dash")
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        DJANGO_SETTINGS_MODULE="adminsite.settings",
    )
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-not-secret")
    import django

    django.setup()
    from django.utils import timezone

    from ragengine.models import Tier
    from ragengine.selectors import dashboard_rolled as rolled
    from ragengine.selectors.dashboard import dashboard_scope
    from ragengine.selectors.dashboard_activity import activity, top_knowledge_sets
    from ragengine.selectors.dashboard_days import figures_by_day, view_of
    from ragengine.selectors.dashboard_speed import speed
    from ragengine.selectors.dashboard_spend import spend, top_spenders

    tier = Tier.objects.get(name="bench-1").pk
    for filters in ({}, {"tier_id": tier}, {"knowledge_set": "it"}, {"door": "slack"}):
        scope = dashboard_scope(now=timezone.now(), period="30d", **filters)
        days = figures_by_day(scope=scope, view=view_of(scope))
        fast, exact = rolled.speed_from(scope=scope, days=days), speed(scope=scope)
        same = {
            "activity": rolled.activity_from(scope=scope, days=days) == activity(scope=scope),
            "sets": rolled.top_knowledge_sets_from(days=days) == top_knowledge_sets(scope=scope),
            "spend": rolled.spend_from(scope=scope, days=days) == spend(scope=scope),
            "spenders": rolled.top_spenders_from(scope=scope, days=days)
            == top_spenders(scope=scope),
            "latency per day": all(
                abs(a - b) <= 1e-6 * max(1.0, abs(b))
                for stage, quantiles in exact.per_day.items()
                for q, values in quantiles.items()
                for a, b in zip(fast.per_day[stage][q], values, strict=True)
                if b is not None
            ),
        }
        errors = [
            abs(a - b) / b
            for f, e in zip(fast.stages, exact.stages, strict=True)
            for a, b in ((f.p50, e.p50), (f.p95, e.p95))
            if b
        ]
        print(filters or "people's doors", same, f"period percentiles within {max(errors):.2%}")


if __name__ == "__main__":
    main()
