"""The serving processes load the local embedder as they start; other commands don't."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adminsite import gunicorn_hooks
from ragengine.services import warm_up
from tests.browser.web_server import server_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def warmed(monkeypatch):
    """The roles whose warm-up was started (the real one is tested in
    tests/ragengine/services/test_warm_up.py)."""
    roles: list[str] = []
    monkeypatch.setattr(
        warm_up, "embedder_warm_up_in_background", lambda *, role: roles.append(role)
    )
    return roles


def test_gunicorn_reads_the_hook_and_it_warms_the_web_worker(warmed):
    from gunicorn.app.wsgiapp import WSGIApplication
    from gunicorn.config import Config

    app = WSGIApplication.__new__(WSGIApplication)
    app.cfg = Config()
    app.load_config_from_module_name_or_filename("python:adminsite.gunicorn_hooks")

    assert app.cfg.post_worker_init is gunicorn_hooks.post_worker_init
    app.cfg.post_worker_init(object())
    assert warmed == ["web"]


@pytest.mark.django_db
def test_a_background_worker_starting_warms_up_after_its_heartbeat(warmed):
    from django_q.signals import post_spawn

    from ragengine.models import WorkerHeartbeat

    post_spawn.send(sender="django_q", proc_name="Process-1:1")

    assert warmed == ["worker"]
    assert WorkerHeartbeat.objects.exists()


def test_other_commands_load_no_embedder(tmp_path):
    """`manage.py migrate` (and check, and the tests) never pay for a model load."""
    code = (
        "import django; django.setup(); "
        "from django.core.management import call_command; "
        "call_command('migrate', verbosity=0); "
        "from ragengine.retrieval import registry; "
        "print(registry._embedder.cache_info().currsize)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=server_env(ARANDU_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="adminsite.settings"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
