"""Slack door under a flood of bad requests (issue "Hardening", item 14).

Runs the product's web process (`manage.py runserver`, as `make run` does) with the Slack
door on, its `SLACK_API_URL` pointed at a local stand-in for the Slack Web API that counts
every TCP connection it accepts (so an attempt counts even if it never becomes a request).
Then sends `--requests` bad requests, mixed in a fixed shuffled order, from `--clients`
threads in a bounded loop: unsigned (with broken JSON, a JSON array, deep nesting, bytes
that aren't UTF-8), signed with a wrong secret, stale, from the future, a non-numeric
timestamp, a malformed signature header, signed but malformed bodies (broken JSON, a JSON
array, deep nesting, a form whose payload is an array), a body just over the size cap, and
a declared 64 MiB body of which nothing is sent.

Two phases, each in a fresh web process:
- `up`: the app was started by one signed request first (the only auth.test);
- `down`: the stand-in refuses auth.test (a revoked token), so the app can't start; a few
  valid signed requests go first and must cost one auth.test between them (the failure is
  remembered), then the bad requests must cost none.

Checks: no 5xx, every request gets its expected 4xx, no connection reaches the stand-in
during the loop, no traceback in the server log; reports p50/p95/p99 per kind and
overall, the server's CPU per request and how many warning lines the server wrote.

    PYTHONPATH=. .venv/bin/python bench/bench_slack_bad_requests.py
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_slack_ack import FakeSlackApi
from bench.common import (
    ROOT,
    django_setup,
    monitored,
    percentiles,
    print_table,
    save_results,
    scratch_dir,
    verdict,
    wait_for_quiet,
)

SIGNING_SECRET = "bench-signing-secret"
MAX_BODY_BYTES = 1024 * 1024  # botcore/slack/verify.py
TARGET_P99_MS = 50.0  # one sender; "bad requests get 400/401 in milliseconds"


class CountingSlackApi(FakeSlackApi):
    """The stand-in, counting accepted connections; `refuse_auth` makes auth.test fail
    like a revoked token."""

    def __init__(self, *, refuse_auth: bool) -> None:
        super().__init__()
        self.refuse_auth = refuse_auth
        self.connections = 0
        accept = self.server.get_request

        def counted_accept():
            conn = accept()
            with self.lock:
                self.connections += 1
            return conn

        self.server.get_request = counted_accept

    def record(self, method: str, body: dict) -> dict:
        if method == "auth.test" and self.refuse_auth:
            with self.lock:
                self.calls.append((time.perf_counter(), method, body))
            return {"ok": False, "error": "invalid_auth"}
        return super().record(method, body)

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return self.connections, len(self.calls)


# --------------------------------------------------------------------------- requests


def sign(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, *, age_s: int = 0, secret: str = SIGNING_SECRET) -> dict:
    timestamp = str(int(time.time()) - age_s)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(body, timestamp, secret),
    }


EVENT = json.dumps(
    {
        "token": "unused",
        "team_id": "TBENCH",
        "api_app_id": "ABENCH",
        "type": "event_callback",
        "event_id": "EvBad",
        "event_time": 1700000000,
        "event": {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "ts": "1.2"},
    }
).encode()
DEEP = b"[" * 20_000 + b"]" * 20_000
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class Shot:
    """One bad request: built at send time (timestamps must be current)."""

    kind: str
    expect: int
    build: Callable[[], tuple[bytes, dict[str, str], str]]  # body, headers, content type
    declared_only: int = 0  # send only headers declaring this Content-Length


def _unsigned(body: bytes) -> Callable:
    return lambda: (body, {}, JSON)


def _signed(body: bytes, content_type: str = JSON, **kw) -> Callable:
    return lambda: (body, signed_headers(body, **kw), content_type)


def _headers(body: bytes, headers: dict) -> Callable:
    return lambda: (body, dict(headers), JSON)


OVERSIZED = json.dumps({"type": "event_callback", "pad": "x" * MAX_BODY_BYTES}).encode()

SHOTS = [
    Shot("unsigned event", 401, _unsigned(EVENT)),
    Shot("unsigned broken JSON", 401, _unsigned(b'{"type": ')),
    Shot("unsigned JSON array", 401, _unsigned(b"[1, 2, 3]")),
    Shot("unsigned deep nesting", 401, _unsigned(DEEP)),
    Shot("unsigned not UTF-8", 401, _unsigned(b'{"text": "\xff\xfe"}')),
    Shot("wrong secret", 401, _signed(EVENT, secret="guessed-secret")),
    Shot("stale (6 min)", 401, _signed(EVENT, age_s=6 * 60)),
    Shot("from the future (6 min)", 401, _signed(EVENT, age_s=-6 * 60)),
    Shot(
        "non-numeric timestamp",
        400,
        _headers(
            EVENT, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64}
        ),
    ),
    Shot(
        "malformed signature",
        400,
        lambda: (
            EVENT,
            {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "sha1=x"},
            JSON,
        ),
    ),
    Shot("signed broken JSON", 400, _signed(b'{"type": "event_callback", ')),
    Shot("signed JSON array", 400, _signed(b'[{"type": "event_callback"}]')),
    Shot("signed deep nesting", 400, _signed(DEEP)),
    Shot("signed form payload array", 400, _signed(urlencode({"payload": "[1]"}).encode(), FORM)),
    Shot("oversized (1 MiB + 32 B, sent)", 413, _signed(OVERSIZED)),
    Shot(
        "oversized (64 MiB declared, not sent)",
        413,
        lambda: (b"", signed_headers(b""), JSON),
        declared_only=64 * 1024 * 1024,
    ),
]


def send(port: int, shot: Shot) -> tuple[float, int]:
    """One request on a fresh connection; (ms from connect to the whole response, status)."""
    body, headers, content_type = shot.build()
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", "/slack/events")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(shot.declared_only or len(body)))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        if not shot.declared_only:
            conn.send(body)
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return (time.perf_counter() - started) * 1000, status


def valid_signed_post(port: int) -> int:
    body = json.dumps({"type": "url_verification", "challenge": "c1", "token": "x"}).encode()
    return send(port, Shot("valid", 200, lambda: (body, signed_headers(body), JSON)))[1]


# --------------------------------------------------------------------------- web process


def start_web(slack: FakeSlackApi, log_path: Path) -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {
        "SLACK_BOT_TOKEN": "xoxb-bench-not-a-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": "",
        "SLACK_API_URL": slack.url,
        "ARANDU_BOT_WORKERS": "2",
    }
    log = log_path.open("w")
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit(f"web process exited:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return web, port
        except OSError:
            time.sleep(0.2)
    web.kill()
    raise SystemExit("web process did not start within 60 s")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_counts(text: str) -> dict[str, int]:
    lines = text.splitlines()
    return {
        "rejection_warnings": sum("slack request rejected" in line for line in lines),
        "tracebacks": sum(line.startswith("Traceback") for line in lines),
        "errors": sum(" ERROR " in line for line in lines),
        "app_start_failures": sum("slack app could not start" in line for line in lines),
        "lines": len(lines),
    }


# --------------------------------------------------------------------------- phases


def run_phase(name: str, args, data_dir: Path) -> dict:
    refuse = name == "down"
    slack = CountingSlackApi(refuse_auth=refuse)
    log_path = data_dir / f"web-{name}.log"
    web, port = start_web(slack, log_path)
    try:
        prologue: dict = {}
        if refuse:
            # Valid signed requests while the token is refused: 503, one auth.test at most.
            statuses = Counter(valid_signed_post(port) for _ in range(args.signed_while_down))
            prologue = {
                "valid_signed_sent": args.signed_while_down,
                "statuses": dict(statuses),
                "auth_test_calls": slack.count("auth.test"),
            }
        else:
            assert valid_signed_post(port) == 200, "the app must start in the up phase"
            prologue = {"auth_test_calls": slack.count("auth.test")}
        for shot in SHOTS:  # warm-up: first imports and code paths, not timed
            send(port, shot)
        log_before = log_path.read_text()
        connections_before, calls_before = slack.snapshot()

        rng = random.Random(args.seed)
        plan = [SHOTS[i % len(SHOTS)] for i in range(args.requests)]
        rng.shuffle(plan)
        results: list[tuple[str, int, float, int]] = []  # kind, expected, ms, status
        lock = threading.Lock()
        next_index = iter(range(len(plan)))

        def client() -> None:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                shot = plan[index]
                try:
                    ms, status = send(port, shot)
                except OSError as exc:  # a reset or timeout is a failure to report
                    ms, status = float("nan"), -1
                    print(f"  {shot.kind}: {exc!r}")
                with lock:
                    results.append((shot.kind, shot.expect, ms, status))

        quiet = wait_for_quiet(args.quiet_wait)
        load: dict = {}
        cpu_before = cpu_seconds(web.pid)
        started = time.perf_counter()
        with monitored(load):
            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        wall_s = time.perf_counter() - started
        cpu_s = cpu_seconds(web.pid) - cpu_before
        time.sleep(0.5)  # let the server flush its log
        connections_after, calls_after = slack.snapshot()
        log_text = log_path.read_text()
        log_during = log_counts(log_text[len(log_before) :])
        log_whole = log_counts(log_text)
    finally:
        web.terminate()
        try:
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web.kill()
        slack.server.shutdown()

    by_kind: dict[str, list[float]] = defaultdict(list)
    statuses_by_kind: dict[str, Counter] = defaultdict(Counter)
    for kind, _expect, ms, status in results:
        by_kind[kind].append(ms)
        statuses_by_kind[kind][status] += 1
    expected = {shot.kind: shot.expect for shot in SHOTS}
    unexpected = {
        kind: dict(counts)
        for kind, counts in statuses_by_kind.items()
        if set(counts) != {expected[kind]}
    }
    all_ms = [ms for _, _, ms, _ in results]
    return {
        "requests": len(results),
        "clients": args.clients,
        "prologue": prologue,
        "latency_ms": percentiles(all_ms),
        "by_kind": {
            kind: {
                "expected_status": expected[kind],
                "statuses": dict(statuses_by_kind[kind]),
                **percentiles(by_kind[kind]),
            }
            for kind in expected
        },
        "server_5xx": sum(1 for *_, status in results if status >= 500),
        "failed_connections": sum(1 for *_, status in results if status < 0),
        "unexpected_statuses": unexpected,
        "slack_connections_during_loop": connections_after - connections_before,
        "slack_calls_during_loop": calls_after - calls_before,
        "server_cpu_ms_per_request": round(cpu_s * 1000 / max(1, len(results)), 3),
        "requests_per_s": round(len(results) / wall_s, 1),
        "wall_s": round(wall_s, 2),
        "server_log_during_loop": log_during,
        "server_log_whole_run": log_whole,
        "quiet_wait": quiet,
        "load": load.get("load"),
        # other_cores counts the web process too: this is the rest of the machine
        "machine_other_cores": round(
            max(0.0, (load.get("load") or {}).get("other_cores", 0.0) - cpu_s / wall_s), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="bad requests per phase")
    parser.add_argument("--clients", type=int, default=1, help="client threads")
    parser.add_argument("--quiet-wait", type=float, default=30.0, help="max s to wait for quiet")
    parser.add_argument("--signed-while-down", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--name", default="slack_bad_requests", help="results file name")
    args = parser.parse_args()

    with scratch_dir("slack-bad") as data_dir:
        django_setup(data_dir, ARANDU_LOG_LEVEL="WARNING")
        phases = {name: run_phase(name, args, data_dir) for name in ("up", "down")}

    rows = []
    for name, phase in phases.items():
        for kind, figures in phase["by_kind"].items():
            statuses = "/".join(str(s) for s in sorted(figures["statuses"]))
            rows.append(
                [name, kind, statuses, figures["p50"], figures["p99"], figures["max"], figures["n"]]
            )
        overall = phase["latency_ms"]
        rows.append(
            [name, "ALL", "-", overall["p50"], overall["p99"], overall["max"], overall["n"]]
        )
    print_table(rows, headers=["phase", "request", "status", "p50 ms", "p99 ms", "max ms", "n"])

    ok = True
    for name, phase in phases.items():
        clean = (
            phase["server_5xx"] == 0
            and phase["failed_connections"] == 0
            and not phase["unexpected_statuses"]
            and phase["slack_connections_during_loop"] == 0
            and phase["slack_calls_during_loop"] == 0
            and phase["server_log_whole_run"]["tracebacks"] == 0
        )
        ok = ok and clean
        whole = phase["server_log_whole_run"]
        print(
            f"\n{name}: {phase['requests']} requests from {phase['clients']} client(s), "
            f"p99 {phase['latency_ms']['p99']:.2f} ms, 5xx {phase['server_5xx']}, "
            f"unexpected statuses {phase['unexpected_statuses'] or 0}, connections to the "
            f"Slack stand-in {phase['slack_connections_during_loop']}, tracebacks "
            f"{whole['tracebacks']}, rejection warnings {whole['rejection_warnings']} in the "
            f"whole run, server CPU {phase['server_cpu_ms_per_request']:.2f} ms/request, "
            f"rest of the machine {phase['machine_other_cores']:.2f} cores; "
            f"before the loop: {phase['prologue']}"
        )
    down = phases["down"]["prologue"]
    remembered = down["auth_test_calls"] == 1 and set(down["statuses"]) == {503}
    checks = "PASS" if ok and remembered else "FAIL"
    worst_p99 = max(phase["latency_ms"]["p99"] for phase in phases.values())
    latency = verdict(worst_p99, TARGET_P99_MS)
    total = sum(p["requests"] for p in phases.values())
    print(
        f"\nchecks {checks}: no 5xx, the expected 4xx and no connection to Slack in {total} bad "
        f"requests; while the token was refused, {down['valid_signed_sent']} valid signed "
        f"requests cost {down['auth_test_calls']} auth.test.\n"
        f"latency {latency}: worst p99 {worst_p99:.2f} ms (target {TARGET_P99_MS:.0f} ms, "
        f"{args.clients} client(s); queueing dominates with several clients on 2 cores)."
    )
    save_results(
        args.name,
        {
            "setup": {
                "requests_per_phase": args.requests,
                "clients": args.clients,
                "kinds": [{"kind": s.kind, "expected_status": s.expect} for s in SHOTS],
                "server": "manage.py runserver (as make run)",
                "seed": args.seed,
            },
            "phases": phases,
            "failed_start_remembered": remembered,
            "checks": checks,
            "target_p99_ms": TARGET_P99_MS,
            "latency_verdict": latency,
        },
    )
    if checks != "PASS":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
