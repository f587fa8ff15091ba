"""The admin dashboard at scale (issue "Admin 3/3": ≤ 500 ms server time with 1,000,000
ledger rows on PostgreSQL).

Seeds the database (default `arandu_dash`, re-created) in SQL with `generate_series`:
`--rows` ledger rows spread over the last `--days` days, one question-history row per
ledger row (same request id, door, sets, outcome), 2,000 people in four tiers, 20,000
feedback votes, five knowledge sets; then rolls up the closed days as the hourly task
does (timed). Then renders the admin home through Django's test
client (the whole view: form, selectors, template) for each period and filter, a warm-up
render and `--renders` measured ones each, and times each selector alone.

    PYTHONPATH=. .venv/bin/python bench/bench_dashboard.py [--rows 1000000] [--days 365]
        [--database arandu_dash] [--reuse: measure again what a previous run seeded]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    add_run_args,
    busy_note,
    fresh_postgres,
    monitored,
    percentiles,
    print_table,
    save_results,
    scratch_dir,
    verdict,
    wait_for_quiet,
)

TARGET_MS = 500.0
PEOPLE = 2000
SETS = ("handbook", "it", "finance", "sales", "engineering")
SCENARIOS = [
    ("7 days (the default)", {}),
    ("today", {"period": "today"}),
    ("30 days", {"period": "30d"}),
    ("30 days, one tier", {"period": "30d", "tier": "TIER"}),
    ("30 days, one knowledge set", {"period": "30d", "knowledge_set": "it"}),
    ("30 days, Slack", {"period": "30d", "door": "slack"}),
    ("30 days, tests (evaluation, playground)", {"period": "30d", "door": "tests"}),
    # Two filters have no rollup: the page reads the rows (not a target case).
    ("30 days, Slack and one tier (live)", {"period": "30d", "door": "slack", "tier": "TIER"}),
]

SEED_SQL = """
INSERT INTO ragengine_member (display_name, tier_id, is_active, created_at)
SELECT 'person ' || g, (SELECT id FROM ragengine_tier WHERE name = 'bench-' || (g % 4)),
       true, now()
FROM generate_series(1, {people}) g;

CREATE TEMP TABLE bench_rows AS
SELECT g,
       (SELECT min(id) FROM ragengine_member WHERE display_name LIKE 'person %%') + (g %% {people})
         AS member_id,
       -- the ledger is append-only: rows are stored in time order, as in production
       now() - ({rows} - g + random()) * (interval '{days} days' / {rows}) AS at,
       random() AS r, random() AS r2, random() AS r3
FROM generate_series(1, {rows}) g;

INSERT INTO ragengine_usagerecord (member_id, tier_id, status, mode, provider, model, arm,
  tokens_in, tokens_out, cost, reserved, cost_saved, counts_toward_quota, latencies_ms,
  request_id, channel, created_at)
SELECT b.member_id, m.tier_id, 'settled',
  CASE WHEN b.r < .55 THEN 'generated' WHEN b.r < .75 THEN 'extractive'
       WHEN b.r < .95 THEN 'cached' ELSE 'refused' END,
  CASE WHEN b.r < .55 THEN (ARRAY['openai','anthropic','ollama'])[1 + (b.g %% 3)]
       WHEN b.r < .75 THEN 'extractive' ELSE '' END,
  CASE WHEN b.r < .55 THEN (ARRAY['gpt-4o-mini','claude-haiku','llama3'])[1 + (b.g %% 3)]
       ELSE '' END,
  '', 900, 200,
  CASE WHEN b.r < .55 THEN round((b.r2 * 0.01)::numeric, 8) ELSE 0 END, 0,
  CASE WHEN b.r >= .75 AND b.r < .95 THEN round((b.r2 * 0.01)::numeric, 8) ELSE 0 END,
  true,
  CASE WHEN b.r < .75 THEN jsonb_build_object(
      'validate', 0.2, 'budget', 1 + b.r3, 'cache', 2 + b.r3 * 3, 'embed', 8 + b.r2 * 10,
      'retrieve', 10 + b.r3 * 40,
      'generate', CASE WHEN b.r < .55 THEN 400 + b.r2 * 3000 ELSE 5 + b.r2 * 10 END,
      'total', CASE WHEN b.r < .55 THEN 430 + b.r2 * 3000 + b.r3 * 50 ELSE 30 + b.r3 * 60 END)
    ELSE '{{}}'::jsonb END,
  'b' || b.g,
  CASE WHEN b.r3 < .02 THEN 'eval:run:1' WHEN b.r3 < .60 THEN 'slack:C' || (b.g %% 40)
       WHEN b.r3 < .85 THEN 'discord:D' || (b.g %% 10) WHEN b.r3 < .97 THEN 'api:token:1'
       ELSE 'cli:' END,
  b.at
FROM bench_rows b JOIN ragengine_member m ON m.id = b.member_id;

INSERT INTO ragengine_questionrecord (request_id, member_id, door, channel, knowledge_sets,
  question, answer, outcome, not_found, sources, provider, model, cost, total_ms, created_at)
