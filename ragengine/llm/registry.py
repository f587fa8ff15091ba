"""Chat providers built once per process from admin-edited endpoints.

Providers keep connection pools and circuit breakers must outlive one request, so both
are cached here, keyed by the endpoint's full configuration: an admin edit (new URL,
timeout, key variable) or a new key allow-list yields a fresh provider without a restart.
"""

from __future__ import annotations

from functools import lru_cache

from ragengine.key_policy import configured_key_policy
from ragengine.llm.circuit_breaker import CircuitBreakers
from ragengine.llm.circuit_record import circuit_change_record
from ragengine.llm.providers import build_chat_provider
from ragengine.llm.types import ChatProvider, ProviderConfig
from ragengine.models import ProviderEndpoint


@lru_cache(maxsize=1)
def circuit_breakers() -> CircuitBreakers:
    return CircuitBreakers(on_change=circuit_change_record)


@lru_cache(maxsize=64)
def _provider(config: tuple) -> ChatProvider:
    name, kind, base_url, api_key_env, timeout_s, max_retries, key_policy = config
    return build_chat_provider(
        ProviderConfig(
            name=name,
            kind=kind,
            base_url=base_url,
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            max_retries=max_retries,
            key_policy=key_policy,
        ),
        circuit_breakers(),
    )


def provider_for(endpoint: ProviderEndpoint) -> ChatProvider:
    return _provider(
        (
            endpoint.name,
            endpoint.kind,
            endpoint.base_url,
            endpoint.api_key_env,
            float(endpoint.timeout_s),
            int(endpoint.max_retries),
            configured_key_policy(),
        )
    )


def reset_providers() -> None:
    """Forget every provider and breaker (tests, or after a config reload)."""
    _provider.cache_clear()
    circuit_breakers.cache_clear()
