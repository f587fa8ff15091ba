"""Slack acknowledgement latency while the engine is busy (issue "Doors").

Runs the product's web process (`manage.py runserver`, as `make run` does) with the Slack
door on, pointed at a local stand-in for the Slack Web API, and a tier whose model is the
local OpenAI-compatible stub taking `--stub-delay` seconds per answer. Then sends
`--events` signed `app_mention` events at `--rate` per second, more than the door's
`ARANDU_BOT_WORKERS` can answer, so the engine is busy answering earlier questions while
new events arrive; every tenth event is delivered again as a Slack retry.

Measures each POST /slack/events round trip as the client sees it (target p99 <= 100 ms;
Slack's own limit is 3 s), then waits for every answer and checks each event was answered
exactly once.

    PYTHONPATH=. .venv/bin/python bench/bench_slack_ack.py [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
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

PG_DATABASE = "arandu_bench_slack"
SIGNING_SECRET = "bench-signing-secret"
BOT_USER = "UBENCHBOT"
TEAM = "TBENCH"
QUESTIONS = [
    "How many vacation days do I get?",
    "What is the daily meal limit when travelling?",
    "How much is the home office allowance?",
    "Who approves travel expenses?",
    "Can I carry over unused vacation days?",
]
TARGET_P99_MS = 100.0


class FakeSlackApi:
    """The Slack Web API methods the door calls, answering like Slack; it counts the
    placeholders posted and the final answers (updates carrying the feedback buttons)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[float, str, dict]] = []
        self._ts = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                if "json" in self.headers.get("content-type", ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                reply = api.record(self.path.rsplit("/", 1)[-1], body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/"

    def record(self, method: str, body: dict) -> dict:
        with self.lock:
            self.calls.append((time.perf_counter(), method, body))
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": BOT_USER,
                "bot_id": "BBENCH",
                "team_id": TEAM,
                "user": "arandu",
                "team": "Bench",
                "url": "https://bench.slack.com/",
            }
        if method == "conversations.replies":
            return {"ok": True, "messages": [], "has_more": False}
        channel = body.get("channel", "C1")
        return {"ok": True, "channel": channel, "ts": body.get("ts", ts), "message": {}}

    def final_answers(self) -> list[tuple[float, dict]]:
        with self.lock:
            return [
                (t, b)
                for t, m, b in self.calls
                if m == "chat.update" and "feedback_up" in json.dumps(b.get("blocks", ""))
            ]

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for _, m, _ in self.calls if m == method)


def signed_post(url: str, body: bytes, *, retry: int = 0) -> tuple[float, int]:
    """POST like Slack does (v0 signature over timestamp and body); returns (ms, status)."""
    from slack_sdk.signature import SignatureVerifier

    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=timestamp, body=body
        ),
    }
    if retry:
        headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        status = response.status
    return (time.perf_counter() - started) * 1000, status


def mention_event(index: int) -> bytes:
    ts = f"1700001000.{index:06d}"
    question = QUESTIONS[index % len(QUESTIONS)]
    return json.dumps(
        {
            "token": "unused",
            "team_id": TEAM,
            "api_app_id": "ABENCH",
            "type": "event_callback",
            "event_id": f"Ev{index:08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
            "event": {
                "type": "app_mention",
                "user": f"U{index % 40:05d}",
                "text": f"<@{BOT_USER}> {question}",
                "ts": ts,
                "channel": "CBENCH",
                "event_ts": ts,
            },
        }
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--stub-delay", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--name", default="", help="results file name (default slack_ack-DB)")
    args = parser.parse_args()

    with scratch_dir("slack-ack") as data_dir:
        env = {"ARANDU_LOG_LEVEL": "WARNING", "ARANDU_CACHE_DEFAULT_TTL": "0"}
        if args.database == "postgres":
            env["DATABASE_URL"] = fresh_postgres(PG_DATABASE)
        django_setup(data_dir, **env)
        results = run(args)
        results["database"] = args.database
        save_results(args.name or f"slack_ack-{args.database}", results)


def configure_engine(stub_port: int) -> None:
    from ragengine.models import CacheRule, ProviderEndpoint, Tier, TierModel

    CacheRule.objects.update(enabled=False)  # every question must reach the model
    ingest_handbook()
    endpoint = ProviderEndpoint.objects.create(
        name="stub", kind="openai", base_url=f"http://127.0.0.1:{stub_port}/v1"
    )
    Tier.objects.update(is_default=False)
    tier = Tier.objects.create(name="bench", is_default=True, max_output_tokens=200)
    TierModel.objects.create(tier=tier, endpoint=endpoint, model="gpt-4o-mini")


