"""Chat through the Ollama SDK (a local Ollama, or Ollama's hosted API with a key).

Token counts come from Ollama's own `prompt_eval_count` / `eval_count`; Ollama omits the
prompt count when the whole prompt was cached, so a missing count is estimated (high)
rather than billed as zero.
"""

from __future__ import annotations

from typing import Any

import httpx
import ollama
import pydantic

from ragengine.llm.deadline import deadline_hooks
from ragengine.llm.providers.base import (
    SdkChatProvider,
    SdkClients,
    StreamReader,
    chat_messages,
    estimate_prompt_tokens,
)
from ragengine.llm.resilience import is_transient_status
from ragengine.llm.tokens import count_tokens
from ragengine.llm.types import (
    ChatRequest,
    ChatResult,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
    redact,
)

OLLAMA_DEFAULT_HOST = "http://127.0.0.1:11434"


def _host(config: ProviderConfig) -> str:
    return config.base_url or OLLAMA_DEFAULT_HOST


class OllamaClients(SdkClients[ollama.Client, str | None]):
    """Ollama SDK clients; usually keyless (a local Ollama needs none)."""

    @property
    def host(self) -> str:
        return _host(self._config)

    def _resolve_key(self) -> str | None:
        return self._config.api_key()

    def _build(self, key: str | None) -> ollama.Client:
        headers = dict(self._config.extra_headers)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return ollama.Client(
            host=self.host,
            timeout=self._config.timeout_s,
            headers=headers,
            event_hooks=deadline_hooks(httpx),
        )

    def map_error(self, exc: BaseException, *, model: str, api_key: str | None) -> ProviderError:
        return map_ollama_error(exc, config=self._config, model=model, api_key=api_key)


def map_ollama_error(
    exc: BaseException, *, config: ProviderConfig, model: str, api_key: str | None
) -> ProviderError:
    """A readable `ProviderError` for an Ollama SDK or transport error; the key is redacted."""
    if isinstance(exc, ProviderError):
        return exc
    name = config.name
    host = _host(config)
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


class OllamaChatProvider(SdkChatProvider[ollama.Client]):
    """`ChatProvider` over Ollama's `/api/chat`."""

    kind = "ollama"
    clients_type = OllamaClients

    def _send(self, client: ollama.Client, request: ChatRequest, *, stream: bool) -> Any:
        return client.chat(
            model=request.model,
            messages=chat_messages(request),
            options={"num_predict": request.max_tokens, "temperature": request.temperature},
            stream=stream,
        )

    def _parse(self, response: Any, request: ChatRequest) -> ChatResult:
        return self._result(response, request, response.message.content or "")

    def _read_stream(self, chunks: Any, request: ChatRequest) -> StreamReader:
        final = None
        for chunk in chunks:
            piece = chunk.message.content if chunk.message else None
            if piece:
                yield piece
            if chunk.done:
                final = chunk
        return lambda text: self._result(final, request, text)

    def _result(self, final: Any, request: ChatRequest, text: str) -> ChatResult:
        """The result from the response (or a stream's last, `done`, chunk)."""
        if final is None:
            raise ProviderError(
                f"Provider {self.name!r} ({request.model}): the stream ended without its "
                "final `done` message.",
                provider=self.name,
                transient=True,
            )
        tokens_in = final.prompt_eval_count
        if tokens_in is None:
            tokens_in = estimate_prompt_tokens(request)
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
