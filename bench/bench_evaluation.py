"""Evaluation runs (issue "Admin 2/3"): wall time and evaluation overhead.

1. A 100-case run on the extractive target over examples/handbook (target <= 60 s).
2. The same 100 cases against a model whose stub answers after 1 s, 8 at a time
   (target <= 20 s; 100 x 1 s / 8 = 12.5 s is the floor).
3. Evaluation overhead: the share of the questions' time spent on evaluation work rather
   than in ask() (target <= 5 %). Measured per answer inside the runner: everything a job
   does (ask, metrics, the result row, progress) against the ask() call alone; reported
   with and without the retrieval the retrieval metrics need (shared by the targets).

The 100 cases are the 50 of examples/evaluation/handbook.jsonl, asked twice (the second
time reworded with a short lead-in, so no two questions are the same).

    PYTHONPATH=. .venv/bin/python bench/bench_evaluation.py [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    EXAMPLES,
    LoadMonitor,
    add_run_args,
    busy_note,
    django_setup,
    fresh_postgres,
    ingest_handbook,
    load_embedder,
    print_table,
    save_results,
    scratch_dir,
    verdict,
    wait_for_quiet,
)
from bench.stub_openai import start_stub

PG_DATABASE = "arandu_bench_eval"
LEAD_IN = {"en": "Quick question: ", "pt": "Pergunta rápida: ", "": "Quick question: "}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--extractive-concurrency", type=int, default=2)
    add_run_args(parser, "evaluation")
    args = parser.parse_args()
    with scratch_dir("evaluation", keep=args.keep) as data_dir:
        env = {"ARANDU_LOG_LEVEL": "ERROR"}
        if args.database == "postgres":
            env["DATABASE_URL"] = fresh_postgres(PG_DATABASE)
        django_setup(data_dir, **env)
        results = run(args)
        results["database"] = args.database
        save_results(f"{args.name}-{args.database}", results)


class Timing:
    """Per answer: the whole job vs the ask() inside it, and the eval retrieval."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.job = self.ask = self.retrieval = 0.0

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + seconds)


def instrument(timing: Timing) -> None:
    from ragengine.evaluation import runner

    real_ask, real_answer = runner.ask, runner._Runner.answer
    real_retrieve = runner.retrieve_for_evaluation

    def timed_ask(**kwargs):
        start = time.perf_counter()
        try:
            return real_ask(**kwargs)
        finally:
            timing.add("ask", time.perf_counter() - start)

    def timed_answer(self, job):
        start = time.perf_counter()
        try:
            return real_answer(self, job)
        finally:
            timing.add("job", time.perf_counter() - start)

    def timed_retrieve(**kwargs):
        start = time.perf_counter()
        try:
            return real_retrieve(**kwargs)
        finally:
            timing.add("retrieval", time.perf_counter() - start)

    runner.ask = timed_ask
    runner._Runner.answer = timed_answer
    runner.retrieve_for_evaluation = timed_retrieve


def hundred_cases(count: int):
    """The example set's cases, repeated with a lead-in until there are `count`."""
    from ragengine.evaluation.cases_io import parse_cases

    path = EXAMPLES / "evaluation" / "handbook.jsonl"
    base = parse_cases(path.read_bytes(), filename=path.name)
    cases = list(base)
    round_ = 1
    while len(cases) < count:
        cases += [replace(c, question=LEAD_IN[c.language] * round_ + c.question) for c in base]
        round_ += 1
    return cases[:count]


def measure(spec: str, eval_set, concurrency: int, quiet_wait: float) -> dict:
    from ragengine.evaluation.runner import run_execute
    from ragengine.evaluation.runs import run_start

    wait_for_quiet(quiet_wait)
    timing = Timing()
    instrument(timing)
    run = run_start(eval_set=eval_set, specs=[spec], concurrency=concurrency, enqueue=False)
    monitor = LoadMonitor()
    start = time.perf_counter()
    run = run_execute(run_id=run.pk)
    wall = time.perf_counter() - start
    load = monitor.stop()
    summary = run.summary["targets"][spec]
    overhead = (timing.job - timing.ask) / timing.job if timing.job else None
    overhead_no_retrieval = (
        (timing.job - timing.ask - timing.retrieval) / timing.job if timing.job else None
    )
    return {
        "target": spec,
        "status": run.status,
        "answers": run.cases_done,
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "job_s": round(timing.job, 2),
        "ask_s": round(timing.ask, 2),
        "retrieval_s": round(timing.retrieval, 2),
        "overhead": round(overhead, 4) if overhead is not None else None,
        "overhead_without_retrieval": round(overhead_no_retrieval, 4)
        if overhead_no_retrieval is not None
        else None,
        "failed": summary["failed"],
        "fact_recall": summary["metrics"]["fact_recall"]["value"],
        "latency_p95_ms": summary["latency_ms"].get("total", {}).get("p95"),
        "load": load,
    }


def run(args) -> dict:
    from ragengine.evaluation.cases_io import eval_cases_import
    from ragengine.models import EvalSet, KnowledgeSet, ModelPrice, ProviderEndpoint

    load_embedder()
    ingest_handbook()
    eval_set = EvalSet.objects.create(name="bench")
    eval_set.knowledge_sets.set([KnowledgeSet.objects.get(name="handbook")])
    eval_cases_import(eval_set=eval_set, cases=hundred_cases(args.cases))

    stub = start_stub(delay_s=1.0)
    ProviderEndpoint.objects.create(
        name="stub", kind="openai", base_url=f"http://127.0.0.1:{stub.server_port}/v1",
        api_key_env="BENCH_STUB_KEY", max_retries=0, timeout_s=10,
    )  # fmt: skip
    ModelPrice.objects.get_or_create(provider_kind="openai", model="stub-model")
    os.environ["BENCH_STUB_KEY"] = "sk-bench-fake"

    extractive = measure("extractive", eval_set, args.extractive_concurrency, args.quiet_wait)
    model = measure("model:stub:stub-model", eval_set, args.concurrency, args.quiet_wait)
    stub.shutdown()

    rows = []
    for result, target_s in ((extractive, 60.0), (model, 20.0)):
        rows.append(
            [
                result["target"],
                result["answers"],
                result["concurrency"],
                f"{result['wall_s']:.1f} s",
                verdict(result["wall_s"], target_s),
                f"{result['overhead'] * 100:.2f} %",
                f"{result['overhead_without_retrieval'] * 100:.2f} %",
                verdict(result["overhead"] * 100, 5.0),
                busy_note(result["load"]),
            ]
        )
    print_table(
        rows,
        [
            "target",
            "answers",
            "at once",
            "wall",
            "target",
            "overhead",
            "w/o retrieval",
            "≤ 5 %",
            "machine",
        ],
    )
    return {"extractive": extractive, "model": model, "cases": args.cases}


if __name__ == "__main__":
    main()
