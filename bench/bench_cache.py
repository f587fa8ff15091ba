"""Answer cache (issue "Engine 3/4").

1. A cached answer returns from ask() with p50 <= 10 ms and p95 <= 20 ms at 10k cached
   entries, on the local-memory and the Redis cache backends (PostgreSQL database).
2. A workload where 60 % of questions repeat or paraphrase earlier ones: hit rate and the
   cost saved, with a tier answering through a local OpenAI-compatible stub (priced).

    PYTHONPATH=. .venv/bin/python bench/bench_cache.py --backend locmem|redis
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    django_setup,
    fresh_postgres,
    ingest_handbook,
    load_questions,
    monitored,
    percentiles,
    print_table,
    save_results,
    scratch_dir,
    verdict,
)
from bench.stub_openai import start_stub

PG_DATABASE = "arandu_bench_cache"
REDIS_URL = "redis://127.0.0.1:6379/12"
TOPICS = [
    "vacation", "parking", "laptop", "expenses", "training", "insurance", "travel",
    "benefits", "payroll", "security", "onboarding", "meeting rooms", "printing", "badges",
]  # fmt: skip


def variants(question: str, rng: random.Random) -> str:
    """A repeat as people type it again: other case, spacing or punctuation, or a
    rewording the precision guard accepts ("do I" -> "will I")."""
    choice = rng.random()
    if choice < 0.35:
        return question.lower().rstrip("?")
    if choice < 0.7:
        return "  " + question.upper() + "  "
    if " do I " in question:
        return question.replace(" do I ", " will I ")
    return question.replace("?", " ?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["locmem", "redis"], default="locmem")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--workload", type=int, default=200)
    args = parser.parse_args()
    env = {"ARANDU_LOG_LEVEL": "ERROR"}
    if args.backend == "redis":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        env["REDIS_URL"] = REDIS_URL
    env["DATABASE_URL"] = fresh_postgres(PG_DATABASE)
    with scratch_dir("cache") as data_dir:
        django_setup(data_dir, **env)
        results = run(args)
        results["backend"] = args.backend
        save_results(f"cache-{args.backend}", results)


def run(args) -> dict:
    from decimal import Decimal

    from django.db.models import Sum

    from ragengine.ask_types import Channel
    from ragengine.cache import (
        cache_rule_for,
        cache_scope,
        cache_store,
    )
    from ragengine.models import ModelPrice, ProviderEndpoint, Tier, TierModel, UsageRecord
    from ragengine.retrieval.registry import get_embedder
    from ragengine.services.ask import ask
    from ragengine.services.members import member_resolve

    ingest_handbook()
    stub = start_stub(delay_s=0.0)
    endpoint = ProviderEndpoint.objects.create(
        name="stub", kind="openai", base_url=f"http://127.0.0.1:{stub.server_port}/v1"
    )
    ModelPrice.objects.create(
        provider_kind="openai",
        model="stub-model",
        input_per_million=Decimal("2.50"),
        output_per_million=Decimal("10.00"),
    )
    tier = Tier.objects.create(name="bench", is_default=False)
    TierModel.objects.create(tier=tier, endpoint=endpoint, model="stub-model")
    member = member_resolve(platform="bench", user_id="u1")
    member.tier = tier
    member.save()
    channel = Channel(platform="bench")
    rng = random.Random(7)
    results: dict = {}

    # --- 1. latency of a cached answer at 10k entries -------------------------------------
    scope = cache_scope(set_ids=None, model_family="stub:stub-model")
    vectors = np.random.default_rng(7).standard_normal((args.entries, 384)).astype(np.float32)
    started = time.perf_counter()
    stored: list[str] = []
    for i in range(args.entries):
        topic = TOPICS[i % len(TOPICS)]
        question = f"Question {i} about {topic}: what is rule number {i}?"
        cache_store(
            question=question,
            query_vector=vectors[i],
            scope=scope,
            answer={"text": f"Answer {i} [1].", "mode": "generated", "sources": []},
            cost=Decimal("0.0012"),
            decision=cache_rule_for(question=question),
        )
        stored.append(question)
    fill_s = time.perf_counter() - started
    get_embedder().embed_query("warm up")
    ask(member=member, question=stored[0], channel=channel)
    hit_ms: list[float] = []
    stages: dict[str, list[float]] = {}
    modes: list[str] = []
    load: dict = {}
    with monitored(load):
        for _ in range(args.samples):
            question = stored[rng.randrange(len(stored))]
            started = time.perf_counter()  # wall time: includes the ledger settlement
            answer = ask(member=member, question=question, channel=channel)
            hit_ms.append((time.perf_counter() - started) * 1000)
            modes.append(str(answer.mode))
            for stage, ms in answer.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
    hits = percentiles(hit_ms)
    results["cached_answer_ms"] = {
        "entries": args.entries,
        "fill_s": round(fill_s, 1),
        "all_cached": modes.count("cached") == len(modes),
        "stages_p50": {k: round(float(np.median(v)), 2) for k, v in stages.items()},
        **hits,
        "target_p50": 10,
        "target_p95": 20,
        "verdict_p50": verdict(hits["p50"], 10),
        "verdict_p95": verdict(hits["p95"], 20),
        "load": load.get("load"),
    }

    # --- 2. 60 % repeat / paraphrase workload ---------------------------------------------
    UsageRecord.objects.all().delete()
    base = [q["question"] for q in load_questions()]
    groups = [
        "contractors",
        "interns",
        "managers",
        "new hires",
        "part-time staff",
        "remote staff",
        "the Lisbon office",
        "the São Paulo office",
        "visitors",
    ]
    base += [f"What is the policy on {topic} for {group}?" for topic in TOPICS for group in groups]
    rng.shuffle(base)
    asked: list[str] = []
    workload: list[str] = []
    fresh = iter(base * 10)
    for _ in range(args.workload):
        if asked and rng.random() < 0.6:
            workload.append(variants(rng.choice(asked), rng))
        else:
            question = next(fresh)
            while question in asked and len(asked) < len(base):
                question = next(fresh)
            asked.append(question)
            workload.append(question)
    for question in workload:
        ask(member=member, question=question, channel=channel)
    stub.shutdown()
    rows = UsageRecord.objects.filter(member=member)
    answered = rows.exclude(mode="refused").count()
    cached = rows.filter(mode="cached").count()
    spent = rows.aggregate(total=Sum("cost"))["total"] or Decimal("0")
    saved = rows.aggregate(total=Sum("cost_saved"))["total"] or Decimal("0")
    results["workload"] = {
        "questions": len(workload),
        "repeat_share_target": 0.6,
        "cached": cached,
        "hit_rate": round(cached / answered, 3) if answered else 0.0,
        "cost_spent": str(spent),
        "cost_saved": str(saved),
        "saved_share": round(float(saved / (saved + spent)), 3) if saved + spent else 0.0,
    }
    print_table(
        [
            ["cached answer p50 (10k entries)", f"{hits['p50']} ms", "≤ 10 ms",
             results["cached_answer_ms"]["verdict_p50"]],
            ["cached answer p95", f"{hits['p95']} ms", "≤ 20 ms",
             results["cached_answer_ms"]["verdict_p95"]],
            ["workload hit rate (60 % repeats)", results["workload"]["hit_rate"], "report", ""],
            ["cost saved / (saved + spent)", results["workload"]["saved_share"], "report", ""],
        ],
        ["figure", "measured", "target", "verdict"],
    )  # fmt: skip
    return results


if __name__ == "__main__":
    main()
