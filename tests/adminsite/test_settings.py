from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clean_environment(**env: str) -> dict[str, str]:
    """This process's environment without Arandu's, Django's and the database's settings
    (so a developer's own values never leak in), plus `env`."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARANDU_", "DATABASE_URL", "DJANGO_"))
    }
    return environment | env


def load_settings(
    tmp_path: Path, *, show: str = "s.DATABASES['default']['ENGINE']", preamble: str = "", **env
) -> subprocess.CompletedProcess:
    environment = clean_environment(ARANDU_DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-c", f"{preamble}import adminsite.settings as s; print({show})"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_need_no_configuration_and_keep_state_in_the_data_dir(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "adminsite.private_sqlite"  # Django's, files 0600
    assert (tmp_path / "data" / "secret_key").exists()


def test_database_url_switches_to_postgresql(tmp_path):
    result = load_settings(tmp_path, DATABASE_URL="postgres://u@127.0.0.1:5432/db")
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ARANDU_CHUNK_OVERLAP": "300"}, "ARANDU_CHUNK_OVERLAP"),
        ({"ARANDU_CHUNK_TOKENS": "lots"}, "ARANDU_CHUNK_TOKENS"),
        ({"ARANDU_FUSION": "magic"}, "ARANDU_FUSION"),
        ({"ARANDU_HYBRID_ALPHA": "1.5"}, "ARANDU_HYBRID_ALPHA"),
        ({"ARANDU_QUESTION_MIN_CHARS": "0"}, "ARANDU_QUESTION_MIN_CHARS"),
        ({"DISCORD_GATEWAY_URL": "https://gateway.example/"}, "DISCORD_GATEWAY_URL"),
        ({"ARANDU_MODEL_DEADLINE_S": "0"}, "ARANDU_MODEL_DEADLINE_S"),
        ({"ARANDU_MODEL_DEADLINE_S": "soon"}, "ARANDU_MODEL_DEADLINE_S"),
        ({"ARANDU_BUDGET_WAIT_S": "-1"}, "ARANDU_BUDGET_WAIT_S"),
        ({"ARANDU_PARSE_TIMEOUT_S": "0"}, "ARANDU_PARSE_TIMEOUT_S"),
        ({"ARANDU_MAX_DOC_CHARS": "0"}, "ARANDU_MAX_DOC_CHARS"),
        ({"ARANDU_MAX_DOC_PARAGRAPHS": "-1"}, "ARANDU_MAX_DOC_PARAGRAPHS"),
        ({"ARANDU_LOG_FORMAT": "xml"}, "ARANDU_LOG_FORMAT"),
        ({"ARANDU_METRICS_ALLOW": "10.0.0.0/8,not-a-network"}, "ARANDU_METRICS_ALLOW"),
        ({"ARANDU_METRICS_TOKEN": "short"}, "ARANDU_METRICS_TOKEN"),
        ({"ARANDU_WORKER_STALE_S": "30"}, "ARANDU_WORKER_STALE_S"),
        ({"ARANDU_SENTRY_SEND_QUESTIONS": "maybe"}, "ARANDU_SENTRY_SEND_QUESTIONS"),
        ({"ARANDU_CACHE_SEMANTIC_THRESHOLD": "0"}, "ARANDU_CACHE_SEMANTIC_THRESHOLD"),
        ({"ARANDU_CACHE_SEMANTIC_THRESHOLD": "1.5"}, "ARANDU_CACHE_SEMANTIC_THRESHOLD"),
        ({"ARANDU_CACHE_SEMANTIC_THRESHOLD": "close"}, "ARANDU_CACHE_SEMANTIC_THRESHOLD"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(tmp_path, env, message):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr or "invalid literal" in result.stderr


@pytest.mark.parametrize(
    "env, shown",
    [
        ({}, "None"),
        ({"ARANDU_CACHE_SEMANTIC_THRESHOLD": " "}, "None"),
        ({"ARANDU_CACHE_SEMANTIC_THRESHOLD": "0.9"}, "0.9"),
    ],
)
def test_the_paraphrase_threshold_is_unset_unless_the_operator_sets_one(tmp_path, env, shown):
    """Unset, the cache uses each embedder's measured threshold."""
    result = load_settings(tmp_path, show="s.ARANDU_CACHE_SEMANTIC_THRESHOLD", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shown


def test_remote_embedder_needs_model_and_dimension(tmp_path):
    result = load_settings(tmp_path, ARANDU_EMBEDDER="openai")
    assert result.returncode != 0
    assert "ARANDU_EMBEDDER_MODEL" in result.stderr
    ok = load_settings(
        tmp_path,
        ARANDU_EMBEDDER="openai",
        ARANDU_EMBEDDER_MODEL="text-embedding-3-small",
        ARANDU_EMBEDDER_DIMENSION="512",
    )
    assert ok.returncode == 0, ok.stderr


# --- API key variables ----------------------------------------------------------------------

REMOTE_EMBEDDER = {
    "ARANDU_EMBEDDER": "openai",
    "ARANDU_EMBEDDER_MODEL": "text-embedding-3-small",
    "ARANDU_EMBEDDER_DIMENSION": "512",
}


@pytest.mark.parametrize("variable", ["SLACK_BOT_TOKEN", "DJANGO_SECRET_KEY", "HOME"])
def test_an_embedder_key_variable_outside_the_allow_list_stops_start_up(tmp_path, variable):
    result = load_settings(tmp_path, **REMOTE_EMBEDDER, ARANDU_EMBEDDER_API_KEY_ENV=variable)
    assert result.returncode != 0
    assert "ARANDU_EMBEDDER_API_KEY_ENV" in result.stderr and variable in result.stderr


def test_the_embedder_key_variable_defaults_to_openai_s_for_openai_only(tmp_path):
    show = "s.ARANDU_EMBEDDER_API_KEY_ENV or '(none)'"
    openai = load_settings(tmp_path, show=show, **REMOTE_EMBEDDER)
    ollama = load_settings(tmp_path, show=show, **REMOTE_EMBEDDER | {"ARANDU_EMBEDDER": "ollama"})
    assert openai.stdout.strip() == "OPENAI_API_KEY", openai.stderr
    assert ollama.stdout.strip() == "(none)", ollama.stderr


@pytest.mark.parametrize("patterns", ["*", "*,*_API_KEY", "OPENAI API KEY"])
def test_an_allow_list_that_allows_everything_or_is_malformed_stops_start_up(tmp_path, patterns):
    result = load_settings(tmp_path, ARANDU_API_KEY_ENV_ALLOWED=patterns)
    assert result.returncode != 0
    assert "ARANDU_API_KEY_ENV_ALLOWED" in result.stderr


def test_the_allow_list_is_read_from_the_environment(tmp_path):
    show = "s.ARANDU_API_KEY_ENV_ALLOWED"
    assert load_settings(tmp_path, show=show).stdout.strip() == "['*_API_KEY']"
    custom = load_settings(tmp_path, show=show, ARANDU_API_KEY_ENV_ALLOWED="*_API_KEY,HF_TOKEN")
    assert custom.stdout.strip() == "['*_API_KEY', 'HF_TOKEN']", custom.stderr


# --- private files --------------------------------------------------------------------------

# A permissive umask, and no chmod: a file is private only if it was created private. (Made
# readable first and chmod-ed after, another local user can open it in between.)
NO_CHMOD_UNDER_UMASK_0 = (
    "import os, pathlib; os.umask(0); "
    "os.chmod = os.fchmod = pathlib.Path.chmod = lambda *a, **k: None; "
)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_data_dir_and_the_secret_key_are_private_from_creation(tmp_path):
    result = load_settings(tmp_path, preamble=NO_CHMOD_UNDER_UMASK_0)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "secret_key") == 0o600


