"""The API's own CPU per `POST /api/v1/ask`, with `ask()` taken out (docs/PERFORMANCE.md §17).

`bench_api.py` measures the API against a real `ask()`; on a busy machine its wall times
drown the API's share. Here the view's `ask()` returns an answer prepared once, so each
request is only what the API adds: middleware, DRF, the token, the scope, validation and
rendering. Measured as this thread's CPU time (other load barely moves it), against
`GET /healthz` (the middleware floor), in interleaved rounds; then a cProfile of the view.

    PYTHONPATH=. .venv/bin/python bench/bench_api_view.py [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    add_run_args,
    django_setup,
    fresh_postgres,
    monitored,
    percentiles,
    print_table,
    profile_top,
    save_results,
    scratch_dir,
)

ROUND = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-database", default="arandu_bench_api_view")
    parser.add_argument("--requests", type=int, default=1000, help="per series")
    add_run_args(parser, "", keep=True)
    args = parser.parse_args()
    with scratch_dir("api-view", keep=args.keep) as data_dir:
        env = {"ARANDU_LOG_LEVEL": "WARNING"}
        if args.database == "postgres":
            env["DATABASE_URL"] = fresh_postgres(args.pg_database)
        django_setup(data_dir, **env)
        results = run(args)
        results["database"] = args.database
        save_results(args.name or f"api-view-{args.database}", results)


def run(args) -> dict:
    from django.test import Client

    import adminsite.api.views.ask as ask_view
    from bench.bench_api import QUESTION, prepare
    from ragengine.selectors.api_scope import api_channel, api_scope
    from ragengine.services.ask import ask

    token, plain = prepare()
    channel = api_channel(token=token, scope=api_scope(token=token))
    ask(member=token.member, question=QUESTION, channel=channel)
    prepared = ask(member=token.member, question=QUESTION, channel=channel)
    ask_view.ask = lambda **_: prepared  # this process only: the API without the engine
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}", HTTP_HOST="127.0.0.1")
    calls = {
        "api": lambda: client.post(
            "/api/v1/ask", {"question": QUESTION}, content_type="application/json"
        ),
        "healthz": lambda: client.get("/healthz"),
    }
    assert calls["api"]().status_code == 200
    for call in calls.values():
        for _ in range(50):
            call()
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    load: dict = {}
    with monitored(load):
        for _ in range(max(1, args.requests // ROUND)):
            for name, call in calls.items():
                for _ in range(ROUND):
                    started = time.thread_time()
                    call()
                    cpu[name].append((time.thread_time() - started) * 1000)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(300):
        calls["api"]()
    profiler.disable()
    summary = {name: percentiles(samples) for name, samples in cpu.items()}
    view_only = round(summary["api"]["p50"] - summary["healthz"]["p50"], 3)
    print_table(
        [[name, s["p50"], s["p95"], s["mean"], s["n"]] for name, s in summary.items()],
        headers=["CPU ms per request", "p50", "p95", "mean", "n"],
    )
    print(f"\nThe API's own CPU over the middleware floor, p50: {view_only:.3f} ms")
    top = profile_top(profiler, sort="cumulative", limit=45)
    print("\n".join(top))
    return {
        "setup": "ask() replaced by a prepared answer; Django test client (no HTTP)",
        "cpu_ms": summary,
        "api_over_healthz_p50_ms": view_only,
        "profile_top_cumulative": top,
        "load": load["load"],
    }


if __name__ == "__main__":
    main()
