"""`.env.example` lists every setting the app reads, so none can be missing from a
deployment's .env (docker-compose's env_file), and its active lines start the app."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.adminsite.test_settings import clean_environment

ROOT = Path(__file__).resolve().parents[2]
# env("X"), env.int("X", ...), _env_bool("X"), _env_bool_default_true("X"): the name is the
# first argument, possibly on the next line.
_SETTINGS_READ = re.compile(r"\b(?:env(?:\.\w+)?|_env_bool\w*)\(\s*\"([A-Z][A-Z0-9_]*)\"")
# os.environ.get("X") / os.environ["X"] / env.get("X") elsewhere in the code
_ENVIRON_READ = re.compile(r"environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]*)\"")
_EXAMPLE_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.M)
# Read from the environment by the code but not settings of Arandu's: interpreter and
# library switches, and names given in tests.
# Set by the app itself (settings derive PROMETHEUS_MULTIPROC_DIR from ARANDU_METRICS_DIR).
_NOT_SETTINGS = {
    "DJANGO_SETTINGS_MODULE",
    "TIKTOKEN_CACHE_DIR",
    "DATA_GYM_CACHE_DIR",
    "PROMETHEUS_MULTIPROC_DIR",
}


def settings_read() -> set[str]:
    return set(_SETTINGS_READ.findall((ROOT / "adminsite" / "settings.py").read_text()))


def environment_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for folder in ("adminsite", "ragengine", "botcore"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(_ENVIRON_READ.findall(path.read_text(encoding="utf-8")))
    return names - _NOT_SETTINGS


def example_names() -> set[str]:
    return set(_EXAMPLE_LINE.findall((ROOT / ".env.example").read_text()))


def example_active_values() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_the_parser_sees_the_settings_it_must():
    found = settings_read()
    # one-line, multi-line and boolean-helper reads
    assert {"DATABASE_URL", "ARANDU_EMBEDDER_API_KEY_ENV", "DJANGO_SECURE_SSL_REDIRECT"} <= found
    assert {"ARANDU_CACHE_SEMANTIC_THRESHOLD", "ARANDU_Q_REDIS"} <= found
    assert len(found) >= 70


def test_every_setting_read_by_settings_py_is_in_env_example():
    missing = sorted(settings_read() - example_names())
    assert not missing, f"add these to .env.example (with their default): {missing}"


def test_every_variable_the_code_reads_is_in_env_example():
    missing = sorted(environment_read_by_the_code() - example_names())
    assert not missing, f"add these to .env.example (with their default): {missing}"


def test_every_name_in_env_example_is_listed_once():
    lines = _EXAMPLE_LINE.findall((ROOT / ".env.example").read_text())
    duplicates = sorted({name for name in lines if lines.count(name) > 1})
    assert not duplicates


def test_env_example_holds_no_secret_values():
    active = example_active_values()
    assert set(active) == {"DJANGO_SECRET_KEY", "POSTGRES_PASSWORD"}
    assert all(value == "" for value in active.values())


def test_the_documented_defaults_start_the_app(tmp_path):
    """Uncommenting every "# NAME=default" line as written (but placeholders) must give
    settings that load: the documented defaults are real values."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match and match.group(2).strip() and "<" not in match.group(2):
            values[match.group(1)] = match.group(2).strip()
    for name in ("DATABASE_URL", "REDIS_URL", "ARANDU_DATA_DIR", "WEAVIATE_URL"):
        values.pop(name)  # wiring to the compose services, not defaults
    assert len(values) >= 50
    environment = clean_environment(**values, ARANDU_DATA_DIR=str(tmp_path / "data"))
    environment.update(DJANGO_SECRET_KEY="env-example-test-only")
    done = subprocess.run(
        [sys.executable, "-c", "import adminsite.settings as s; print(s.ARANDU_TOP_K)"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "5"
