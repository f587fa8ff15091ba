"""The suite never writes into the checkout: no `var/`, no secret key, no database file.

pytest-django imports the settings before any conftest.py runs, so the data directory the
suite uses has to be decided before that (tests/settings.py), not in a conftest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import adminsite.settings as loaded_settings

ROOT = Path(__file__).resolve().parent.parent
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", "*.pyc"
)


def test_this_session_keeps_its_state_outside_the_checkout():
    """What the settings computed when the session started (before any fixture)."""
    assert not loaded_settings.ARANDU_DATA_DIR.is_relative_to(ROOT)
    assert not loaded_settings.STATIC_ROOT.is_relative_to(ROOT)


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.mark.slow
def test_a_test_run_creates_nothing_in_the_checkout(tmp_path):
    """Runs pytest, as a developer does, in a copy of the checkout, with none of this
    session's environment, and compares the files before and after."""
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, ignore=NOT_COPIED)
    (checkout / "tests" / "test_probe.py").write_text(
        "def test_probe(settings, client):\n"
        "    assert settings.SECRET_KEY\n"
        "    assert client.get('/healthz').status_code == 200\n"
    )
    before = files_under(checkout)
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARANDU_", "DJANGO_", "DATABASE_URL", "PYTEST_"))
    } | {"PYTHONDONTWRITEBYTECODE": "1"}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_probe.py"],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert files_under(checkout) - before == set()