SELECT u.request_id, u.member_id, split_part(u.channel, ':', 1), u.channel,
  jsonb_build_array((ARRAY['{sets}'])[1 + (b.g %% 5)]),
  CASE WHEN u.mode = 'refused' OR (u.mode = 'extractive' AND b.r2 < .3)
       THEN (ARRAY['How do I expense a taxi?', 'Can I expense taxi rides?',
                   'What is the guest wifi password?', 'Where is the printer on floor ' ,
                   'Who approves travel to '])[1 + (b.g %% 5)] || (b.g %% 37)
       ELSE 'Question number ' || b.g END,
  'An answer.', CASE WHEN b.r2 < .01 THEN 'error' ELSE u.mode END,
  u.mode = 'extractive' AND b.r2 < .3, '[]'::jsonb, u.provider, u.model, u.cost,
  coalesce((u.latencies_ms->>'total')::float, 0), u.created_at + interval '1 second'
FROM ragengine_usagerecord u JOIN bench_rows b ON u.request_id = 'b' || b.g;

INSERT INTO ragengine_feedback (member_id, request_id, value, comment, platform, channel,
  created_at, updated_at)
SELECT u.member_id, u.request_id, CASE WHEN u.id %% 4 = 0 THEN -1 ELSE 1 END,
  CASE WHEN u.id %% 10 = 0 THEN 'Comment on ' || u.request_id ELSE '' END,
  split_part(u.channel, ':', 1), u.channel, u.created_at + interval '1 minute',
  u.created_at + interval '1 minute'
