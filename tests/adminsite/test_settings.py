from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ARANDU_", "DATABASE_URL"))
    }
    environment.update({"ARANDU_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import adminsite.settings as s; print(s.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_need_no_configuration_and_keep_state_in_the_data_dir(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
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
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(tmp_path, env, message):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr or "invalid literal" in result.stderr


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
