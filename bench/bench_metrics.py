"""/metrics scrape time with 10k label combinations in multiprocess mode (issue "Ops").

Writer processes (like gunicorn workers) each record every one of `--series` label
combinations of `arandu_questions_total` (door x mode x tier) plus the per-stage latency
histograms of a few answers, into this host's metrics folder, as production does. Then
`GET /metrics` (Django's test client, from loopback: the view, its access check, the
files of every process added up, and the gauges read from the database) is timed
`--scrapes` times. Target: p95 <= 50 ms. Also reported: the files part alone (what grows
with series and processes), the size of the exposition, and what recording costs a
question (`record_answer`, per call, in a writer).

    PYTHONPATH=. .venv/bin/python bench/bench_metrics.py [--series 10000] [--writers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    add_run_args,
    busy_note,
    django_setup,
    monitored,
    percentiles,
    print_table,
    save_results,
    scratch_dir,
    verdict,
    wait_for_quiet,
)

TARGET_P95_MS = 50.0
DOORS = ("slack", "discord", "api", "cli")
MODES = ("generated", "extractive", "cached", "refused", "error")

WRITER = textwrap.dedent(
    """
    import json, sys, time
    import django
    django.setup()
    from ragengine import metrics
    from ragengine.ask_types import Answer, AnswerMode

    doors, modes, tiers = json.loads(sys.argv[1])
    counter = metrics.instruments().questions
    started = time.perf_counter()
    n = 0
    for tier in range(tiers):
        for door in doors:
            for mode in modes:
                counter.labels(door, mode, f"tier-{tier:04d}").inc()
                n += 1
    inc_us = (time.perf_counter() - started) / n * 1e6
    answer = Answer(
        text="x", mode=AnswerMode.GENERATED, model="gpt-4o-mini", tokens_in=900,
        tokens_out=120, timings_ms={s: 3.0 for s in (
            "validate", "budget", "cache", "embed", "retrieve", "generate", "total")},
    )
    started = time.perf_counter()
    for _ in range(2000):
        metrics.record_answer(answer, door="slack", tier="tier-0000")
    answer_us = (time.perf_counter() - started) / 2000 * 1e6
    print(json.dumps({"series": n, "inc_us": inc_us, "record_answer_us": answer_us}))
    """
)


def write_in_processes(*, writers: int, tiers: int) -> list[dict]:
    argv = json.dumps([DOORS, MODES, tiers])
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, argv],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(writers)
    ]
    results = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        assert child.returncode == 0, f"writer failed ({child.returncode})"
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000, help="label combinations")
    parser.add_argument("--writers", type=int, default=4, help="processes writing them all")
    parser.add_argument("--scrapes", type=int, default=60)
    add_run_args(parser, "metrics", quiet_wait=30.0)
    args = parser.parse_args()
    per_tier = len(DOORS) * len(MODES)
    tiers = max(1, args.series // per_tier)

    with scratch_dir("metrics", keep=args.keep) as data_dir:
        django_setup(data_dir / "data")
        from django.conf import settings
        from django.test import Client

        from adminsite.metrics import files_text, operations_text

        written = write_in_processes(writers=args.writers, tiers=tiers)
        folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        files_mb = sum(p.stat().st_size for p in folder.glob("*.db")) / 1e6

        client = Client(HTTP_HOST="localhost")
        first = client.get("/metrics")
        assert first.status_code == 200, first.status_code
        body = first.content.decode()
        series = sum(1 for line in body.splitlines() if line.startswith("arandu_questions_total{"))
        assert series == tiers * per_tier, series

        root = Path(settings.ARANDU_METRICS_DIR)

        quiet = wait_for_quiet(args.quiet_wait)
        load: dict = {}
        samples: dict[str, list[float]] = {"scrape": [], "files": [], "database": []}
        with monitored(load):
            for _ in range(args.scrapes):
                for name, run in (
                    ("scrape", lambda: client.get("/metrics")),
                    ("files", lambda: files_text(root)),
                    ("database", operations_text),
                ):
                    started = time.perf_counter()
                    run()
                    samples[name].append((time.perf_counter() - started) * 1000)

        figures = {name: percentiles(values) for name, values in samples.items()}
        rows = [[name, f["p50"], f["p95"], f["p99"], f["max"]] for name, f in figures.items()]
        print(
            f"\n{series} label combinations of arandu_questions_total, each written by "
            f"{args.writers} processes ({files_mb:.1f} MB of files); exposition "
            f"{len(first.content) / 1e6:.2f} MB"
        )
        print_table(rows, ["ms", "p50", "p95", "p99", "max"])
        inc_us = max(w["inc_us"] for w in written)
        answer_us = max(w["record_answer_us"] for w in written)
        print(f"recording: {inc_us:.1f} µs per counter increment, {answer_us:.1f} µs per answer")
        print(
            f"GET /metrics p95 {figures['scrape']['p95']} ms: "
            f"{verdict(figures['scrape']['p95'], TARGET_P95_MS)} (target <= {TARGET_P95_MS} ms)"
        )
        print(f"machine during the scrapes: {busy_note(load['load'])}")
        save_results(
            args.name,
            {
                "series": series,
                "writers": args.writers,
                "files_mb": round(files_mb, 2),
                "exposition_mb": round(len(first.content) / 1e6, 3),
                "scrapes": args.scrapes,
                "ms": figures,
                "target_p95_ms": TARGET_P95_MS,
                "verdict": verdict(figures["scrape"]["p95"], TARGET_P95_MS),
                "record_counter_inc_us": round(inc_us, 2),
                "record_answer_us": round(answer_us, 2),
                "quiet": quiet,
                "load": load,
            },
        )


if __name__ == "__main__":
    main()
