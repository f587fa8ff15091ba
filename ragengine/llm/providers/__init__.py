"""Chat providers behind the `ChatProvider` protocol, built from a `ProviderConfig`."""

from __future__ import annotations

from ragengine.llm.resilience import CircuitBreakers, RetryPolicy
from ragengine.llm.types import ChatProvider, ProviderConfig


def build_chat_provider(
    config: ProviderConfig,
    breakers: CircuitBreakers,
    *,
    retry_policy: RetryPolicy | None = None,
) -> ChatProvider:
    """The provider for `config`, sharing the circuit breaker registered under its name.

    Cheap to call (no connection is made until the first request), but providers keep a
    connection pool, so build each once per process and reuse it.
    """
    breaker = breakers.get(config.name)
    if config.kind == "openai":
        from ragengine.llm.providers.openai_provider import OpenAIChatProvider

        return OpenAIChatProvider(config, breaker, retry_policy=retry_policy)
    if config.kind == "ollama":
        from ragengine.llm.providers.ollama_provider import OllamaChatProvider

        return OllamaChatProvider(config, breaker, retry_policy=retry_policy)
    raise ValueError(f"Unknown provider kind {config.kind!r} for provider {config.name!r}")


__all__ = ["build_chat_provider"]