def test_the_sqlite_database_is_private_from_creation(tmp_path):
    script = (
        NO_CHMOD_UNDER_UMASK_0 + "import django; django.setup(); "
        "from django.db import connection; "
        "connection.cursor().execute('CREATE TABLE probe (x integer)')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_environment(
            ARANDU_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="adminsite.settings"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("arandu.sqlite3*"))
    assert tmp_path / "arandu.sqlite3" in files
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_concurrent_first_starts_agree_on_one_secret_key(tmp_path):
    """Web, worker and bots start together on a fresh machine: they must all sign with the
    same key (a second writer must never replace the first one's key)."""
    show = "s.SECRET_KEY"
    environment = clean_environment(ARANDU_DATA_DIR=str(tmp_path / "data"))
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", f"import adminsite.settings as s; print({show})"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    keys = {start.communicate(timeout=60)[0].strip() for start in starts}
    assert len(keys) == 1 and "" not in keys
    assert (tmp_path / "data" / "secret_key").read_text().strip() in keys


# --- HTTPS and deployment -------------------------------------------------------------------

HTTPS_SETTINGS = (
    "(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
    "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.SECURE_PROXY_SSL_HEADER)"
)


def test_https_settings_are_off_by_default_so_make_run_serves_plain_http(tmp_path):
    result = load_settings(tmp_path, show=HTTPS_SETTINGS)
    assert result.stdout.strip() == "(False, 0, False, False, False, False, None)", result.stderr


