"""REST API overhead and throughput (issue "Ops": POST /api/v1/ask through gunicorn).

A member token asks a question whose extractive answer is already cached, so the engine
does the least it ever does and what remains is the API's own cost: HTTP, gunicorn,
Django, DRF, token authentication, scope resolution and JSON.

1. `ask()` called directly in this process (the baseline), p50/p95/p99.
2. The same question through the API in this process (Django's test client: no HTTP).
3. Through gunicorn on loopback, one client at a time: the API's overhead over a direct
   `ask()` call (target: <= 5 ms at p50), also as client time minus the `ask()` time the
   server reports in `timings_ms.total`; `GET /healthz` as the web server's floor.
   1-3 run in interleaved rounds, so a busy spell hits every series alike; each also
   records CPU per request (this process, or the gunicorn processes), which other load
   disturbs far less than wall time.
4. Through gunicorn with 20 concurrent clients (keep-alive): throughput and p50/p99.

    PYTHONPATH=. .venv/bin/python bench/bench_api.py [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    add_run_args,
    busy_note,
    django_setup,
    fresh_postgres,
    ingest_handbook,
    monitored,
    percentiles,
    print_table,
    save_results,
    scratch_dir,
    verdict,
    wait_for_quiet,
)

PG_DATABASE = "arandu_bench_api"
QUESTION = "How many vacation days do I get per year?"
TARGET_OVERHEAD_P50_MS = 5.0
ROUND = 25  # requests per series per interleaved round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-database", default=PG_DATABASE, help="scratch PostgreSQL database (recreated)"
    )
    parser.add_argument("--requests", type=int, default=500, help="per sequential series")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0, help="concurrent run length")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    add_run_args(parser, "", keep=True)
    args = parser.parse_args()
    name = args.name or f"api-{args.database}"
    with scratch_dir("api", keep=args.keep) as data_dir:
        env = {"ARANDU_LOG_LEVEL": "WARNING"}
        if args.database == "postgres":
            env["DATABASE_URL"] = fresh_postgres(args.pg_database)
        django_setup(data_dir, **env)
        results = run(args, data_dir)
        results["database"] = args.database
        save_results(name, results)


def prepare() -> tuple[object, str]:
    """The handbook, a member who reads it, a token with a rate no run reaches, and the
    question's extractive answer in the cache."""
    from ragengine.models import KnowledgeSet, Member
    from ragengine.services.api_tokens import api_token_create

    ingested = ingest_handbook()
    assert not ingested.report.failures, ingested.report.failures
    member = Member.objects.create(display_name="bench")
    member.knowledge_sets.set([KnowledgeSet.objects.get(name="handbook")])
    issued = api_token_create(name="bench", member=member, rate_limit="1000000/s")
    return issued.token, issued.plain


class Series:
    """Wall and CPU milliseconds of one way of asking, gathered over interleaved rounds."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []  # this process's CPU, or the server's per request
        self.outside_ask: list[float] = []  # wall minus the ask() time the server reports

    def summary(self) -> dict:
        out = {"wall_ms": percentiles(self.wall), "cpu_ms": percentiles(self.cpu)}
        if self.outside_ask:
            out["wall_minus_server_ask_ms"] = percentiles(self.outside_ask)
        return out


def timed_locally(series: Series, call, count: int) -> None:
    for _ in range(count):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        series.wall.append((time.perf_counter() - started) * 1000)
        series.cpu.append((time.process_time() - cpu_started) * 1000)


def timed_over_http(series: Series, call, count: int, server_pid: int) -> None:
    """Client wall time per request; the server's CPU (all workers) spread evenly."""
    cpu_before = process_tree_cpu(server_pid)
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text
        series.wall.append(elapsed)
        if response.request.url.path.endswith("/ask"):
            body = response.json()
            assert body["mode"] == "cached", body
            series.outside_ask.append(elapsed - body["timings_ms"]["total"])
    per_request = (process_tree_cpu(server_pid) - cpu_before) * 1000 / count
    series.cpu.extend([per_request] * count)


