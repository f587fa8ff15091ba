"""Value types, errors and the protocol every chat provider implements.

Kept free of Django (like `ragengine.retrieval.types`) so providers can be tested and
benchmarked without a database, and so the router can treat OpenAI, any OpenAI-compatible
server and Ollama alike: one request shape in, one result shape out, one error family.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol, get_args, runtime_checkable

from ragengine.key_policy import KeyEnvPolicy

logger = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]
ProviderKind = Literal["openai", "ollama"]
PROVIDER_KINDS: tuple[str, ...] = get_args(ProviderKind)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion call. `max_tokens` caps the output (and the budget reservation).

    `deadline` is a `time.monotonic()` instant by which the whole call (every attempt,
    wait and read) must be over; None means only the endpoint's timeouts apply."""

    model: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float = 0.1
    deadline: float | None = None

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("ChatRequest.model must not be empty")
        if not self.messages:
            raise ValueError("ChatRequest.messages must not be empty")
        if self.max_tokens <= 0:
            raise ValueError(f"ChatRequest.max_tokens must be positive, got {self.max_tokens}")
        if not isinstance(self.messages, tuple):
            object.__setattr__(self, "messages", tuple(self.messages))


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A finished answer. `provider` is the endpoint name, `model` what the server reports."""

    text: str
    model: str
    provider: str
    tokens_in: int
    tokens_out: int
    finish_reason: str = ""


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """A streamed piece of text. The last delta of a stream carries the full `result`."""

    text: str
    result: ChatResult | None = None


class ProviderError(Exception):
    """A provider call failed.

    `transient` says whether trying again later (or retrying now) can help: connection
    errors, timeouts, 429 and 5xx are transient; bad requests, auth and missing models are
    not. The message is meant for logs and admins and never contains an API key.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        transient: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.transient = transient
        self.status_code = status_code
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments defeat Exception's default pickling; task queues and
        # process pools pickle exceptions, so rebuild from the instance's attributes.
        return (_rebuild_error, (type(self), self.message, dict(self.__dict__)))


def _rebuild_error(cls: type[ProviderError], message: str, state: dict) -> ProviderError:
    error = Exception.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ProviderTimeout(ProviderError):
    """The provider did not answer within the configured timeout."""

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message, provider=provider, transient=True)


class DeadlineExceeded(ProviderError):
    """The call's total deadline passed. Not transient: retrying can only pass it further,
    so the caller moves on (and a question's fallbacks share the same deadline)."""

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message, provider=provider, transient=False)


class CircuitOpen(ProviderError):
    """The provider failed repeatedly; calls fail fast until `retry_after_s` has passed.

    Transient (the provider may recover) but never retried in place: the router should move
    on to the next provider in the chain.
    """

    def __init__(self, message: str, *, provider: str, retry_after_s: float) -> None:
        super().__init__(message, provider=provider, transient=True, retry_after_s=retry_after_s)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """How to reach one endpoint. Secrets are referenced by environment variable name only.

    `base_url` empty means the kind's default (api.openai.com, or Ollama on localhost).
    `max_retries` counts retries after the first attempt, for transient errors only.
    `key_policy` decides which variables may be sent as the key (the strict default unless
    the caller passes the configured one).
    """

    name: str
    kind: ProviderKind
    base_url: str = ""
    api_key_env: str = ""
    timeout_s: float = 30.0
    max_retries: int = 2
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    key_policy: KeyEnvPolicy = KeyEnvPolicy()

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("ProviderConfig.name must not be empty")
        if self.kind not in PROVIDER_KINDS:
            raise ValueError(
                f"ProviderConfig.kind must be one of {PROVIDER_KINDS}, got {self.kind!r}"
            )
        if self.timeout_s <= 0:
            raise ValueError(f"ProviderConfig.timeout_s must be positive, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ValueError(f"ProviderConfig.max_retries must be >= 0, got {self.max_retries}")
        # A read-only copy: the config is shared by threads and must not change under them.
        object.__setattr__(self, "extra_headers", MappingProxyType(dict(self.extra_headers)))

    def api_key(self) -> str | None:
        """The key from `api_key_env`, read now (so rotation needs no restart).

        None when no variable is configured. A variable the key policy refuses is never
        read; that, or a configured but missing or empty variable, is a configuration error
        naming the variable, never a value.
        """
        if not self.api_key_env:
            return None
        refusal = self.key_policy.refusal(self.api_key_env)
        if refusal is not None:
            logger.warning(
                "API key variable refused: %s",
                refusal,
                extra={"provider": self.name, "kind": self.kind},
            )
            raise ProviderError(
                f"Provider {self.name!r}: {refusal}", provider=self.name, transient=False
            )
        value = os.environ.get(self.api_key_env, "").strip()
        if not value:
            raise ProviderError(
                f"Provider {self.name!r}: environment variable {self.api_key_env} "
                "is not set (it should hold the API key).",
                provider=self.name,
                transient=False,
            )
        return value


@runtime_checkable
class ChatProvider(Protocol):
    """A chat model endpoint. Implementations are thread-safe and hold no per-call state."""

    @property
    def name(self) -> str:
        """Endpoint name from the config, e.g. "openai" or "local-ollama"."""
        ...

    @property
    def kind(self) -> str:
        """ "openai" or "ollama"."""
        ...

    def complete(self, request: ChatRequest) -> ChatResult: ...

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        """Deltas in order; the last one carries the full `ChatResult` with usage."""
        ...


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every occurrence of each (non-trivial) secret replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
