"""Which environment variables may be sent to a model server as its API key."""

from __future__ import annotations

import pytest

from ragengine.key_policy import DEFAULT_ALLOWED, KeyEnvPolicy

# The project's own secrets (README configuration table, docker-compose.yml).
PROJECT_SECRETS = [
    "DJANGO_SECRET_KEY",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DISCORD_BOT_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
    "SENTRY_DSN",
    "POSTGRES_PASSWORD",
    "ARANDU_ADMIN_PASSWORD",
    "WEAVIATE_API_KEY",
]


def test_the_default_allows_api_key_variables_only():
    policy = KeyEnvPolicy()
    assert policy.allowed == DEFAULT_ALLOWED == ("*_API_KEY",)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "VLLM_API_KEY"):
        assert policy.refusal(name) is None, name
    for name in ("HOME", "PATH", "GITHUB_TOKEN", "openai_api_key"):
        assert "ARANDU_API_KEY_ENV_ALLOWED" in policy.refusal(name), name
    assert "never sent" in policy.refusal("AWS_SECRET_ACCESS_KEY")


@pytest.mark.parametrize("name", PROJECT_SECRETS)
def test_project_secrets_are_refused_whatever_the_allow_list_says(name):
    wide_open = KeyEnvPolicy(allowed=("*_KEY", "*_TOKEN", "*_SECRET", "*_URL", "*_DSN", "*_*"))
    reason = wide_open.refusal(name)
    assert reason is not None and "never sent" in reason
    assert KeyEnvPolicy().refusal(name) is not None


def test_the_vector_store_key_variable_is_reserved_whatever_it_is_called():
    policy = KeyEnvPolicy(reserved_names=("VECTOR_DB_API_KEY",))
    assert "never sent" in policy.refusal("VECTOR_DB_API_KEY")
    assert policy.refusal("OPENAI_API_KEY") is None


@pytest.mark.parametrize("name", ["sk-abc123", "OPENAI API KEY", "1_API_KEY", "$OPENAI_API_KEY"])
def test_what_is_not_a_variable_name_is_refused_without_being_echoed(name):
    reason = KeyEnvPolicy(allowed=("*",)).refusal(name)
    assert reason is not None and "NAME of an environment variable" in reason
    assert name not in reason


def test_an_empty_allow_list_allows_no_key_at_all():
    reason = KeyEnvPolicy(allowed=()).refusal("OPENAI_API_KEY")
    assert reason is not None and "no key variable" in reason
