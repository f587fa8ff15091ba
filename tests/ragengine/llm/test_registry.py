"""provider_for: admin-edited endpoints become providers. Whoever may edit an endpoint also
chooses where it sends its key, so the key variable is checked again before every call:
a row saved before the rule existed, or written around the admin, sends nothing."""

from __future__ import annotations

import logging

import pytest

from ragengine.llm.registry import provider_for, reset_providers
from ragengine.llm.types import ProviderError
from ragengine.models import ProviderEndpoint
from tests.ragengine.llm.provider_fixtures import assert_not_logged, recorded_request
from tests.ragengine.llm.replay_server import Reply

pytestmark = pytest.mark.django_db

SECRET_VALUE = "xoxb-the-project-s-own-secret"


@pytest.fixture(autouse=True)
def _fresh_providers():
    reset_providers()
    yield
    reset_providers()


def endpoint(server, *, kind: str = "openai", api_key_env: str) -> ProviderEndpoint:
    """Saved without clean(), as a direct database edit or an old row would be."""
    base_url = f"{server.url}/v1" if kind == "openai" else server.url
    return ProviderEndpoint.objects.create(
        name="someone-s-server", kind=kind, base_url=base_url, api_key_env=api_key_env,
        max_retries=0, timeout_s=5.0,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["openai", "ollama"])
@pytest.mark.parametrize(
    "variable",
    ["SLACK_BOT_TOKEN", "DJANGO_SECRET_KEY", "DISCORD_BOT_TOKEN", "SLACK_SIGNING_SECRET",
     "DATABASE_URL", "WEAVIATE_API_KEY", "HOME"],
)  # fmt: skip
def test_an_endpoint_never_sends_a_variable_outside_the_allow_list(
    server, monkeypatch, caplog, kind, variable
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(variable, SECRET_VALUE)
    server.script("/v1/chat/completions", Reply.from_fixture("openai_chat_completion"))
    server.script("/api/chat", Reply.from_fixture("ollama_chat"))

    with pytest.raises(ProviderError) as caught:
        provider_for(endpoint(server, kind=kind, api_key_env=variable)).complete(
            recorded_request("openai_chat_completion")
        )

    assert server.requests == []
    assert caught.value.transient is False
    assert variable in str(caught.value)
    assert any(r.levelno == logging.WARNING and variable in r.getMessage() for r in caplog.records)
    assert_not_logged(caplog, SECRET_VALUE)


def test_a_widened_allow_list_still_never_sends_the_project_s_secrets(
    server, monkeypatch, settings
):
    settings.ARANDU_API_KEY_ENV_ALLOWED = ["*_API_KEY", "*_TOKEN", "*_SECRET", "*_URL"]
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRET_VALUE)
    monkeypatch.setenv("HF_TOKEN", "hf-allowed-by-the-operator")
    server.script("/v1/chat/completions", Reply.from_fixture("openai_chat_completion"))
    request = recorded_request("openai_chat_completion")

    with pytest.raises(ProviderError, match="never sent"):
        provider_for(endpoint(server, api_key_env="SLACK_BOT_TOKEN")).complete(request)
    assert server.requests == []

    ProviderEndpoint.objects.all().delete()
    provider_for(endpoint(server, api_key_env="HF_TOKEN")).complete(request)
    (sent,) = server.requests
    assert sent.headers["authorization"] == "Bearer hf-allowed-by-the-operator"


def test_the_allow_list_setting_applies_without_a_restart(server, monkeypatch, settings):
    monkeypatch.setenv("VLLM_API_KEY", "vllm-key")
    server.script("/v1/chat/completions", Reply.from_fixture("openai_chat_completion"))
    row = endpoint(server, api_key_env="VLLM_API_KEY")
    request = recorded_request("openai_chat_completion")
    provider_for(row).complete(request)

    settings.ARANDU_API_KEY_ENV_ALLOWED = ["OPENAI_API_KEY"]

    with pytest.raises(ProviderError, match="ARANDU_API_KEY_ENV_ALLOWED"):
        provider_for(row).complete(request)
    assert len(server.requests) == 1


def test_the_seeded_openai_endpoint_keeps_sending_its_key(server, monkeypatch):
    seeded = ProviderEndpoint.objects.get(name="openai")
    assert seeded.api_key_env == "OPENAI_API_KEY"
    seeded.full_clean()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-seeded")
    server.script("/v1/chat/completions", Reply.from_fixture("openai_chat_completion"))
    seeded.base_url = f"{server.url}/v1"  # a local stand-in for api.openai.com

    provider_for(seeded).complete(recorded_request("openai_chat_completion"))

    (sent,) = server.requests
    assert sent.headers["authorization"] == "Bearer sk-test-seeded"
