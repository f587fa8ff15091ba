"""Multiprocess mode: separate processes (two on one host folder, one on another host's)
record into one metrics directory and a single scrape adds them up; a dead process's
live gauges leave the sum (gunicorn's child_exit, or noticed at scrape time)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adminsite import gunicorn_hooks
from tests.metrics_values import scraped_value

ROOT = Path(__file__).resolve().parents[2]

RECORD = textwrap.dedent(
    """
    import os, sys, django
    django.setup()
    from ragengine import metrics
    from ragengine.ask_types import Answer, AnswerMode
    for _ in range(int(sys.argv[1])):
        metrics.record_answer(
            Answer(text="x", mode=AnswerMode.EXTRACTIVE, timings_ms={"total": 12.0}),
            door="mp-door", tier="mp-tier",
        )
    metrics.record_circuit_state(provider="mp-provider", state=sys.argv[2])
    print(os.getpid(), os.environ["PROMETHEUS_MULTIPROC_DIR"])
    """
)


def record_in_process(folder: Path, *, answers: int, circuit: str) -> int:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    result = subprocess.run(
        [sys.executable, "-c", RECORD, str(answers), circuit],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pid, used = result.stdout.split()
    assert used == str(folder)
    return int(pid)


@pytest.mark.django_db
def test_one_scrape_adds_up_every_process_of_every_host(client, settings, tmp_path, monkeypatch):
    root = tmp_path / "metrics"
    host_a, host_b = root / "host-a", root / "host-b"
    host_a.mkdir(parents=True)
    host_b.mkdir(parents=True)
    settings.ARANDU_METRICS_DIR = root
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(host_b))  # the scraper's own host

    first = record_in_process(host_a, answers=3, circuit="open")
    second = record_in_process(host_a, answers=4, circuit="closed")
    record_in_process(host_b, answers=5, circuit="closed")
    assert first != second
    assert {p.name for p in host_a.glob("counter_*.db")} == {
        f"counter_{first}.db",
        f"counter_{second}.db",
    }

    text = client.get("/metrics").content.decode()

    questions = dict(door="mp-door", mode="extractive", tier="mp-tier")
    assert scraped_value(text, "arandu_questions_total", **questions) == 12
    assert scraped_value(text, "arandu_stage_seconds_count", stage="total") == 12
    assert scraped_value(text, "arandu_stage_seconds_sum", stage="total") == pytest.approx(0.144)
    # host-a is another host's folder: its processes' live gauges are kept (max wins)
    assert scraped_value(text, "arandu_provider_circuit_state", provider="mp-provider") == 2


@pytest.mark.django_db
def test_dead_processes_leave_live_gauges_but_keep_their_counts(
    client, settings, tmp_path, monkeypatch
):
    root = tmp_path / "metrics"
    folder = root / "this-host"
    folder.mkdir(parents=True)
    settings.ARANDU_METRICS_DIR = root
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))

    opened = record_in_process(folder, answers=2, circuit="open")  # has exited by now
    assert (folder / f"gauge_livemax_{opened}.db").exists()

    text = client.get("/metrics").content.decode()

    assert scraped_value(text, "arandu_provider_circuit_state", provider="mp-provider") is None
    assert not (folder / f"gauge_livemax_{opened}.db").exists()
    assert scraped_value(text, "arandu_questions_total", door="mp-door") == 2


def test_gunicorn_child_exit_drops_the_workers_live_gauges(tmp_path, monkeypatch):
    folder = tmp_path / "host"
    folder.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    (folder / "gauge_livemax_4242.db").write_bytes(b"")
    (folder / "counter_4242.db").write_bytes(b"")

    gunicorn_hooks.child_exit(None, type("Worker", (), {"pid": 4242})())

    assert not (folder / "gauge_livemax_4242.db").exists()
    assert (folder / "counter_4242.db").exists()
