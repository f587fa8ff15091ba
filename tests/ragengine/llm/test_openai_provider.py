"""OpenAIChatProvider against a local server replaying real-format OpenAI responses."""

from __future__ import annotations

import dataclasses
import time

import pytest

from ragengine.llm.providers import build_chat_provider
from ragengine.llm.providers.openai_provider import OpenAIChatProvider
from ragengine.llm.resilience import CircuitBreakers, RetryPolicy
from ragengine.llm.types import (
    ChatProvider,
    CircuitOpen,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
)
from tests.ragengine.llm.provider_fixtures import OPENAI_FAKE_KEY as FAKE_KEY
from tests.ragengine.llm.provider_fixtures import OPENAI_KEY_ENV as KEY_ENV
from tests.ragengine.llm.provider_fixtures import (
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

CHAT = "/v1/chat/completions"

# Every test runs with a fake key and, at the end, checks no log record leaked it.
pytestmark = pytest.mark.usefixtures("openai_key")


def make_provider(
    server: ReplayServer,
    sleep: FakeSleep,
    *,
    max_retries: int = 2,
    timeout_s: float = 5.0,
    breakers: CircuitBreakers | None = None,
    api_key_env: str = KEY_ENV,
) -> ChatProvider:
    config = ProviderConfig(
        name="openai-test",
        kind="openai",
        base_url=f"{server.url}/v1",
        api_key_env=api_key_env,
        timeout_s=timeout_s,
        max_retries=max_retries,
        extra_headers={"X-Arandu-Tenant": "acme"},
    )
    return provider_for_test(config, sleep, breakers)


def test_complete_maps_text_usage_and_sends_the_request(server, sleep):
    fixture = load_fixture("openai_chat_completion")
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    provider = make_provider(server, sleep)
    assert isinstance(provider, OpenAIChatProvider)
    assert isinstance(provider, ChatProvider)
    assert (provider.name, provider.kind) == ("openai-test", "openai")

    result = provider.complete(recorded_request("openai_chat_completion"))

    body = fixture["response"]["body"]
    assert result.text == body["choices"][0]["message"]["content"]
    assert result.model == body["model"]
    assert result.provider == "openai-test"
    assert result.tokens_in == body["usage"]["prompt_tokens"]
    assert result.tokens_out == body["usage"]["completion_tokens"]
    assert result.finish_reason == "stop"
    (sent,) = server.requests_to(CHAT)
    expected = fixture["request"]["json"]
    assert sent.json["model"] == expected["model"]
    assert sent.json["messages"] == expected["messages"]
    assert [m["role"] for m in sent.json["messages"]] == ["system", "user"]
    assert sent.json["max_tokens"] == expected["max_tokens"]
    assert sent.json["temperature"] == expected["temperature"]
    assert "stream" not in sent.json or sent.json["stream"] is False
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent.headers["x-arandu-tenant"] == "acme"
    assert sleep.waits == []


def test_stream_deltas_concatenate_and_the_last_carries_usage(server, sleep):
    fixture = load_fixture("openai_chat_stream")
    server.script(CHAT, Reply.from_fixture("openai_chat_stream"))
    provider = make_provider(server, sleep)

    deltas = list(provider.stream(recorded_request("openai_chat_stream")))

    usage = fixture["response"]["sse"][-2]["usage"]
    final = deltas[-1].result
    assert final is not None
    assert all(d.result is None for d in deltas[:-1])
    assert all(d.text for d in deltas[:-1]), "empty role/finish chunks are not yielded"
    assert "".join(d.text for d in deltas) == final.text
    assert final.text.startswith("Full-time employees accrue 1.5 vacation days")
    assert (final.tokens_in, final.tokens_out) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert final.finish_reason == "stop"
    assert final.model == "gpt-4o-mini-2024-07-18"
    (sent,) = server.requests_to(CHAT)
    assert sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}
    assert sent.json["max_tokens"] == fixture["request"]["json"]["max_tokens"]


def test_rate_limit_then_success_retries_once_honouring_retry_after(server, sleep):
    server.script(
        CHAT,
        Reply.from_fixture("openai_error_429"),
        Reply.from_fixture("openai_chat_completion"),
    )
    provider = make_provider(server, sleep)

    result = provider.complete(recorded_request("openai_chat_completion"))

    assert result.tokens_out > 0
    assert len(server.requests_to(CHAT)) == 2
    assert len(sleep.waits) == 1
    assert sleep.waits[0] >= 1.0  # the fixture's `retry-after: 1`


