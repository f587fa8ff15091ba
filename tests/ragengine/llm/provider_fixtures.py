"""Fixtures and helpers shared by the provider, resilience and remote-embedder tests.

The llm tests get the fixtures through this directory's conftest; the embedder tests live
elsewhere and bind them by name (a conftest only reaches its own directory).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ragengine.llm.providers import build_chat_provider
from ragengine.llm.resilience import CircuitBreakers, RetryPolicy
from ragengine.llm.types import ChatMessage, ChatProvider, ChatRequest, ProviderConfig
from tests.ragengine.llm.replay_server import FakeSleep, ReplayServer, load_fixture

OPENAI_KEY_ENV = "ARANDU_TEST_OPENAI_API_KEY"
OPENAI_FAKE_KEY = "sk-test-fake"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as srv:
        yield srv


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Sets a fake OpenAI key and, at the end of the test, checks no log record leaked it."""
    monkeypatch.setenv(OPENAI_KEY_ENV, OPENAI_FAKE_KEY)
    caplog.set_level(logging.DEBUG)
    yield
    assert_not_logged(caplog, OPENAI_FAKE_KEY)


def assert_not_logged(caplog: pytest.LogCaptureFixture, secret: str) -> None:
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in repr(record.__dict__)


def fast_retries(sleep: FakeSleep, **overrides: float) -> RetryPolicy:
    """Millisecond backoff, recorded by `sleep` instead of slept."""
    settings = {"initial_wait_s": 0.01, "max_wait_s": 0.05, "jitter_s": 0.01} | overrides
    return RetryPolicy(**settings, sleep=sleep)


def provider_for_test(
    config: ProviderConfig, sleep: FakeSleep, breakers: CircuitBreakers | None = None
) -> ChatProvider:
    return build_chat_provider(
        config, breakers or CircuitBreakers(), retry_policy=fast_retries(sleep)
    )


def recorded_request(name: str) -> ChatRequest:
    """The ChatRequest a fixture was recorded with (OpenAI or Ollama wire format)."""
    sent = load_fixture(name)["request"]["json"]
    if "options" in sent:  # Ollama nests the sampling settings
        max_tokens, temperature = sent["options"]["num_predict"], sent["options"]["temperature"]
    else:
        max_tokens, temperature = sent["max_tokens"], sent["temperature"]
    return ChatRequest(
        model=sent["model"],
        messages=tuple(ChatMessage(m["role"], m["content"]) for m in sent["messages"]),
        max_tokens=max_tokens,
        temperature=temperature,
    )


def unreachable_url() -> str:
    """The URL of a server that has just stopped: connecting to it is refused."""
    with ReplayServer() as gone:
        return gone.url
