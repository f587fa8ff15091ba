"""What every SDK-backed provider shares, so each SDK module keeps only what differs: how a
client is built, how a request is shaped, how a response is read and how errors map.

`SdkClients` is also used by the remote embedders: one client (and connection pool) per
key value, and one place where SDK failures become `ProviderError`s.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from typing import Any, ClassVar, Generic, TypeVar

import tenacity

from ragengine.llm.resilience import (
    CircuitBreaker,
    RetryPolicy,
    close_stream,
    resilient_call,
    resilient_stream,
    retrying,
)
from ragengine.llm.tokens import count_tokens
from ragengine.llm.types import ChatDelta, ChatRequest, ChatResult, ProviderConfig, ProviderError

ClientT = TypeVar("ClientT")
KeyT = TypeVar("KeyT")
R = TypeVar("R")

# Reads a stream's chunks, yields its text pieces and returns how to build the final
# result from the whole text (usage and finish reason arrive with the last chunks).
StreamReader = Generator[str, None, Callable[[str], ChatResult]]


class SdkClients(ABC, Generic[ClientT, KeyT]):
    """One SDK client per key value, rebuilt when the key rotates.

    The key is read from the environment at every call, but the client (and its
    connection pool) is reused while the key is unchanged.
    """

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._client: ClientT | None = None
        self._client_key: KeyT | None = None

    @abstractmethod
    def _resolve_key(self) -> KeyT:
        """The key to send now (may raise a configuration `ProviderError`)."""

    @abstractmethod
    def _build(self, key: KeyT) -> ClientT: ...

    @abstractmethod
    def map_error(self, exc: BaseException, *, model: str, api_key: str | None) -> ProviderError:
        """A readable `ProviderError` for an SDK or transport error; the key is redacted."""

    def get(self) -> tuple[ClientT, KeyT]:
        key = self._resolve_key()
        with self._lock:
            if self._client is None or key != self._client_key:
                self._client = self._build(key)
                self._client_key = key
            return self._client, key

    def call(self, fn: Callable[[ClientT], R], *, model: str) -> tuple[R, KeyT]:
        """Run one SDK call, turning every failure into a `ProviderError`; returns the
        result and the key used (so errors raised later, mid-stream, can be redacted)."""
        key: KeyT | None = None
        try:
            client, key = self.get()
            return fn(client), key
        except Exception as exc:
            raise self.map_error(exc, model=model, api_key=key) from None


def chat_messages(request: ChatRequest) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in request.messages]


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Prompt size when the server reports none (plus a few tokens of chat framing each)."""
    return sum(count_tokens(m.content, model=request.model) + 4 for m in request.messages)


class SdkChatProvider(ABC, Generic[ClientT]):
    """`ChatProvider` skeleton: retries outside, the circuit breaker around each attempt,
    SDK errors mapped, completion logged. Subclasses set `kind` and `clients_type` and
    implement `_send`, `_parse` and `_read_stream`."""

    kind: ClassVar[str]
    clients_type: ClassVar[type[SdkClients[Any, Any]]]

    def __init__(
        self,
        config: ProviderConfig,
        breaker: CircuitBreaker,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if config.kind != self.kind:
            raise ValueError(f"{type(self).__name__} needs kind {self.kind!r}, got {config.kind!r}")
        self._config = config
        self._breaker = breaker
        self._retry_policy = retry_policy
        self._clients: SdkClients[ClientT, Any] = self.clients_type(config)
        # Logged under the SDK module's name, so log config can tell the providers apart.
        self._logger = logging.getLogger(type(self).__module__)

    @property
    def name(self) -> str:
        return self._config.name

    @abstractmethod
    def _send(self, client: ClientT, request: ChatRequest, *, stream: bool) -> Any:
        """Make the SDK call: the response, or an iterator of chunks when `stream`."""

    @abstractmethod
    def _parse(self, response: Any, request: ChatRequest) -> ChatResult:
        """The result of a non-streamed call (may raise `ProviderError` on a bad body)."""

    @abstractmethod
    def _read_stream(self, chunks: Any, request: ChatRequest) -> StreamReader: ...

    def _retrying(self, request: ChatRequest) -> tenacity.Retrying:
        return retrying(
            provider=self.name,
            max_retries=self._config.max_retries,
            policy=self._retry_policy,
            deadline=request.deadline,
        )

    def complete(self, request: ChatRequest) -> ChatResult:
        started = time.perf_counter()

        def attempt() -> ChatResult:
            # Parsing runs inside `call` too, so a malformed body becomes a ProviderError.
            result, _ = self._clients.call(
                lambda client: self._parse(self._send(client, request, stream=False), request),
                model=request.model,
            )
            return result

        result = resilient_call(
            attempt,
            breaker=self._breaker,
            retry=self._retrying(request),
            deadline=request.deadline,
            provider=self.name,
        )
        self._log_done(result, started, streamed=False)
        return result

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        started = time.perf_counter()

        def open_stream() -> Iterator[ChatDelta]:
            chunks, key = self._clients.call(
                lambda client: self._send(client, request, stream=True), model=request.model
            )
            return self._deltas(chunks, request, started=started, api_key=key)

        return resilient_stream(
            open_stream,
            breaker=self._breaker,
            retry=self._retrying(request),
            deadline=request.deadline,
            provider=self.name,
        )

    def _deltas(
        self, chunks: Any, request: ChatRequest, *, started: float, api_key: str | None
    ) -> Iterator[ChatDelta]:
        parts: list[str] = []
        try:
            finish = yield from _collected_deltas(self._read_stream(chunks, request), parts)
        except Exception as exc:
            raise self._clients.map_error(exc, model=request.model, api_key=api_key) from None
        finally:
            # Closed before the final delta, so the connection is freed even if the
            # caller keeps the iterator around after the result.
            close_stream(chunks)
        result = finish("".join(parts))
        self._log_done(result, started, streamed=True)
        yield ChatDelta(text="", result=result)

    def _log_done(self, result: ChatResult, started: float, *, streamed: bool) -> None:
        self._logger.info(
            "chat completed",
            extra={
                "provider": self.name,
                "model": result.model,
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "finish_reason": result.finish_reason,
                "streamed": streamed,
                "duration_ms": round((time.perf_counter() - started) * 1000),
            },
        )


def _collected_deltas(
    pieces: Generator[str, None, R], parts: list[str]
) -> Generator[ChatDelta, None, R]:
    """Each piece as a `ChatDelta`, also kept in `parts`; returns what `pieces` returns
    (a `for` loop would drop it)."""
    while True:
        try:
            piece = next(pieces)
        except StopIteration as stop:
            return stop.value
        parts.append(piece)
        yield ChatDelta(text=piece)
