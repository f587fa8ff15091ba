"""OllamaChatProvider against a local server replaying real-format Ollama responses."""

from __future__ import annotations

import dataclasses
import logging
import time

import pytest

from ragengine.llm.providers import build_chat_provider
from ragengine.llm.providers.ollama_provider import OllamaChatProvider
from ragengine.llm.resilience import CircuitBreakers, RetryPolicy
from ragengine.llm.types import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    CircuitOpen,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
)
from tests.ragengine.llm.provider_fixtures import (
    assert_not_logged,
    provider_for_test,
    recorded_request,
    unreachable_url,
)
from tests.ragengine.llm.replay_server import (
    FakeClock,
    FakeSleep,
    ReplayServer,
    Reply,
    load_fixture,
)

CHAT = "/api/chat"
KEY_ENV = "ARANDU_TEST_OLLAMA_API_KEY"
FAKE_KEY = "ollama-test-fake-key"


def make_provider(
    server: ReplayServer,
    sleep: FakeSleep,
    *,
    max_retries: int = 2,
    timeout_s: float = 5.0,
    api_key_env: str = "",
    breakers: CircuitBreakers | None = None,
) -> ChatProvider:
    config = ProviderConfig(
        name="local-ollama",
        kind="ollama",
        base_url=server.url,
        api_key_env=api_key_env,
        timeout_s=timeout_s,
        max_retries=max_retries,
    )
    return provider_for_test(config, sleep, breakers)


def test_complete_maps_text_and_token_counts(server, sleep):
    fixture = load_fixture("ollama_chat")
    server.script(CHAT, Reply.from_fixture("ollama_chat"))
    provider = make_provider(server, sleep)
    assert isinstance(provider, OllamaChatProvider)
    assert isinstance(provider, ChatProvider)
    assert (provider.name, provider.kind) == ("local-ollama", "ollama")

    result = provider.complete(recorded_request("ollama_chat"))

    body = fixture["response"]["body"]
    assert result.text == body["message"]["content"]
    assert (result.tokens_in, result.tokens_out) == (body["prompt_eval_count"], body["eval_count"])
    assert result.model == body["model"]
    assert result.provider == "local-ollama"
    assert result.finish_reason == "stop"
    (sent,) = server.requests_to(CHAT)
    expected = fixture["request"]["json"]
    assert sent.json["model"] == expected["model"]
    assert sent.json["messages"] == expected["messages"]
    assert sent.json["stream"] is False
    assert sent.json["options"]["num_predict"] == expected["options"]["num_predict"]
    assert sent.json["options"]["temperature"] == expected["options"]["temperature"]
    assert "authorization" not in sent.headers, "a local Ollama gets no credentials"


def test_stream_deltas_concatenate_and_the_final_chunk_gives_counts(server, sleep):
    fixture = load_fixture("ollama_chat_stream")
    server.script(CHAT, Reply.from_fixture("ollama_chat_stream"))
    provider = make_provider(server, sleep)

    deltas = list(provider.stream(recorded_request("ollama_chat_stream")))

    done = fixture["response"]["ndjson"][-1]
    final = deltas[-1].result
    assert final is not None
    assert all(d.result is None and d.text for d in deltas[:-1])
    assert "".join(d.text for d in deltas) == final.text
    assert final.text.endswith("[1].")
    assert (final.tokens_in, final.tokens_out) == (done["prompt_eval_count"], done["eval_count"])
    assert final.finish_reason == "stop"
    (sent,) = server.requests_to(CHAT)
    assert sent.json["stream"] is True
    assert sent.json["options"]["num_predict"] == 256


def test_missing_prompt_count_is_estimated_not_zero(server, sleep):
    # Ollama leaves prompt_eval_count out when the whole prompt came from its cache.
    reply = Reply.from_fixture("ollama_chat")
    body = {k: v for k, v in reply.body.items() if k != "prompt_eval_count"}
    server.script(CHAT, Reply(body=body))
    provider = make_provider(server, sleep)

    result = provider.complete(recorded_request("ollama_chat"))

    assert result.tokens_in > 0
    assert result.tokens_out == body["eval_count"]


def test_missing_model_is_a_readable_permanent_error(server, sleep):
    server.script(CHAT, Reply.from_fixture("ollama_error_404"))
    provider = make_provider(server, sleep)
    request = ChatRequest(
        model="llama3.2:3b-missing",
        messages=(ChatMessage("user", "hi"),),
        max_tokens=16,
    )

    with pytest.raises(ProviderError) as caught:
        provider.complete(request)

    error = caught.value
    assert error.transient is False
    assert error.status_code == 404
    assert "ollama pull llama3.2:3b-missing" in str(error)
    assert "not found" in str(error)
    assert len(server.requests_to(CHAT)) == 1
    assert sleep.waits == []


