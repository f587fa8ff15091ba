from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command

from adminsite.management.commands.serve import planned_processes


def test_serve_runs_web_and_worker_and_adds_bots_only_with_tokens():
    plain = planned_processes(address="127.0.0.1:8000", environ={})
    assert set(plain) == {"web", "worker"}
    assert plain["web"][-2:] == ["127.0.0.1:8000", "--noreload"]

    with_tokens = planned_processes(
        address="127.0.0.1:8000",
        environ={"SLACK_BOT_TOKEN": "x", "SLACK_APP_TOKEN": "y", "DISCORD_BOT_TOKEN": "z"},
    )
    assert set(with_tokens) == {"web", "worker", "slack", "discord"}

    # HTTP mode: the web process serves /slack/events, no Socket Mode process.
    http_only = planned_processes(
        address="127.0.0.1:8000",
        environ={"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "s"},
    )
    assert set(http_only) == {"web", "worker"}


@pytest.mark.django_db
def test_ensure_admin_creates_one_superuser_with_a_saved_random_password(settings, tmp_path):
    settings.ARANDU_DATA_DIR = tmp_path
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    user = get_user_model().objects.get(is_superuser=True)
    username, password = (tmp_path / "admin-password.txt").read_text().split()
    assert user.username == username == "admin"
    assert user.check_password(password)
    assert (tmp_path / "admin-password.txt").stat().st_mode & 0o777 == 0o600
    validate_password(password, user)  # the generated password passes the validators

    call_command("ensure_admin", stdout=StringIO())  # idempotent
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_ensure_admin_uses_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARANDU_ADMIN_PASSWORD", "s3cret-from-env")
    call_command("ensure_admin", stdout=StringIO())
    assert get_user_model().objects.get(username="admin").check_password("s3cret-from-env")


@pytest.fixture
def no_chmod_under_umask_0(monkeypatch):
    """A permissive umask and no chmod: a file is private only if it was created private
    (made readable first and chmod-ed after, another local user can open it in between)."""
    for owner, name in ((os, "chmod"), (os, "fchmod"), (Path, "chmod")):
        monkeypatch.setattr(owner, name, lambda *args, **kwargs: None)
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.django_db
@pytest.mark.usefixtures("no_chmod_under_umask_0")
def test_the_admin_password_file_is_private_from_creation(settings, tmp_path):
    settings.ARANDU_DATA_DIR = tmp_path
    stale = tmp_path / "admin-password.txt"
    stale.write_text("admin\nfrom-an-earlier-install\n")  # readable by all (umask 0)

    call_command("ensure_admin", stdout=StringIO())

    assert stale.stat().st_mode & 0o777 == 0o600
    username, password = stale.read_text().split()
    assert get_user_model().objects.get(username=username).check_password(password)


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["letmein", "password123", "123456789012345"])
def test_a_weak_admin_password_from_the_environment_is_refused(monkeypatch, weak):
    monkeypatch.setenv("ARANDU_ADMIN_PASSWORD", weak)

    with pytest.raises(CommandError) as caught:
        call_command("ensure_admin", stdout=StringIO())

    assert "ARANDU_ADMIN_PASSWORD" in str(caught.value)
    assert weak not in str(caught.value)
    assert not get_user_model().objects.filter(username="admin").exists()


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
