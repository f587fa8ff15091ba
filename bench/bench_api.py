"""REST API overhead and throughput (issue "Ops": POST /api/v1/ask through gunicorn).

A member token asks a question whose extractive answer is already cached, so the engine
does the least it ever does and what remains is the API's own cost: HTTP, gunicorn,
Django, DRF, token authentication, scope resolution and JSON.

1. `ask()` called directly in this process (the baseline), p50/p95/p99.
2. The same question through the API in this process (Django's test client: no HTTP).
3. Through gunicorn on loopback, one client at a time: the API's overhead over a direct
   `ask()` call (target: <= 5 ms at p50), also as client time minus the `ask()` time the
   server reports in `timings_ms.total`.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
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
            env["DATABASE_URL"] = fresh_postgres(PG_DATABASE)
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


def direct_ask(token, count: int) -> tuple[dict, dict]:
    """Baseline: `ask()` with the channel the API builds for this token."""
    from ragengine.selectors.api_scope import api_channel, api_scope
    from ragengine.services.ask import ask

    channel = api_channel(token=token, scope=api_scope(token=token))
    first = ask(member=token.member, question=QUESTION, channel=channel)
    assert first.mode in ("extractive", "cached"), first.text
    samples: list[float] = []
    cpu: list[float] = []
    load: dict = {}
    with monitored(load):
        for _ in range(count):
            started, cpu_started = time.perf_counter(), time.process_time()
            answer = ask(member=token.member, question=QUESTION, channel=channel)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    assert answer.mode == "cached", answer.mode
    return percentiles(samples), percentiles(cpu), load["load"]


def in_process_api(plain: str, count: int) -> tuple[dict, dict]:
    """The API view stack without HTTP (Django's test client)."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}", HTTP_HOST="127.0.0.1")
    samples: list[float] = []
    cpu: list[float] = []
    load: dict = {}
    with monitored(load):
        for _ in range(count):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.post(
                "/api/v1/ask", {"question": QUESTION}, content_type="application/json"
            )
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            assert response.status_code == 200 and response.json()["mode"] == "cached"
    return percentiles(samples), percentiles(cpu), load["load"]


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


def sequential(base: str, plain: str, count: int, server_pid: int) -> tuple[dict, dict, dict]:
    """One keep-alive client, one request at a time: client ms, and client ms minus the
    ask() time the server reports; the load adds the server's CPU ms per request."""
    import httpx

    samples: list[float] = []
    outside_ask: list[float] = []
    load: dict = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {plain}"}) as client:
        for _ in range(20):  # warm every worker thread and connection
            client.post("/api/v1/ask", json={"question": QUESTION})
        cpu_before = process_tree_cpu(server_pid)
        with monitored(load):
            for _ in range(count):
                started = time.perf_counter()
                response = client.post("/api/v1/ask", json={"question": QUESTION})
                elapsed = (time.perf_counter() - started) * 1000
                body = response.json()
                assert response.status_code == 200 and body["mode"] == "cached", body
                samples.append(elapsed)
                outside_ask.append(elapsed - body["timings_ms"]["total"])
        server_cpu_s = process_tree_cpu(server_pid) - cpu_before
    load["load"]["server_cpu_ms_per_request"] = round(server_cpu_s * 1000 / count, 2)
    load["load"]["other_cores"] = round(
        max(0.0, load["load"]["other_cores"] - server_cpu_s / load["load"]["wall_s"]), 2
    )
    return percentiles(samples), percentiles(outside_ask), load["load"]


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
    token, plain = prepare()
    quiet = wait_for_quiet(args.quiet_wait)
    direct, direct_cpu, direct_load = direct_ask(token, args.requests)
    in_process, in_process_cpu, in_process_load = in_process_api(plain, args.requests)
    server, base = start_gunicorn(data_dir, workers=args.workers, threads=args.threads)
    try:
        over_http, outside_ask, http_load = sequential(
            base, plain, args.requests, server_pid=server.pid
        )
        load_run = concurrent(
            base, plain, clients=args.clients, seconds=args.seconds, server_pid=server.pid
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    overhead_p50 = round(over_http["p50"] - direct["p50"], 2)
    # CPU time is what the API adds whatever else the machine runs: the view stack in
    # process, and the server's CPU per request over HTTP, each over a direct ask().
    overhead_cpu = {
        "in_process_p50_ms": round(in_process_cpu["p50"] - direct_cpu["p50"], 2),
        "over_http_mean_ms": round(http_load["server_cpu_ms_per_request"] - direct_cpu["mean"], 2),
    }
    results = {
        "setup": {
            "question": QUESTION,
            "path": "extractive answer, served from the answer cache",
            "server": f"gunicorn gthread, {args.workers} workers x {args.threads} threads",
            "client": "httpx, keep-alive, on the same machine",
        },
        "quiet_before": quiet,
        "direct_ask_ms": direct,
        "direct_ask_cpu_ms": direct_cpu,
        "api_in_process_ms": in_process,
        "api_in_process_cpu_ms": in_process_cpu,
        "api_over_http_ms": over_http,
        "api_over_http_minus_server_ask_ms": outside_ask,
        "overhead_p50_ms": overhead_p50,
        "overhead_cpu_ms": overhead_cpu,
        "target_overhead_p50_ms": TARGET_OVERHEAD_P50_MS,
        "verdict": verdict(overhead_p50, TARGET_OVERHEAD_P50_MS),
        "concurrent": load_run,
        "loads": {
            "direct": direct_load,
            "in_process": in_process_load,
            "over_http": http_load,
        },
    }
    rows = [
        ["ask() direct", direct["p50"], direct["p95"], direct["p99"], direct["n"]],
        ["API in process (no HTTP)", in_process["p50"], in_process["p95"], in_process["p99"],
         in_process["n"]],
        ["API via gunicorn, 1 client", over_http["p50"], over_http["p95"], over_http["p99"],
         over_http["n"]],
        ["  minus server-side ask()", outside_ask["p50"], outside_ask["p95"], outside_ask["p99"],
         outside_ask["n"]],
        [f"API via gunicorn, {args.clients} clients", load_run["latency_ms"]["p50"],
         load_run["latency_ms"]["p95"], load_run["latency_ms"]["p99"],
         load_run["latency_ms"]["n"]],
    ]  # fmt: skip
    print_table(rows, headers=["", "p50 ms", "p95 ms", "p99 ms", "n"])
    print_table(
        [
            ["ask() direct", direct_cpu["p50"], direct_cpu["mean"]],
            ["API in process", in_process_cpu["p50"], in_process_cpu["mean"]],
            ["API via gunicorn (server), 1 client", "", http_load["server_cpu_ms_per_request"]],
            [
                f"API via gunicorn (server), {args.clients} clients",
                "",
                load_run["load"]["server_cpu_ms_per_request"],
            ],
        ],
        headers=["CPU per request", "p50 ms", "mean ms"],
    )
    print(
        f"\nCPU the API adds to a direct ask(): {overhead_cpu['in_process_p50_ms']:.2f} ms "
        f"in process (p50), {overhead_cpu['over_http_mean_ms']:.2f} ms in the server over "
        "HTTP (mean)."
    )
    print(
        f"API overhead over a direct ask() at p50: {overhead_p50:.2f} ms "
        f"(target <= {TARGET_OVERHEAD_P50_MS:.0f} ms): {results['verdict']}. "
        f"{args.clients} clients: {load_run['throughput_rps']:.0f} requests/s, "
        f"{load_run['errors']} errors, server used {load_run['load']['server_cores']:.2f} "
        f"cores; machine {busy_note(load_run['load'])}."
    )
    return results


if __name__ == "__main__":
    main()