def test_missing_model_in_a_stream_is_mapped_too(server, sleep):
    server.script(CHAT, Reply.from_fixture("ollama_error_404"))
    provider = make_provider(server, sleep)
    request = ChatRequest(
        model="llama3.2:3b-missing", messages=(ChatMessage("user", "hi"),), max_tokens=16
    )

    with pytest.raises(ProviderError) as caught:
        list(provider.stream(request))

    assert caught.value.transient is False
    assert "ollama pull" in str(caught.value)


def test_server_error_is_retried_then_succeeds(server, sleep):
    server.script(
        CHAT,
        Reply(status=500, body={"error": "llama runner process has terminated: signal: killed"}),
        Reply.from_fixture("ollama_chat"),
    )
    provider = make_provider(server, sleep)

    result = provider.complete(recorded_request("ollama_chat"))

    assert result.text
    assert len(server.requests_to(CHAT)) == 2
    assert len(sleep.waits) == 1


def test_error_line_mid_stream_is_a_transient_error(server, sleep):
    chunks = load_fixture("ollama_chat_stream")["response"]["ndjson"][:3]
    failure = {"error": "an error was encountered while running the model"}
    server.script(CHAT, Reply(ndjson=[*chunks, failure]))
    provider = make_provider(server, sleep, max_retries=0)

    received: list[str] = []
    with pytest.raises(ProviderError) as caught:
        for delta in provider.stream(recorded_request("ollama_chat_stream")):
            received.append(delta.text)

    assert caught.value.transient is True
    assert "mid-answer" in str(caught.value)
    assert received == [c["message"]["content"] for c in chunks]


def test_timeout_raises_provider_timeout(server, sleep):
    server.script(CHAT, Reply.from_fixture("ollama_chat", delay_s=2.0))
    provider = make_provider(server, sleep, timeout_s=0.3, max_retries=0)

    with pytest.raises(ProviderTimeout):
        provider.complete(recorded_request("ollama_chat"))

    assert len(server.requests_to(CHAT)) == 1


def test_unreachable_ollama_is_transient_and_opens_the_circuit(sleep):
    breakers = CircuitBreakers(failure_threshold=2, reset_after_s=60, clock=FakeClock())
    config = ProviderConfig(
        name="local-ollama", kind="ollama", base_url=unreachable_url(), max_retries=1
    )
    provider = build_chat_provider(config, breakers, retry_policy=RetryPolicy(sleep=sleep))
    request = recorded_request("ollama_chat")

    with pytest.raises(ProviderError) as caught:
        provider.complete(request)
    assert caught.value.transient is True
    assert "cannot reach Ollama" in str(caught.value)

    with pytest.raises(CircuitOpen):
        provider.complete(request)


def test_a_configured_key_is_sent_as_bearer_and_never_logged(server, sleep, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    server.script(CHAT, Reply(status=401, body={"error": f"unauthorized key {FAKE_KEY}"}))
    provider = make_provider(server, sleep, api_key_env=KEY_ENV)

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("ollama_chat"))

    (sent,) = server.requests_to(CHAT)
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert caught.value.transient is False
    assert FAKE_KEY not in str(caught.value)
    assert_not_logged(caplog, FAKE_KEY)


def test_a_trickling_stream_is_cut_at_the_call_deadline(server, sleep):
    server.script(CHAT, Reply.from_fixture("ollama_chat_stream", trickle_s=0.1))  # ~4 s
    provider = make_provider(server, sleep, timeout_s=5.0)
    request = dataclasses.replace(
        recorded_request("ollama_chat_stream"), deadline=time.monotonic() + 0.5
    )

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        list(provider.stream(request))

    assert time.monotonic() - started < 1.5
    assert "deadline" in str(caught.value)


def test_a_trickling_answer_is_cut_at_the_call_deadline(server, sleep):
    server.script(CHAT, Reply.from_fixture("ollama_chat", trickle_s=0.1))
    provider = make_provider(server, sleep, timeout_s=5.0)
    request = dataclasses.replace(recorded_request("ollama_chat"), deadline=time.monotonic() + 0.5)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        provider.complete(request)

    assert time.monotonic() - started < 1.5
    assert caught.value.transient is False
    assert len(server.requests_to(CHAT)) == 1
