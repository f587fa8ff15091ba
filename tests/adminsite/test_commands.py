from __future__ import annotations

import os
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command

from adminsite.management.commands.serve import planned_processes
from adminsite.web import web_address

WEB = {"web_workers": 2, "web_threads": 4}


def test_serve_runs_web_and_worker_and_adds_bots_only_with_tokens():
    plain = planned_processes(address="127.0.0.1:8000", environ={}, **WEB)
    assert set(plain) == {"web", "worker"}

    with_tokens = planned_processes(
        address="127.0.0.1:8000",
        environ={"SLACK_BOT_TOKEN": "x", "SLACK_APP_TOKEN": "y", "DISCORD_BOT_TOKEN": "z"},
        **WEB,
    )
    assert set(with_tokens) == {"web", "worker", "slack", "discord"}

    # HTTP mode: the web process serves /slack/events, no Socket Mode process.
    http_only = planned_processes(
        address="127.0.0.1:8000",
        environ={"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "s"},
        **WEB,
    )
    assert set(http_only) == {"web", "worker"}


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_serve_runs_the_web_under_gunicorn_on_the_address():
    web = planned_processes(address="0.0.0.0:9000", environ={}, web_workers=3, web_threads=8)["web"]
    assert web[:3] == [sys.executable, "-m", "gunicorn"]
    assert "adminsite.wsgi:application" in web
    assert option(web, "--bind") == "0.0.0.0:9000"
    assert option(web, "--workers") == "3"
    assert option(web, "--threads") == "8"
    assert "runserver" not in web
    assert "--no-control-socket" in web  # its default path is shared by every gunicorn


@pytest.mark.parametrize(
    "address", ["127.0.0.1:8000", "0.0.0.0:80", "localhost:8000", "[::1]:8000", "unix:/tmp/a.sock"]
)
def test_web_addresses_gunicorn_can_bind(address):
    assert web_address(address) == address


@pytest.mark.parametrize(
    "address", ["", "8000", "127.0.0.1", "host:0", "host:70000", "a b:80", "http://x:80"]
)
def test_a_bad_address_is_refused_with_a_readable_error(address):
    with pytest.raises(ValueError, match="host:port"):
        web_address(address)


def test_serve_refuses_a_bad_address_before_starting_anything():
    with pytest.raises(CommandError, match="--address"):
        call_command("serve", "--address", "nonsense", stdout=StringIO())


def test_serve_help_documents_the_address(capsys):
    with pytest.raises(SystemExit):
        call_command("serve", "--help")
    text = capsys.readouterr().out
    assert "--address" in text and "ARANDU_ADDRESS" in text


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


MANIFEST_STORAGE = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture
def exec_calls(monkeypatch):
    from adminsite.management.commands import runweb

    calls = []
    monkeypatch.setattr(runweb.os, "execv", lambda path, argv: calls.append((path, argv)))
    return calls


def test_runweb_replaces_itself_with_gunicorn_so_signals_reach_it(settings, exec_calls):
    settings.ARANDU_WEB_WORKERS, settings.ARANDU_WEB_THREADS = 5, 2

    call_command("runweb", "--address", "0.0.0.0:8000", stdout=StringIO())

    [(path, argv)] = exec_calls
    assert path == sys.executable
    assert argv[1:3] == ["-m", "gunicorn"]
    assert option(argv, "--bind") == "0.0.0.0:8000"
    assert (option(argv, "--workers"), option(argv, "--threads")) == ("5", "2")


def test_runweb_refuses_to_serve_an_unstyled_admin_before_collectstatic(
    settings, tmp_path, exec_calls
):
    settings.STORAGES = MANIFEST_STORAGE
    settings.STATIC_ROOT = tmp_path / "static"

    with pytest.raises(CommandError, match="collectstatic"):
        call_command("runweb", stdout=StringIO())
    assert exec_calls == []

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')
    call_command("runweb", stdout=StringIO())
    assert len(exec_calls) == 1


def test_serve_without_collectstatic_refuses_when_nothing_was_collected(settings, tmp_path):
    settings.STORAGES = MANIFEST_STORAGE
    settings.STATIC_ROOT = tmp_path / "static"
    with pytest.raises(CommandError, match="collectstatic"):
        call_command("serve", "--no-collectstatic", stdout=StringIO())