def start_gunicorn(data_dir: Path, *, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "gunicorn", "adminsite.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--worker-class", "gthread", "--keep-alive", "30", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{server.stderr.read().decode()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start within 60 s")


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds used so far by `root_pid` and its children (the gunicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == root_pid or ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def concurrent(base: str, plain: str, *, clients: int, seconds: float, server_pid: int) -> dict:
    """`clients` keep-alive clients asking as fast as answers come, for `seconds`."""
    import httpx

    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client_loop() -> None:
        mine: list[float] = []
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {plain}"}, timeout=30
        ) as client:
            client.post("/api/v1/ask", json={"question": QUESTION})
            start.wait()
            while time.perf_counter() < stop_at[0]:
                began = time.perf_counter()
                try:
                    response = client.post("/api/v1/ask", json={"question": QUESTION})
                    ok = response.status_code == 200
                except httpx.HTTPError as exc:
                    ok, response = False, exc
                mine.append((time.perf_counter() - began) * 1000)
                if not ok:
                    with lock:
                        errors.append(str(getattr(response, "status_code", response)))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    load: dict = {}
    cpu_before = process_tree_cpu(server_pid)
    stop_at[0] = time.perf_counter() + seconds
    with monitored(load):
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
    server_cores = (process_tree_cpu(server_pid) - cpu_before) / wall
    load["load"]["server_cores"] = round(server_cores, 2)
    load["load"]["server_cpu_ms_per_request"] = round(
        server_cores * wall * 1000 / max(1, len(samples)), 2
    )
    # "other" in LoadMonitor counts the server too: what else ran is the rest.
    load["load"]["other_cores"] = round(max(0.0, load["load"]["other_cores"] - server_cores), 2)
    return {
        "clients": clients,
        "requests": len(samples),
        "errors": len(errors),
        "error_samples": errors[:5],
        "throughput_rps": round(len(samples) / wall, 1),
        "latency_ms": percentiles(samples),
        "load": load["load"],
    }


def run(args, data_dir: Path) -> dict:
    import httpx
    from django.test import Client

    from ragengine.selectors.api_scope import api_channel, api_scope
    from ragengine.services.ask import ask

    token, plain = prepare()
    channel = api_channel(token=token, scope=api_scope(token=token))
    first = ask(member=token.member, question=QUESTION, channel=channel)
    assert first.mode in ("extractive", "cached"), first.text
    in_process = Client(HTTP_AUTHORIZATION=f"Bearer {plain}", HTTP_HOST="127.0.0.1")
    server, base = start_gunicorn(data_dir, workers=args.workers, threads=args.threads)
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {plain}"})
    series = {name: Series() for name in ("direct", "in_process", "http", "healthz")}
    calls = {
        "direct": lambda: ask(member=token.member, question=QUESTION, channel=channel),
        "in_process": lambda: in_process.post(
            "/api/v1/ask", {"question": QUESTION}, content_type="application/json"
        ),
        "http": lambda: http.post("/api/v1/ask", json={"question": QUESTION}),
        "healthz": lambda: http.get("/healthz"),
    }
    try:
        for name in ("in_process", "http", "healthz"):  # warm every worker and connection
            for _ in range(20):
                calls[name]()
        quiet = wait_for_quiet(args.quiet_wait)
        # Interleaved rounds: the four series see the same machine, busy or not.
        rounds = max(1, args.requests // ROUND)
        sequential_load: dict = {}
        cpu_before = process_tree_cpu(server.pid)
        with monitored(sequential_load):
            for _ in range(rounds):
                timed_locally(series["direct"], calls["direct"], ROUND)
                timed_locally(series["in_process"], calls["in_process"], ROUND)
                timed_over_http(series["http"], calls["http"], ROUND, server.pid)
                timed_over_http(series["healthz"], calls["healthz"], ROUND, server.pid)
        server_cores = (process_tree_cpu(server.pid) - cpu_before) / sequential_load["load"][
            "wall_s"
        ]
        sequential_load["load"]["other_cores"] = round(
            max(0.0, sequential_load["load"]["other_cores"] - server_cores), 2
        )
        load_run = concurrent(
            base, plain, clients=args.clients, seconds=args.seconds, server_pid=server.pid
        )
    finally:
        http.close()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    summary = {name: s.summary() for name, s in series.items()}
    direct, over_http = summary["direct"], summary["http"]
    overhead_p50 = round(over_http["wall_ms"]["p50"] - direct["wall_ms"]["p50"], 2)
    # CPU is what the API adds whatever else the machine runs: the view stack in process,
    # and the server's CPU per request over HTTP, each over a direct ask().
    overhead_cpu = {
        "in_process_p50_ms": round(
            summary["in_process"]["cpu_ms"]["p50"] - direct["cpu_ms"]["p50"], 2
        ),
        "server_over_http_mean_ms": round(
            over_http["cpu_ms"]["mean"] - direct["cpu_ms"]["mean"], 2
        ),
        "server_healthz_mean_ms": summary["healthz"]["cpu_ms"]["mean"],
    }
    results = {
        "setup": {
            "question": QUESTION,
            "path": "extractive answer, served from the answer cache",
            "server": f"gunicorn gthread, {args.workers} workers x {args.threads} threads",
            "client": "httpx, keep-alive, on the same machine",
            "rounds": f"{rounds} interleaved rounds of {ROUND} requests per series",
        },
        "quiet_before": quiet,
        "series": summary,
        "overhead_p50_ms": overhead_p50,
        "overhead_cpu_ms": overhead_cpu,
        "target_overhead_p50_ms": TARGET_OVERHEAD_P50_MS,
        "verdict": verdict(overhead_p50, TARGET_OVERHEAD_P50_MS),
        "sequential_load": sequential_load["load"],
        "concurrent": load_run,
    }
    labels = {
        "direct": "ask() direct",
        "in_process": "API in process (no HTTP)",
        "http": "API via gunicorn, 1 client",
        "healthz": "GET /healthz via gunicorn",
    }
    rows = []
    for name, label in labels.items():
        wall, cpu = summary[name]["wall_ms"], summary[name]["cpu_ms"]
        rows.append([label, wall["p50"], wall["p95"], wall["p99"], cpu["mean"], wall["n"]])
    outside = over_http["wall_minus_server_ask_ms"]
    rows.append(["  API minus server-side ask()", outside["p50"], outside["p95"],
                 outside["p99"], "", outside["n"]])  # fmt: skip
    latency = load_run["latency_ms"]
    rows.append([f"API via gunicorn, {args.clients} clients", latency["p50"], latency["p95"],
                 latency["p99"], load_run["load"]["server_cpu_ms_per_request"],
                 latency["n"]])  # fmt: skip
    print_table(rows, headers=["", "p50 ms", "p95 ms", "p99 ms", "CPU ms/req", "n"])
    print(
        f"\nAPI overhead over a direct ask() at p50: {overhead_p50:.2f} ms "
        f"(target <= {TARGET_OVERHEAD_P50_MS:.0f} ms): {results['verdict']}; CPU it adds: "
        f"{overhead_cpu['in_process_p50_ms']:.2f} ms in process, "
        f"{overhead_cpu['server_over_http_mean_ms']:.2f} ms in the server "
        f"(a GET /healthz costs the server {overhead_cpu['server_healthz_mean_ms']:.2f} ms). "
        f"Machine {busy_note(sequential_load['load'])}.\n"
        f"{args.clients} clients: {load_run['throughput_rps']:.0f} requests/s, "
        f"{load_run['errors']} errors, server used {load_run['load']['server_cores']:.2f} "
        f"cores; machine {busy_note(load_run['load'])}."
    )
    return results


if __name__ == "__main__":
    main()
