"""Evaluation runs in a real django-q2 worker process (`manage.py qcluster`, the ORM
broker, a SQLite file): a run queued from the admin's service is answered by the worker,
several questions at a time; a worker killed mid-run leaves the run failed by the sweep,
with its partial results, never "running" for ever."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser.web_server import server_env
from tests.ragengine.llm.replay_server import ReplayServer, Reply

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "evaluation" / "handbook.jsonl"
pytestmark = pytest.mark.slow


def django(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def run_row(db: Path, run_id: int) -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM ragengine_evalrun WHERE id = ?", [run_id]).fetchone()
        results = conn.execute(
            "SELECT COUNT(*) FROM ragengine_evalresult WHERE run_id = ?", [run_id]
        ).fetchone()[0]
    return dict(row) | {"results": results}


def wait_for(predicate, *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what}\n{log.read_text()[-4000:]}"
        )
        time.sleep(0.2)


@pytest.fixture
def setup(tmp_path):
    """A fresh data dir with the handbook's Markdown files, eight cases of the example set
    and a model endpoint answering after 0.5 s from a local replay server."""
    server = ReplayServer()
    server.start()
    server.script("/v1/chat/completions", Reply.from_fixture("openai_chat_completion", delay_s=0.5))
    env = server_env()
    env.update(
        ARANDU_DATA_DIR=str(tmp_path / "data"),
        ARANDU_TEST_OPENAI_API_KEY="sk-test-fake-key",
        ARANDU_Q_WORKERS="1",
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("employee-handbook.md", "politica-de-reembolso.md"):
        (docs / name).write_bytes((ROOT / "examples" / "handbook" / name).read_bytes())
    cases = [
        line
        for line in EXAMPLE.read_text().splitlines()
        if '"employee-handbook.md"' in line or '"politica-de-reembolso.md"' in line
    ][:8]
    (tmp_path / "cases.jsonl").write_text("\n".join(cases) + "\n")
    django(
        env,
        "; ".join(
            [
                "from django.core.management import call_command as run",
                "run('migrate', interactive=False, verbosity=0)",
                f"run('ingest', {str(docs)!r}, knowledge_set='handbook')",
                f"run('import_evalset', {str(tmp_path / 'cases.jsonl')!r}, set_name='hb', "
                "knowledge_set=['handbook'])",
                "from ragengine.models import ProviderEndpoint",
                f"ProviderEndpoint.objects.create(name='stub', kind='openai', "
                f"base_url='{server.url}/v1', api_key_env='ARANDU_TEST_OPENAI_API_KEY', "
                "max_retries=0, timeout_s=10)",
            ]
        ),
    )
    yield env, tmp_path / "data" / "arandu.sqlite3", tmp_path
    server.stop()


def start_run(env: dict[str, str], specs: list[str], concurrency: int) -> int:
    out = django(
        env,
        "from ragengine.models import EvalSet; "
        "from ragengine.evaluation.runs import run_start; "
        f"run = run_start(eval_set=EvalSet.objects.get(name='hb'), specs={specs!r}, "
        f"concurrency={concurrency}); print(run.pk, run.status)",
    )
    run_id, status = out.split()[-2:]
    assert status == "queued"  # a real broker: the worker takes it
    return int(run_id)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop the worker (and its children: its own process group)."""
    if worker.poll() is None:
        if sig == signal.SIGTERM:
            worker.send_signal(sig)  # the cluster stops its own workers
        else:
            os.killpg(worker.pid, sig)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a slow graceful stop on a busy machine
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)


def test_a_real_worker_answers_a_queued_run(setup):
    env, db, tmp = setup
    run_id = start_run(env, ["extractive", "model:stub:gpt-4o-mini"], concurrency=4)
    log = tmp / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_for(
            lambda: run_row(db, run_id)["status"] not in ("queued", "running"),
            timeout=240, what="the run to finish", log=log,
        )  # fmt: skip
    finally:
        stop(worker)
    row = run_row(db, run_id)
    assert row["status"] == "done", row["error"]
    assert row["results"] == row["cases_done"] == row["cases_total"] == 16
    summary = json.loads(row["summary"])
    assert set(summary["targets"]) == {"extractive", "model:stub:gpt-4o-mini"}
    assert summary["targets"]["model:stub:gpt-4o-mini"]["failed"] == 0


def test_a_worker_killed_mid_run_leaves_a_failed_run_with_its_partial_results(setup):
    env, db, tmp = setup
    run_id = start_run(env, ["model:stub:gpt-4o-mini"], concurrency=1)
    log = tmp / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_for(lambda: run_row(db, run_id)["results"] >= 2, timeout=240, what="answers", log=log)
    finally:
        stop(worker, signal.SIGKILL)  # the whole worker, without a chance to clean up
    dead = run_row(db, run_id)
    assert dead["status"] == "running" and 2 <= dead["results"] < 8

    # The sweep (a django-q2 schedule every 5 minutes) finds the heartbeat stale.
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE ragengine_evalrun SET heartbeat_at = '2020-01-01 00:00:00' WHERE id = ?",
            [run_id],
        )
    django(env, "from ragengine.tasks import evaluation_sweep_task; evaluation_sweep_task()")
    row = run_row(db, run_id)
    assert row["status"] == "failed" and "stopped" in row["error"]
    summary = json.loads(row["summary"])
    assert summary["targets"]["model:stub:gpt-4o-mini"]["cases"] == dead["results"]
