"""Chat through the Ollama SDK (a local Ollama, or Ollama's hosted API with a key).

Token counts come from Ollama's own `prompt_eval_count` / `eval_count`; Ollama omits the
prompt count when the whole prompt was cached, so a missing count is estimated (high)
rather than billed as zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import ollama
import pydantic
import tenacity

from ragengine.llm.resilience import (
    CircuitBreaker,
    RetryPolicy,
    is_transient_status,
    resilient_stream,
    retrying,
)
from ragengine.llm.tokens import count_tokens
from ragengine.llm.types import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
    redact,
)

logger = logging.getLogger(__name__)

OLLAMA_DEFAULT_HOST = "http://127.0.0.1:11434"


class OllamaClients:
    """One SDK client per key value (usually no key: a local Ollama needs none)."""

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._client: ollama.Client | None = None
        self._client_key: str | None = None

    @property
    def host(self) -> str:
        return self._config.base_url or OLLAMA_DEFAULT_HOST

    def get(self) -> tuple[ollama.Client, str | None]:
        key = self._config.api_key()
        with self._lock:
            if self._client is None or key != self._client_key:
                headers = dict(self._config.extra_headers)
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                self._client = ollama.Client(
                    host=self.host, timeout=self._config.timeout_s, headers=headers
                )
                self._client_key = key
            return self._client, key


def map_ollama_error(
    exc: BaseException, *, config: ProviderConfig, model: str, api_key: str | None
) -> ProviderError:
    """A readable `ProviderError` for an Ollama SDK or transport error; the key is redacted."""
    if isinstance(exc, ProviderError):
        return exc
    name = config.name
    host = config.base_url or OLLAMA_DEFAULT_HOST
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(
            f"Provider {name!r} ({model}) did not answer within {config.timeout_s:g}s at {host}.",
            provider=name,
        )
    if isinstance(exc, ConnectionError | httpx.TransportError):
        return ProviderError(
            f"Provider {name!r} ({model}): cannot reach Ollama at {host} "
            f"({type(exc).__name__}); is `ollama serve` running?",
            provider=name,
            transient=True,
        )
    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code
        detail = str(exc.error)
        if status == 404:
            message = (
                f"Provider {name!r}: model {model!r} is not available at {host} ({detail}); "
                f"run `ollama pull {model}` there."
            )
            transient = False
        elif status == -1:
            # An error line inside a stream: the runner failed mid-answer (e.g. it ran
            # out of memory), which is worth another try.
            message = f"Provider {name!r} ({model}) failed mid-answer: {detail}"
            transient = True
        else:
            message = f"Provider {name!r} ({model}): HTTP {status}: {detail}"
            transient = is_transient_status(status)
        return ProviderError(
            redact(message, api_key),
            provider=name,
            transient=transient,
            status_code=status if status > 0 else None,
        )
    if isinstance(exc, ValueError | pydantic.ValidationError):
        return ProviderError(
            redact(
                f"Provider {name!r} ({model}): unexpected response from {host}: "
                f"{type(exc).__name__}: {exc}",
                api_key,
            ),
            provider=name,
            transient=False,
        )
    return ProviderError(
        redact(f"Provider {name!r} ({model}) failed: {type(exc).__name__}: {exc}", api_key),
        provider=name,
        transient=False,
    )


def _prompt_tokens(request: ChatRequest) -> int:
    """Prompt size when Ollama reports none (plus a few tokens of chat template each)."""
    return sum(count_tokens(m.content, model=request.model) + 4 for m in request.messages)


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in request.messages]


def _options(request: ChatRequest) -> dict[str, Any]:
    return {"num_predict": request.max_tokens, "temperature": request.temperature}


class OllamaChatProvider:
    """`ChatProvider` over Ollama's `/api/chat`."""

    def __init__(
        self,
        config: ProviderConfig,
        breaker: CircuitBreaker,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if config.kind != "ollama":
            raise ValueError(f"OllamaChatProvider needs kind 'ollama', got {config.kind!r}")
        self._config = config
        self._breaker = breaker
        self._retry_policy = retry_policy
        self._clients = OllamaClients(config)

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def kind(self) -> str:
        return "ollama"

    def _retrying(self) -> tenacity.Retrying:
        return retrying(
            provider=self.name, max_retries=self._config.max_retries, policy=self._retry_policy
        )

    def _call(
        self, fn: Callable[[ollama.Client], Any], request: ChatRequest
    ) -> tuple[Any, str | None]:
        key: str | None = None
        try:
            client, key = self._clients.get()
            return fn(client), key
        except Exception as exc:
            raise map_ollama_error(
                exc, config=self._config, model=request.model, api_key=key
            ) from None

    def complete(self, request: ChatRequest) -> ChatResult:
        started = time.perf_counter()

        def attempt() -> ChatResult:
            def chat(client: ollama.Client) -> ChatResult:
                response = client.chat(
                    model=request.model,
                    messages=_messages(request),
                    options=_options(request),
                    stream=False,
                )
                return self._result(response, request, response.message.content or "")

            result, _ = self._call(chat, request)
            return result

        result = self._retrying()(lambda: self._breaker.call(attempt))
        self._log_done(result, started, streamed=False)
        return result

    def _result(self, final: Any, request: ChatRequest, text: str) -> ChatResult:
        tokens_in = final.prompt_eval_count
        if tokens_in is None:
            tokens_in = _prompt_tokens(request)
        tokens_out = final.eval_count
        if tokens_out is None:
            tokens_out = count_tokens(text, model=request.model)
        return ChatResult(
            text=text,
            model=final.model or request.model,
            provider=self.name,
            tokens_in=int(tokens_in),
            tokens_out=int(tokens_out),
            finish_reason=final.done_reason or "",
        )

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        started = time.perf_counter()

        def open_stream() -> Iterator[ChatDelta]:
            chunks, key = self._call(
                lambda client: client.chat(
                    model=request.model,
                    messages=_messages(request),
                    options=_options(request),
                    stream=True,
                ),
                request,
            )
            return self._deltas(chunks, request, started=started, api_key=key)

        return resilient_stream(open_stream, breaker=self._breaker, retry=self._retrying())

    def _deltas(
        self, chunks: Iterator[Any], request: ChatRequest, *, started: float, api_key: str | None
    ) -> Iterator[ChatDelta]:
        parts: list[str] = []
        final = None
        try:
            for chunk in chunks:
                piece = chunk.message.content if chunk.message else None
                if piece:
                    parts.append(piece)
                    yield ChatDelta(text=piece)
                if chunk.done:
                    final = chunk
        except Exception as exc:
            raise map_ollama_error(
                exc, config=self._config, model=request.model, api_key=api_key
            ) from None
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        text = "".join(parts)
        if final is None:
            raise ProviderError(
                f"Provider {self.name!r} ({request.model}): the stream ended without its "
                "final `done` message.",
                provider=self.name,
                transient=True,
            )
        result = self._result(final, request, text)
        self._log_done(result, started, streamed=True)
        yield ChatDelta(text="", result=result)

    def _log_done(self, result: ChatResult, started: float, *, streamed: bool) -> None:
        logger.info(
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
