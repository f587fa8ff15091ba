"""Routing, budgets and the ledger under load (issue "Engine 2/4").

1. 50 concurrent questions against a local OpenAI-compatible stub that takes 1 s per
   answer: total wall time (target <= 2.5 s).
2. Overhead per answer of routing + budget reservation + ledger settlement, with a stub
   that answers at once (target p50 <= 5 ms on PostgreSQL): the `budget` stage of ask()
   (tier chain, rate limit, reservation) + settlement + the generate stage minus the time
   spent inside the provider call.

    PYTHONPATH=. .venv/bin/python bench/bench_routing.py [--database postgres|sqlite]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    LoadMonitor,
    Stopwatch,
    django_setup,
    fresh_postgres,
    ingest_handbook,
    monitored,
    percentiles,
    print_table,
    save_results,
    scratch_dir,
    verdict,
)
from bench.stub_openai import start_stub

PG_DATABASE = "arandu_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--overhead-samples", type=int, default=300)
    args = parser.parse_args()

    with scratch_dir("routing") as data_dir:
        # The answer cache would serve the repeats; this measures routing, not the cache.
        env = {"ARANDU_LOG_LEVEL": "ERROR", "ARANDU_CACHE_DEFAULT_TTL": "0"}
        if args.database == "postgres":
            env["DATABASE_URL"] = fresh_postgres(PG_DATABASE)
        django_setup(data_dir, **env)
        results = run(args)
        results["database"] = args.database
        save_results(f"routing-{args.database}", results)


def run(args) -> dict:
    from django.db import connection

    from ragengine.ask_types import Channel
    from ragengine.models import CacheRule, ProviderEndpoint, Tier, TierModel
    from ragengine.services.ask import ask
    from ragengine.services.members import member_resolve

    CacheRule.objects.update(enabled=False)
    ingest_handbook()
    channel = Channel(platform="bench")
    question = "How many vacation days do I get per year?"
    results: dict = {}

    # --- 1. 50 concurrent questions, 1 s per answer ---------------------------------------
    slow = start_stub(delay_s=1.0)
    endpoint = ProviderEndpoint.objects.create(
        name="stub-slow", kind="openai", base_url=f"http://127.0.0.1:{slow.server_port}/v1"
    )
    tier = Tier.objects.create(name="bench", max_output_tokens=200)
    TierModel.objects.create(tier=tier, endpoint=endpoint, model="gpt-4o-mini")
    members = [member_resolve(platform="bench", user_id=f"u{i}") for i in range(args.concurrent)]
    for member in members:
        member.tier = tier
        member.save()
    ask(member=members[0], question=question, channel=channel)  # warm models and clients
    modes: list[str] = []
    stage_samples: dict[str, list[float]] = {}
    # A warmed service: one worker thread per concurrent question, each already holding
    # its database connection (as the web server and the bots' thread pools do).
    pool = ThreadPoolExecutor(max_workers=args.concurrent)
    ready = threading.Barrier(args.concurrent)

    def warm() -> None:
        connection.ensure_connection()
        ready.wait()

    list(pool.map(lambda _: warm(), range(args.concurrent)))

    def one(member) -> None:
        answer = ask(member=member, question=question, channel=channel)
        modes.append(str(answer.mode))
        for stage, ms in answer.timings_ms.items():
            stage_samples.setdefault(stage, []).append(ms)

    load: dict = {}
    with monitored(load), Stopwatch() as watch:
        list(pool.map(one, members))
    pool.shutdown()
    slow.shutdown()
    results["concurrent"] = {
        "questions": args.concurrent,
        "stub_delay_s": 1.0,
        "wall_s": round(watch.seconds, 3),
        "target_s": 2.5,
        "verdict": verdict(watch.seconds, 2.5),
        "generated": modes.count("generated"),
        "stages_ms": {k: percentiles(v) for k, v in stage_samples.items()},
        "load": load.get("load"),
    }

    # --- 2. overhead of routing + budget + ledger -----------------------------------------
    fast = start_stub(delay_s=0.0)
    endpoint.base_url = f"http://127.0.0.1:{fast.server_port}/v1"
    endpoint.name = "stub-fast"
    endpoint.save()
    tier.daily_budget = 1000
    tier.monthly_budget = 10000
    tier.questions_per_hour = 100000
    tier.save()
    member = members[0]
    provider_ms: list[float] = []
    settle_ms: list[float] = []
    # Patched where they are looked up: generate in document_answers.py, usage_settle in
    # spending.py (a paid call is settled the moment it returns).
    import ragengine.services.document_answers as generate_caller
    import ragengine.services.spending as settle_caller

    real_generate = generate_caller.generate
    real_settle = settle_caller.usage_settle

    def timed_generate(**kwargs):
        start = time.perf_counter()
        outcome = real_generate(**kwargs)
        provider_ms.append((time.perf_counter() - start) * 1000)
        return outcome

    def timed_settle(**kwargs):
        start = time.perf_counter()
        real_settle(**kwargs)
        settle_ms.append((time.perf_counter() - start) * 1000)

    generate_caller.generate = timed_generate
    settle_caller.usage_settle = timed_settle
    samples: list[float] = []
    budget_ms: list[float] = []
    for _ in range(10):  # warm-up
        ask(member=member, question=question, channel=channel)
    monitor = LoadMonitor()
    for _ in range(args.overhead_samples):
        answer = ask(member=member, question=question, channel=channel)
        budget_ms.append(answer.timings_ms["budget"])
    overhead_load = monitor.stop()
    fast.shutdown()
    provider_ms = provider_ms[10:]
    settle_ms = settle_ms[10:]
    samples = [b + s for b, s in zip(budget_ms, settle_ms, strict=True)]
    overhead = percentiles(samples)
    results["overhead_ms"] = {
        "routing_budget_ledger": overhead,
        "budget_stage": percentiles(budget_ms),
        "settle": percentiles(settle_ms),
        "generate_call_incl_http": percentiles(provider_ms),
        "target_p50_ms": 5.0,
        "verdict": verdict(overhead["p50"], 5.0),
        "load": overhead_load,
    }
    print_table(
        [
            [
                f"{args.concurrent} concurrent, 1 s stub",
                f"{watch.seconds:.2f} s",
                "≤ 2.5 s",
                results["concurrent"]["verdict"],
            ],
            [
                "routing+budget+ledger p50",
                f"{overhead['p50']} ms",
                "≤ 5 ms",
                results["overhead_ms"]["verdict"],
            ],
            ["  (p95)", f"{overhead['p95']} ms", "", ""],
            [
                "generate call incl. HTTP p50",
                f"{results['overhead_ms']['generate_call_incl_http']['p50']} ms",
                "",
                "",
            ],
        ],
        ["figure", "measured", "target", "verdict"],
    )
    return results


if __name__ == "__main__":
    main()