def test_https_settings_come_from_the_environment(tmp_path):
    result = load_settings(
        tmp_path,
        show=HTTPS_SETTINGS,
        DJANGO_SECURE_SSL_REDIRECT="true",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        DJANGO_SECURE_HSTS_PRELOAD="true",
        DJANGO_SESSION_COOKIE_SECURE="true",
        DJANGO_CSRF_COOKIE_SECURE="true",
        DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert result.stdout.strip() == (
        "(True, 31536000, True, True, True, True, ('HTTP_X_FORWARDED_PROTO', 'https'))"
    ), result.stderr


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"DJANGO_SECURE_HSTS_SECONDS": "-1"}, "DJANGO_SECURE_HSTS_SECONDS"),
        ({"DJANGO_SECURE_HSTS_SECONDS": "a year"}, "DJANGO_SECURE_HSTS_SECONDS"),
        ({"DJANGO_SECURE_SSL_REDIRECT": "maybe"}, "DJANGO_SECURE_SSL_REDIRECT"),
        ({"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "DJANGO_SECURE_PROXY_SSL_HEADER"),
        ({"DJANGO_SECURE_PROXY_SSL_HEADER": "X_FORWARDED_PROTO,https"}, "HTTP_"),
    ],
)
def test_bad_https_settings_stop_start_up_naming_the_variable(tmp_path, env, variable):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert variable in result.stderr


def test_check_deploy_is_clean_under_the_compose_production_env(tmp_path):
    """The web service's environment from docker-compose.yml (its defaults, plus the two
    values an operator must give) passes `check --deploy` without a warning."""
    result = subprocess.run(
        [
            sys.executable, ".ci/compose_env.py", "web", "--",
            sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
        ],
        cwd=ROOT,
        env=clean_environment(
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            POSTGRES_PASSWORD="compose-check-only",
            TMPDIR=str(tmp_path),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_health_check_stays_on_plain_http_when_https_is_enforced(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    redirect = client.get("/admin/login/")
    assert redirect.status_code == 301
    assert redirect["Location"].startswith("https://")


def test_passwords_are_validated():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("admin", "password123", "12345678901234", "short-1"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct horse battery staple")


def settings_values(tmp_path: Path, expression: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ARANDU_", "DATABASE_URL"))
    }
    environment.update({"ARANDU_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, adminsite.settings as s; print(json.dumps({expression}))",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_static_files_are_served_by_whitenoise_with_hashed_names(tmp_path):
    import json

    result = settings_values(
        tmp_path, "[s.MIDDLEWARE[:2], s.STORAGES['staticfiles']['BACKEND'], str(s.STATIC_ROOT)]"
    )
    assert result.returncode == 0, result.stderr
    middleware, backend, static_root = json.loads(result.stdout)
    assert middleware == [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]
    assert backend == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert static_root == str(tmp_path / "data" / "static")


def test_static_root_can_live_outside_the_data_dir(tmp_path):
    result = settings_values(
        tmp_path, "str(s.STATIC_ROOT)", ARANDU_STATIC_ROOT=str(tmp_path / "built-static")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'"{tmp_path / "built-static"}"'


def test_web_server_defaults_suit_a_small_machine(tmp_path):
    import json

    result = settings_values(
        tmp_path, "[s.ARANDU_ADDRESS, s.ARANDU_WEB_WORKERS, s.ARANDU_WEB_THREADS]"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["127.0.0.1:8000", 2, 4]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ARANDU_ADDRESS": "8000"}, "ARANDU_ADDRESS"),
        ({"ARANDU_ADDRESS": "localhost:99999"}, "ARANDU_ADDRESS"),
        ({"ARANDU_WEB_WORKERS": "0"}, "ARANDU_WEB_WORKERS"),
        ({"ARANDU_WEB_WORKERS": "many"}, "ARANDU_WEB_WORKERS"),
        ({"ARANDU_WEB_THREADS": "0"}, "ARANDU_WEB_THREADS"),
    ],
)
def test_bad_web_server_values_fail_loudly(tmp_path, env, message):
    result = settings_values(tmp_path, "0", **env)
    assert result.returncode != 0
    assert message in result.stderr or "invalid literal" in result.stderr
