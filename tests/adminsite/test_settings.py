from __future__ import annotations

import os
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