def start_web(*, slack: FakeSlackApi, workers: int) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {
        "SLACK_BOT_TOKEN": "xoxb-bench-not-a-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "ARANDU_BOT_WORKERS": str(workers),
        "OPENAI_API_KEY": "sk-bench-not-a-key",
    }
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit(f"web process exited:\n{web.stderr.read()}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return web, base
        except OSError:
            time.sleep(0.2)
    web.kill()
    raise SystemExit("web process did not start within 60 s")


def run(args) -> dict:
    stub = start_stub(delay_s=args.stub_delay)
    configure_engine(stub.server_port)
    slack = FakeSlackApi()
    web, base = start_web(slack=slack, workers=args.workers)
    url = f"{base}/slack/events"
    try:
        # Warm-up: the first event builds the Bolt app and loads the models in the server.
        for index in range(3):
            signed_post(url, mention_event(10_000_000 + index))
        wait_for(lambda: len(slack.final_answers()) >= 3, timeout_s=120)
        warm_answers = len(slack.final_answers())

        acks: list[float] = []
        retry_acks: list[float] = []
        statuses: list[int] = []
        in_flight: list[int] = []
        lock = threading.Lock()

        def deliver(index: int) -> None:
            ms, status = signed_post(url, mention_event(index))
            with lock:
                acks.append(ms)
                statuses.append(status)
                # Questions received but not answered yet, as this event arrives.
                in_flight.append(index + 1 - (len(slack.final_answers()) - warm_answers))
            if index % 10 == 0:
                ms, status = signed_post(url, mention_event(index), retry=1)
                with lock:
                    retry_acks.append(ms)
                    statuses.append(status)

        load: dict = {}
        pool = ThreadPoolExecutor(max_workers=32)
        started = time.perf_counter()
        with monitored(load):
            futures = []
            for index in range(args.events):
                delay = started + index / args.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(deliver, index))
            for future in futures:
                future.result()
        send_s = time.perf_counter() - started
        expected = warm_answers + args.events
        drain_timeout = args.events * args.stub_delay / max(1, args.workers) * 3 + 60
        wait_for(lambda: len(slack.final_answers()) >= expected, timeout_s=drain_timeout)
        time.sleep(2 * args.stub_delay)  # a duplicate answer to a retry would land by now
        answered = len(slack.final_answers()) - warm_answers
        drain_s = time.perf_counter() - started
        pool.shutdown()
    finally:
        web.terminate()
        try:
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web.kill()
        stub.shutdown()
        slack.server.shutdown()

    ack = percentiles(acks)
    results = {
        "setup": {
            "events": args.events,
            "retries_sent": len(retry_acks),
            "rate_per_s": args.rate,
            "stub_delay_s": args.stub_delay,
            "bot_workers": args.workers,
            "server": "manage.py runserver (as make run)",
        },
        "ack_ms": ack,
        "retry_ack_ms": percentiles(retry_acks),
        "target_p99_ms": TARGET_P99_MS,
        "verdict": verdict(ack["p99"], TARGET_P99_MS),
        "non_200": sum(1 for s in statuses if s != 200),
        "max_unanswered_when_an_event_arrived": max(in_flight),
        "answers": answered,
        "answered_exactly_once": answered == args.events,
        "placeholders_posted": slack.count("chat.postMessage") - warm_answers,
        "send_window_s": round(send_s, 2),
        "all_answered_after_s": round(drain_s, 2),
        "load": load.get("load"),
    }
    print_table(
        [
            ["ack (events)", ack["p50"], ack["p95"], ack["p99"], ack["max"], len(acks)],
            [
                "ack (retries)",
                *(results["retry_ack_ms"][k] for k in ("p50", "p95", "p99", "max")),
                len(retry_acks),
            ],
        ],
        headers=["", "p50 ms", "p95 ms", "p99 ms", "max ms", "n"],
    )
    print(
        f"\np99 {ack['p99']:.1f} ms vs target {TARGET_P99_MS:.0f} ms: {results['verdict']}; "
        f"up to {results['max_unanswered_when_an_event_arrived']} questions were waiting or "
        f"being answered when an event arrived; {answered}/{args.events} answered "
        f"(exactly once: {results['answered_exactly_once']}), all done after "
        f"{results['all_answered_after_s']} s."
    )
    return results


def wait_for(condition, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for the answers")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
