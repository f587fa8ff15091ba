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
        ({"ARANDU_PARSE_TIMEOUT_S": "0"}, "ARANDU_PARSE_TIMEOUT_S"),
        ({"ARANDU_MAX_DOC_CHARS": "0"}, "ARANDU_MAX_DOC_CHARS"),
        ({"ARANDU_MAX_DOC_PARAGRAPHS": "-1"}, "ARANDU_MAX_DOC_PARAGRAPHS"),
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
