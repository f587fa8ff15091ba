"""docker-compose.yml: every app service reads the env file, waits for what it needs and
has a health check; the file is valid for every profile (when docker-compose is here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "slackbot", "discordbot")
PROFILES = ([], ["bots"], ["weaviate"], ["ollama"], ["bots", "weaviate", "ollama"])


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_app_services_read_the_env_file_and_keep_no_secret_values(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["env_file"] == "${ARANDU_ENV_FILE:-.env}", name
        for key, value in service["environment"].items():
            if any(word in key for word in ("SECRET", "PASSWORD", "TOKEN")) or key.endswith(
                "_API_KEY"
            ):
                assert str(value).startswith("${"), f"{name}.{key} must come from .env"


def test_long_running_services_have_health_checks(compose):
    services = compose["services"]
    assert services["web"]["healthcheck"]["test"][-1].endswith("/readyz")
    assert services["worker"]["healthcheck"]["test"][-2:] == ["probe", "worker"]
    for bot in ("slackbot", "discordbot"):
        assert services[bot]["healthcheck"]["test"][-2:] == ["probe", "database"]
        assert services[bot]["profiles"] == ["bots"]
    for name in ("postgres", "redis", "weaviate", "ollama"):
        assert services[name]["healthcheck"]["test"]


def test_app_services_wait_for_healthy_dependencies_and_migrations(compose):
    for name in ("web", "worker", "slackbot", "discordbot"):
        needs = compose["services"][name]["depends_on"]
        assert needs["postgres"]["condition"] == "service_healthy", name
        assert needs["redis"]["condition"] == "service_healthy", name
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
    pull = compose["services"]["ollama-pull"]
    assert pull["depends_on"]["ollama"]["condition"] == "service_healthy"


def test_the_ollama_profile_pulls_the_configured_model_into_a_volume(compose):
    ollama, pull = compose["services"]["ollama"], compose["services"]["ollama-pull"]
    assert ollama["profiles"] == pull["profiles"] == ["ollama"]
    assert "ollama-models:/root/.ollama" in ollama["volumes"]
    assert "ollama-models" in compose["volumes"]
    assert pull["restart"] == "no"
    assert "OLLAMA_MODEL" in pull["environment"]
    assert 'ollama pull "$$model"' in pull["command"][0]


def test_redis_is_the_broker_and_the_cache_of_the_stack(compose):
    environment = compose["services"]["worker"]["environment"]
    assert environment["REDIS_URL"].startswith("${REDIS_URL:-redis://redis:6379/")
    assert "ARANDU_Q_REDIS" not in environment  # REDIS_URL alone makes it the broker


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: "+".join(p) or "default")
def test_docker_compose_config_is_valid(profiles):
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    environment = os.environ | {
        "DJANGO_SECRET_KEY": "compose-test-only",
        "POSTGRES_PASSWORD": "compose-test-only",
        "ARANDU_ENV_FILE": ".env.example",
    }
    done = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", *flags, "config", "-q"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
def test_docker_compose_refuses_to_start_without_the_secrets():
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD")
    } | {"ARANDU_ENV_FILE": ".env.example"}
    done = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "set DJANGO_SECRET_KEY" in done.stderr or "set POSTGRES_PASSWORD" in done.stderr