def test_persistent_server_error_gives_up_after_max_retries_plus_one(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_error_500"))
    provider = make_provider(server, sleep, max_retries=2)

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    error = caught.value
    assert error.transient is True
    assert error.status_code == 500
    assert error.provider == "openai-test"
    assert "HTTP 500" in str(error) and "The server had an error" in str(error)
    assert len(server.requests_to(CHAT)) == 3
    assert len(sleep.waits) == 2
    assert sleep.waits[0] <= sleep.waits[1] <= 0.05


def test_timeout_raises_provider_timeout(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion", delay_s=2.0))
    provider = make_provider(server, sleep, timeout_s=0.3, max_retries=0)

    with pytest.raises(ProviderTimeout) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    assert caught.value.transient is True
    assert "0.3s" in str(caught.value)
    assert len(server.requests_to(CHAT)) == 1


def test_authentication_error_is_not_transient_and_not_retried(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_error_401"))
    provider = make_provider(server, sleep)

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    error = caught.value
    assert error.transient is False
    assert error.status_code == 401
    assert KEY_ENV in str(error), "the message says which variable to fix"
    assert FAKE_KEY not in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert len(server.requests_to(CHAT)) == 1
    assert sleep.waits == []


def test_a_key_echoed_by_the_server_is_redacted(server, sleep):
    server.script(
        CHAT,
        Reply(
            status=400,
            body={
                "error": {
                    "message": f"Invalid request for key {FAKE_KEY}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        ),
    )
    provider = make_provider(server, sleep)

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    assert FAKE_KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)
    assert caught.value.transient is False


def test_insufficient_quota_is_not_retried(server, sleep):
    quota = load_fixture("openai_error_429")["response"]
    quota["body"]["error"].update(code="insufficient_quota", type="insufficient_quota")
    server.script(CHAT, Reply(status=429, headers=quota["headers"], body=quota["body"]))
    provider = make_provider(server, sleep)

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    assert caught.value.transient is False
    assert "insufficient_quota" in str(caught.value)
    assert len(server.requests_to(CHAT)) == 1


def test_a_retry_after_longer_than_the_cap_is_not_waited_for(server, sleep):
    reply = Reply.from_fixture("openai_error_429")
    server.script(CHAT, Reply(status=429, headers={**reply.headers, "retry-after": "120"}))
    provider = make_provider(server, sleep)

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    assert caught.value.retry_after_s == 120
    assert len(server.requests_to(CHAT)) == 1
    assert sleep.waits == []


def test_circuit_opens_fails_fast_then_half_opens_after_cool_down(server, sleep):
    clock = FakeClock()
    breakers = CircuitBreakers(failure_threshold=3, reset_after_s=30.0, clock=clock)
    server.script(CHAT, Reply.from_fixture("openai_error_500"))
    provider = make_provider(server, sleep, max_retries=0, breakers=breakers)
    request = recorded_request("openai_chat_completion")

    for _ in range(3):
        with pytest.raises(ProviderError) as caught:
            provider.complete(request)
        assert not isinstance(caught.value, CircuitOpen)
    assert breakers.states() == {"openai-test": "open"}

    with pytest.raises(CircuitOpen) as caught:
        provider.complete(request)
    assert caught.value.retry_after_s == pytest.approx(30.0)
    with pytest.raises(CircuitOpen):
        list(provider.stream(request))
    assert len(server.requests_to(CHAT)) == 3, "an open circuit never reaches the server"

    clock.advance(31)
    assert breakers.states() == {"openai-test": "half_open"}
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    assert provider.complete(request).text
    assert breakers.states() == {"openai-test": "closed"}
    assert len(server.requests_to(CHAT)) == 4


def test_stream_errors_before_the_first_token_are_retried(server, sleep):
    server.script(
        CHAT, Reply.from_fixture("openai_error_500"), Reply.from_fixture("openai_chat_stream")
    )
    provider = make_provider(server, sleep)

    deltas = list(provider.stream(recorded_request("openai_chat_stream")))

    assert deltas[-1].result is not None and deltas[-1].result.tokens_out > 0
    assert len(server.requests_to(CHAT)) == 2


def test_missing_key_variable_is_a_clear_error_naming_it(server, sleep, monkeypatch):
    monkeypatch.delenv("ARANDU_TEST_MISSING_API_KEY", raising=False)
    provider = make_provider(server, sleep, api_key_env="ARANDU_TEST_MISSING_API_KEY")

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    assert "ARANDU_TEST_MISSING_API_KEY" in str(caught.value)
    assert caught.value.transient is False
    assert server.requests == []


def test_official_api_without_a_key_variable_fails_before_any_request(sleep):
    config = ProviderConfig(name="openai", kind="openai")
    provider = build_chat_provider(config, CircuitBreakers(), retry_policy=RetryPolicy(sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    assert "api_key_env" in str(caught.value)
    assert caught.value.transient is False


def test_keyless_compatible_server_gets_a_placeholder_key(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    provider = make_provider(server, sleep, api_key_env="")

    provider.complete(recorded_request("openai_chat_completion"))

    (sent,) = server.requests_to(CHAT)
    assert sent.headers["authorization"] == "Bearer not-set"


def test_a_rotated_key_is_picked_up_without_a_restart(server, sleep, monkeypatch):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    provider = make_provider(server, sleep)
    request = recorded_request("openai_chat_completion")

    provider.complete(request)
    monkeypatch.setenv(KEY_ENV, "sk-test-rotated")
    provider.complete(request)

    auth = [r.headers["authorization"] for r in server.requests_to(CHAT)]
    assert auth == [f"Bearer {FAKE_KEY}", "Bearer sk-test-rotated"]


def test_connection_refused_is_transient(sleep):
    config = ProviderConfig(
        name="openai-test",
        kind="openai",
        base_url=f"{unreachable_url()}/v1",
        max_retries=1,
        timeout_s=2.0,
    )
    provider = build_chat_provider(config, CircuitBreakers(), retry_policy=RetryPolicy(sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        provider.complete(recorded_request("openai_chat_completion"))

    assert caught.value.transient is True
    assert "connection" in str(caught.value).lower()
    assert len(sleep.waits) == 1


def test_a_server_without_usage_gets_an_estimate_not_zero(server, sleep, caplog):
    reply = Reply.from_fixture("openai_chat_completion")
    body = {k: v for k, v in reply.body.items() if k != "usage"}
    server.script(CHAT, Reply(headers=reply.headers, body=body))
    provider = make_provider(server, sleep)

    result = provider.complete(recorded_request("openai_chat_completion"))

    assert result.tokens_in >= 90  # the recorded prompt is 97 real tokens
    assert result.tokens_out >= 30  # and the answer 33 (36 in o200k)
    assert any("no token usage" in r.getMessage() for r in caplog.records)


# --- the call's total deadline ------------------------------------------------------------
# Timeouts are per attempt and per read: a server sending a little now and then never trips
# them. `ChatRequest.deadline` (a `time.monotonic()` instant) bounds the whole call.


def with_deadline(name: str, seconds: float):
    return dataclasses.replace(recorded_request(name), deadline=time.monotonic() + seconds)


def test_a_trickling_body_is_cut_at_the_deadline_and_not_retried(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion", trickle_s=0.1))  # ~5 s
    provider = make_provider(server, sleep, timeout_s=5.0)
    request = with_deadline("openai_chat_completion", 0.5)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        provider.complete(request)

    assert time.monotonic() - started < 1.5
    assert caught.value.transient is False and "deadline" in str(caught.value)
    assert len(server.requests_to(CHAT)) == 1
    assert sleep.waits == []


def test_a_trickling_stream_is_cut_at_the_deadline(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_chat_stream", trickle_s=0.1))  # ~4 s
    provider = make_provider(server, sleep, timeout_s=5.0)
    request = with_deadline("openai_chat_stream", 0.5)
    received: list[str] = []

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        for delta in provider.stream(request):
            received.append(delta.text)

    assert time.monotonic() - started < 1.5
    assert received, "text arrived before the deadline"
    assert "deadline" in str(caught.value)


def test_retries_stop_when_the_next_wait_would_pass_the_deadline(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_error_500"))
    config = ProviderConfig(
        name="openai-test",
        kind="openai",
        base_url=f"{server.url}/v1",
        api_key_env=KEY_ENV,
        max_retries=5,
    )
    slow_backoff = RetryPolicy(initial_wait_s=1.0, max_wait_s=1.0, jitter_s=0.0, sleep=sleep)
    provider = build_chat_provider(config, CircuitBreakers(), retry_policy=slow_backoff)

    with pytest.raises(ProviderError):
        provider.complete(with_deadline("openai_chat_completion", 0.5))

    assert len(server.requests_to(CHAT)) == 1
    assert sleep.waits == []


def test_a_call_whose_deadline_has_passed_is_never_sent(server, sleep):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    provider = make_provider(server, sleep)

    with pytest.raises(ProviderError) as caught:
        provider.complete(with_deadline("openai_chat_completion", -1))

    assert "deadline" in str(caught.value)
    assert server.requests_to(CHAT) == []