FROM ragengine_usagerecord u WHERE u.id %% 50 = 0;
"""


def seed(*, rows: int, days: int) -> dict:
    from django.db import connection

    from ragengine.models import KnowledgeSet, Tier

    for n in range(4):
        Tier.objects.get_or_create(
            name=f"bench-{n}", defaults={"daily_budget": 1, "monthly_budget": 20}
        )
    for name in SETS:
        KnowledgeSet.objects.get_or_create(name=name)
    sql = SEED_SQL.format(people=PEOPLE, rows=rows, days=days, sets="','".join(SETS))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in sql.split(";\n"):
            if statement.strip():
                cursor.execute(statement.replace("%%", "%"))
        cursor.execute("SELECT count(*) FROM ragengine_usagerecord")
        ledger = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM ragengine_questionrecord")
        questions = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM ragengine_feedback")
        feedback = cursor.fetchone()[0]
    # What autovacuum does after a bulk load: statistics, and the visibility map that
    # lets the covering indexes answer without reading the table.
    connection.ensure_connection()
    with connection.cursor() as cursor:
        for table in ("usagerecord", "questionrecord", "feedback", "member"):
            cursor.execute(f"VACUUM ANALYZE ragengine_{table}")
    return {
        "ledger_rows": ledger,
        "question_rows": questions,
        "feedback_rows": feedback,
        "people": PEOPLE,
        "days": days,
        "seconds": round(time.perf_counter() - started, 1),
    }


def seeded_counts() -> dict:
    from ragengine.models import Feedback, QuestionRecord, UsageRecord

    return {
        "ledger_rows": UsageRecord.objects.count(),
        "question_rows": QuestionRecord.objects.count(),
        "feedback_rows": Feedback.objects.count(),
        "reused": True,
    }


def render_times(client, query: dict, renders: int) -> list[float]:
    client.get("/admin/", query)  # warm-up: connection, templates, plans
    samples = []
    for _ in range(renders):
        started = time.perf_counter()
        response = client.get("/admin/", query)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        assert b'id="dashboard-data"' in response.content
    return samples


def fill_rollups() -> dict:
    """What the hourly task does once after the load: roll up every closed day."""
    from ragengine.services.dashboard_rollups import rollups_fill

    started = time.perf_counter()
    days = rollups_fill()
    return {"days": days, "seconds": round(time.perf_counter() - started, 1)}


def invalidated_render_times(client, renders: int) -> dict:
    """A 30-day page right after a late write dropped yesterday's rollup: the page
    computes that day from its rows and stores it again."""
    from datetime import timedelta

    from django.utils import timezone

    from ragengine.models import DashboardDay
    from ragengine.services.dashboard_rollups import rollups_invalidate

    yesterday = timezone.localdate() - timedelta(days=1)
    samples = []
    for _ in range(renders):
        rollups_invalidate(days=[yesterday])
        started = time.perf_counter()
        response = client.get("/admin/", {"period": "30d"})
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    assert DashboardDay.objects.filter(day=yesterday).exists()
    return percentiles(samples)


def selector_times(renders: int) -> dict[str, dict]:
    from django.utils import timezone

    from ragengine.evaluation.trend import evaluation_trend
    from ragengine.selectors import dashboard_activity as activity
    from ragengine.selectors import dashboard_gaps as gaps
    from ragengine.selectors import dashboard_providers as providers
    from ragengine.selectors import dashboard_quality as quality
    from ragengine.selectors import dashboard_rolled as rolled
    from ragengine.selectors import dashboard_speed as speed
    from ragengine.selectors import dashboard_spend as spend
    from ragengine.selectors.dashboard import dashboard_scope
    from ragengine.selectors.dashboard_days import figures_by_day

    scope = dashboard_scope(now=timezone.now(), period="30d")
    days = figures_by_day(scope=scope, view="")
    calls = {
        # from the rollups (what the page calls for a period with at most one filter)
        "rollups: figures_by_day": lambda: figures_by_day(scope=scope, view=""),
        "rollups: activity_from": lambda: rolled.activity_from(scope=scope, days=days),
        "rollups: spend_from": lambda: rolled.spend_from(scope=scope, days=days),
        "rollups: top_spenders_from": lambda: rolled.top_spenders_from(scope=scope, days=days),
        "rollups: speed_from": lambda: rolled.speed_from(scope=scope, days=days),
        # from the rows (still read live, or the fallback for two filters)
        "activity": lambda: activity.activity(scope=scope),
        "top_knowledge_sets": lambda: activity.top_knowledge_sets(scope=scope),
        "spend": lambda: spend.spend(scope=scope),
        "tier_budgets": lambda: spend.tier_budgets(scope=scope),
        "top_spenders": lambda: spend.top_spenders(scope=scope),
        "speed": lambda: speed.speed(scope=scope),
        "feedback_figures": lambda: quality.feedback_figures(scope=scope),
        "latest_comments": lambda: quality.latest_comments(scope=scope),
        "evaluation_trend": lambda: evaluation_trend(),
        "content_gaps": lambda: gaps.content_gaps(scope=scope),
        "provider_health": lambda: providers.provider_health(scope=scope),
    }
    result = {}
    for name, call in calls.items():
        call()
        samples = []
        for _ in range(renders):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        result[name] = percentiles(samples)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--renders", type=int, default=7)
    parser.add_argument("--database", default="arandu_dash")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the database a previous run seeded (and rolled up) instead of re-creating it",
    )
    add_run_args(parser, "dashboard")
    args = parser.parse_args()

    with scratch_dir("dashboard", keep=args.keep) as data_dir:
        os.environ.update(
            ARANDU_DATA_DIR=str(data_dir),
            DATABASE_URL=(
                f"postgres://postgres@127.0.0.1:5432/{args.database}"
                if args.reuse
                else fresh_postgres(args.database)
            ),
            DJANGO_SETTINGS_MODULE="adminsite.settings",
            DJANGO_ALLOWED_HOSTS="testserver",
            ARANDU_LOG_LEVEL="WARNING",
        )
        os.environ.setdefault("DJANGO_SECRET_KEY", "bench-not-secret")
        os.environ.pop("REDIS_URL", None)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)  # as `runweb` serves
        from django.contrib.auth import get_user_model
        from django.test import Client

        from ragengine.models import Tier

        if args.reuse:
            seeded = seeded_counts()
            print(f"Reusing {args.database}: {seeded}")
        else:
            print(f"Seeding {args.rows:,} ledger rows over {args.days} days …", flush=True)
            seeded = seed(rows=args.rows, days=args.days)
            print(f"  {seeded}")
        admin = get_user_model().objects.filter(username="bench").first()
        admin = admin or get_user_model().objects.create_superuser("bench", password="bench-pw")
        client = Client()
        client.force_login(admin)
        tier_id = str(Tier.objects.get(name="bench-1").pk)

        print("Rolling up the closed days not rolled up yet (the hourly task) …", flush=True)
        filled = fill_rollups()
        print(f"  {filled}")
        wait_for_quiet(args.quiet_wait)
        results, rows = {}, []
        load: dict = {}
        with monitored(load):
            for label, query in SCENARIOS:
                query = {k: tier_id if v == "TIER" else v for k, v in query.items()}
                stats = percentiles(render_times(client, query, args.renders))
                results[label] = {"query": query, "render_ms": stats}
                rows.append([label, stats["p50"], stats["p95"], stats["max"],
                             verdict(stats["p95"], TARGET_MS)])  # fmt: skip
            invalidated = invalidated_render_times(client, args.renders)
            rows.append(["30 days, yesterday's rollup just invalidated", invalidated["p50"],
                         invalidated["p95"], invalidated["max"],
                         verdict(invalidated["p95"], TARGET_MS)])  # fmt: skip
            selectors = selector_times(args.renders)
        print_table(rows, ["page", "p50 ms", "p95 ms", "max ms", f"≤ {TARGET_MS:.0f} ms"])
        print_table(
            [[name, s["p50"], s["p95"]] for name, s in selectors.items()],
            ["selector (30 days)", "p50 ms", "p95 ms"],
        )
        print(f"machine: {busy_note(load['load'])}")
        save_results(
            args.name,
            {
                "target_ms": TARGET_MS,
                "seeded": seeded,
                "rollups_filled": filled,
                "invalidated_30_days_render_ms": invalidated,
                "renders": args.renders,
                "pages": results,
                "selectors_30_days": selectors,
                "load": load,
                "busy": busy_note(load["load"]),
            },
        )


if __name__ == "__main__":
    main()
