"""Multiprocess mode: separate processes (two on one host folder, one on another host's)
record into one metrics directory and a single scrape adds them up; a dead process's
live gauges leave the sum (gunicorn's child_exit, or noticed at scrape time)."""

from __future__ import annotations

import os
import shutil
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


def record_in_process(root: Path, *, answers: int, circuit: str) -> tuple[int, Path]:
    """Record in a new process whose ARANDU_METRICS_DIR is `root`; its pid and folder."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ARANDU_METRICS_DIR": str(root),
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
    assert Path(used).parent == root
    return int(pid), Path(used)


@pytest.mark.django_db
def test_one_scrape_adds_up_every_process_of_every_host(client, settings, tmp_path, monkeypatch):
    root = tmp_path / "metrics"
    settings.ARANDU_METRICS_DIR = root

    first, folder = record_in_process(root, answers=3, circuit="open")
    second, same = record_in_process(root, answers=4, circuit="closed")
    assert same == folder and first != second  # two processes, one folder
    assert {p.name for p in folder.glob("counter_*.db")} == {
        f"counter_{first}.db",
        f"counter_{second}.db",
    }
    # another host sharing the volume: its own folder beside this host's
    other_host = root / "other-host"
    other_host.mkdir()
    for path in folder.glob(f"*_{second}.db"):
        shutil.copy(path, other_host / path.name)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "scraper"))

    text = client.get("/metrics").content.decode()

    questions = dict(door="mp-door", mode="extractive", tier="mp-tier")
    assert scraped_value(text, "arandu_questions_total", **questions) == 3 + 4 + 4
    assert scraped_value(text, "arandu_stage_seconds_count", stage="total") == 11
    assert scraped_value(text, "arandu_stage_seconds_sum", stage="total") == pytest.approx(0.132)
    # not the scraper's own host: those processes' live gauges are kept (the worst wins)
    assert scraped_value(text, "arandu_provider_circuit_state", provider="mp-provider") == 2


@pytest.mark.django_db
def test_dead_processes_leave_live_gauges_but_keep_their_counts(
    client, settings, tmp_path, monkeypatch
):
    root = tmp_path / "metrics"
    settings.ARANDU_METRICS_DIR = root
    opened, folder = record_in_process(root, answers=2, circuit="open")  # exited by now
    assert (folder / f"gauge_livemax_{opened}.db").exists()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))  # the scraper's own host

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
