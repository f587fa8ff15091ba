"""The metrics folder: per host under ARANDU_METRICS_DIR, emptied by the launchers before
the processes that write it start, and gunicorn told about its hooks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from django.conf import settings

from adminsite.web import gunicorn_argv, metrics_dir_reset, metrics_process_dir


def test_every_process_writes_under_the_metrics_dir_in_its_hosts_folder():
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert folder.parent == Path(settings.ARANDU_METRICS_DIR)
    assert folder == metrics_process_dir(Path(settings.ARANDU_METRICS_DIR))
    assert folder.name.startswith(socket.gethostname()[:8].replace("/", "_"))


def test_a_host_name_never_escapes_the_metrics_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "../../etc")
    folder = metrics_process_dir(tmp_path, create=True)
    assert folder.parent == tmp_path and folder.is_dir()


def test_reset_empties_only_this_hosts_metric_files(tmp_path, monkeypatch):
    mine, other = tmp_path / "me", tmp_path / "other-host"
    mine.mkdir()
    other.mkdir()
    for folder in (mine, other):
        (folder / "counter_12.db").write_bytes(b"x")
    (mine / "notes.txt").write_text("kept")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(mine))

    assert metrics_dir_reset() == mine

    assert not (mine / "counter_12.db").exists()
    assert (mine / "notes.txt").exists()
    assert (other / "counter_12.db").exists()


def test_gunicorn_loads_the_hooks_module():
    argv = gunicorn_argv(address="127.0.0.1:8000", workers=2, threads=1)
    assert argv[argv.index("--config") + 1] == "python:adminsite.gunicorn_hooks"
