"""With REDIS_URL set, django-q2's broker is Redis: two real worker processes
(`manage.py qcluster`) on one Redis share the queue, and each task runs exactly once.
`manage.py probe worker` sees a running cluster and stops seeing it when it stops."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.adminsite.test_settings import clean_environment, load_settings
from tests.ragengine.evaluation.test_worker_process import start_worker, stop

ROOT = Path(__file__).resolve().parents[2]
# Its own Redis database: the test flushes it.
REDIS_URL = os.environ.get("ARANDU_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
TASKS = 40


def redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return client


def test_redis_url_makes_redis_the_broker(tmp_path):
    show = "'redis' if 'redis' in s.Q_CLUSTER else 'orm'"
    assert load_settings(tmp_path, show=show).stdout.strip() == "orm"
    assert load_settings(tmp_path, show=show, REDIS_URL=REDIS_URL).stdout.strip() == "redis"
    kept = load_settings(tmp_path, show=show, REDIS_URL=REDIS_URL, ARANDU_Q_REDIS="false")
    assert kept.stdout.strip() == "orm"
    bad = load_settings(tmp_path, show=show, REDIS_URL=REDIS_URL, ARANDU_Q_REDIS="maybe")
    assert bad.returncode != 0 and "ARANDU_Q_REDIS must be true or false" in bad.stderr


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def ran(marker: Path) -> list[tuple[int, int]]:
    if not marker.exists():
        return []
    with sqlite3.connect(marker, timeout=30) as conn:
        return conn.execute("SELECT n, pid FROM ran").fetchall()


def wait_for(predicate, *, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tails = "\n".join(log.read_text()[-2000:] for log in logs)
            pytest.fail(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.2)


@pytest.mark.slow
def test_two_workers_on_one_redis_run_each_task_once(tmp_path):
    client = redis_or_skip()
    client.flushdb()
    env = clean_environment(
        ARANDU_DATA_DIR=str(tmp_path / "data"), REDIS_URL=REDIS_URL, ARANDU_Q_WORKERS="2"
    )
    migrated = manage(env, "migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    # no worker yet: the probe says so
    assert manage(env, "probe", "worker").returncode != 0

    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [start_worker(env, log) for log in logs]
    marker = tmp_path / "marker.sqlite3"
    try:
        # both clusters up (each saves its status in Redis every few seconds)
        wait_for(
            lambda: len(client.keys("django_q:arandu:cluster:*")) >= 2,
            timeout=120, what="two clusters", logs=logs,
        )  # fmt: skip
        probe = manage(env, "probe", "worker")
        assert probe.returncode == 0, probe.stderr
        enqueued = manage(
            env, "shell", "-c",
            "from django_q.tasks import async_task\n"
            f"for n in range({TASKS}):\n"
            f"    async_task('tests.adminsite.q_marker.record', n, {str(marker)!r}, 0.1)",
        )  # fmt: skip
        assert enqueued.returncode == 0, enqueued.stderr[-2000:]
        wait_for(lambda: len(ran(marker)) >= TASKS, timeout=180, what="the tasks", logs=logs)
        time.sleep(2)  # a task delivered twice would have run again by now
        count_results = "from django_q.models import Success; print(Success.objects.count())"
        saved = manage(env, "shell", "-c", count_results)
    finally:
        for worker in workers:
            stop(worker)

    rows = ran(marker)
    assert sorted(n for n, _ in rows) == list(range(TASKS))  # each exactly once
    assert saved.stdout.strip().splitlines()[-1] == str(TASKS)  # one result each
    assert client.llen("django_q:arandu:q") == 0  # nothing left queued
    # each cluster logs the tasks it processed: both took a share of the one queue
    shares = [log.read_text().count("Processed") for log in logs]
    assert all(share > 0 for share in shares), shares
    assert sum(shares) == TASKS
    # stopped: the probe stops seeing a cluster once its last status expires
    wait_for(
        lambda: manage(env, "probe", "worker").returncode != 0,
        timeout=30, what="the probe to fail", logs=logs,
    )  # fmt: skip
    client.flushdb()
