"""Chat through the OpenAI SDK: api.openai.com or any OpenAI-compatible server (vLLM,
llama.cpp server, Anthropic/Gemini compatibility endpoints) via `base_url`.

The SDK's own retries are switched off (`max_retries=0`): retries happen in
`ragengine.llm.resilience`, where they are logged, bounded and pass the circuit breaker.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import openai
import tenacity

from ragengine.llm.resilience import (
    CircuitBreaker,
    RetryPolicy,
    is_transient_status,
    parse_retry_after,
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

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local OpenAI-compatible servers ignore the key but the SDK insists on one.
PLACEHOLDER_API_KEY = "not-set"


def _http_error_types(name: str) -> tuple[type[BaseException], ...]:
    """`name` from httpx and httpx2: errors raised while reading a stream are not wrapped by
    the SDK, and which HTTP library it uses depends on its version."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            found.append(getattr(importlib.import_module(module_name), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_HTTP_TIMEOUT_ERRORS = _http_error_types("TimeoutException")
_HTTP_TRANSPORT_ERRORS = _http_error_types("TransportError")


def is_official_openai(config: ProviderConfig) -> bool:
    host = urlsplit(config.base_url or OPENAI_DEFAULT_BASE_URL).hostname or ""
    return host == "api.openai.com"


def resolve_openai_key(config: ProviderConfig) -> str:
    """The key to send: from `api_key_env`; a placeholder for keyless local servers; an
    error for api.openai.com without a key (a call would only come back as a 401)."""
    key = config.api_key()
    if key is not None:
        return key
    if is_official_openai(config):
        raise ProviderError(
            f"Provider {config.name!r} points at api.openai.com but has no api_key_env; "
            "set it to the name of the environment variable holding the key "
            "(e.g. OPENAI_API_KEY).",
            provider=config.name,
            transient=False,
        )
    return PLACEHOLDER_API_KEY


class OpenAIClients:
    """One SDK client per key value, rebuilt when the key rotates.

    The key is read from the environment at every call, but the client (and its
    connection pool) is reused while the key is unchanged.
    """

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._client: openai.OpenAI | None = None
        self._client_key = ""

    def get(self) -> tuple[openai.OpenAI, str]:
        key = resolve_openai_key(self._config)
        with self._lock:
            if self._client is None or key != self._client_key:
                self._client = openai.OpenAI(
                    api_key=key,
                    base_url=self._config.base_url or OPENAI_DEFAULT_BASE_URL,
                    timeout=self._config.timeout_s,
                    max_retries=0,
                    default_headers=dict(self._config.extra_headers) or None,
                )
                self._client_key = key
            return self._client, key


def map_openai_error(
    exc: BaseException, *, config: ProviderConfig, model: str, api_key: str | None
) -> ProviderError:
    """A readable `ProviderError` for an SDK or transport error; the key is redacted."""
    if isinstance(exc, ProviderError):
        return exc
    name = config.name
    where = config.base_url or OPENAI_DEFAULT_BASE_URL
    if isinstance(exc, (openai.APITimeoutError, *_HTTP_TIMEOUT_ERRORS)):
        return ProviderTimeout(
            f"Provider {name!r} ({model}) did not answer within {config.timeout_s:g}s at {where}.",
            provider=name,
        )
    if isinstance(exc, (openai.APIConnectionError, *_HTTP_TRANSPORT_ERRORS)):
        cause = exc.__cause__ or exc
        return ProviderError(
            redact(
                f"Provider {name!r} ({model}): connection to {where} failed: "
                f"{type(cause).__name__}: {cause}",
                api_key,
            ),
            provider=name,
            transient=True,
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, config=config, model=model, api_key=api_key)
    if isinstance(exc, openai.APIError):
        # An error event inside a stream: the server gave up mid-answer.
        return ProviderError(
            redact(f"Provider {name!r} ({model}) failed mid-answer: {exc.message}", api_key),
            provider=name,
            transient=True,
        )
    return ProviderError(
        redact(f"Provider {name!r} ({model}) failed: {type(exc).__name__}: {exc}", api_key),
        provider=name,
        transient=False,
    )


_STATUS_HINTS = {
    400: "bad request",
    401: "authentication failed; check the key in {env}",
    403: "permission denied for this key; check the key in {env}",
    404: "not found; check the model name and base_url",
    408: "request timeout",
    429: "rate limited",
}


def _status_error(
    exc: openai.APIStatusError, *, config: ProviderConfig, model: str, api_key: str | None
) -> ProviderError:
    status = exc.status_code
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = str(body.get("message") or exc.message)
    code = str(body.get("code") or "")
    # 429 "insufficient_quota" is a billing problem, not a burst: retrying cannot help.
    transient = is_transient_status(status) and code != "insufficient_quota"
    hint = _STATUS_HINTS.get(status, "server error" if status >= 500 else "error")
    hint = hint.format(env=config.api_key_env or "api_key_env")
    if code:
        hint = f"{hint} [{code}]"
    retry_after = parse_retry_after(exc.response.headers) if transient else None
    return ProviderError(
        redact(f"Provider {config.name!r} ({model}): HTTP {status} {hint}: {detail}", api_key),
        provider=config.name,
        transient=transient,
        status_code=status,
        retry_after_s=retry_after,
    )


def _prompt_tokens(request: ChatRequest) -> int:
    """Prompt size when the server reports none (plus a few tokens of chat framing each)."""
    return sum(count_tokens(m.content, model=request.model) + 4 for m in request.messages)


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in request.messages]


class OpenAIChatProvider:
    """`ChatProvider` over the OpenAI chat completions API."""

    def __init__(
        self,
        config: ProviderConfig,
        breaker: CircuitBreaker,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if config.kind != "openai":
            raise ValueError(f"OpenAIChatProvider needs kind 'openai', got {config.kind!r}")
        self._config = config
        self._breaker = breaker
        self._retry_policy = retry_policy
        self._clients = OpenAIClients(config)

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def kind(self) -> str:
        return "openai"

    def _retrying(self) -> tenacity.Retrying:
        return retrying(
            provider=self.name, max_retries=self._config.max_retries, policy=self._retry_policy
        )

    def _call(self, fn: Callable[[openai.OpenAI], Any], request: ChatRequest) -> tuple[Any, str]:
        """Run one SDK call, turning every failure into a `ProviderError`; returns the
        response and the key used (so later errors can be redacted)."""
        key: str | None = None
        try:
            client, key = self._clients.get()
            return fn(client), key
        except Exception as exc:
            raise map_openai_error(
                exc, config=self._config, model=request.model, api_key=key
            ) from None

    def complete(self, request: ChatRequest) -> ChatResult:
        started = time.perf_counter()

        def attempt() -> ChatResult:
            # Parsing runs inside `_call` too, so a malformed body becomes a ProviderError.
            result, _ = self._call(
                lambda client: self._result(
                    client.chat.completions.create(
                        model=request.model,
                        messages=_messages(request),
                        max_tokens=request.max_tokens,
                        temperature=request.temperature,
                    ),
                    request,
                ),
                request,
            )
            return result

        result = self._retrying()(lambda: self._breaker.call(attempt))
        self._log_done(result, started, streamed=False)
        return result

    def _result(self, response: Any, request: ChatRequest) -> ChatResult:
        if not response.choices:
            raise ProviderError(
                f"Provider {self.name!r} ({request.model}) returned no choices.",
                provider=self.name,
                transient=True,
            )
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = response.usage
        tokens_in, tokens_out = self._usage(usage, request, text)
        return ChatResult(
            text=text,
            model=response.model or request.model,
            provider=self.name,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            finish_reason=choice.finish_reason or "",
        )

    def _usage(self, usage: Any, request: ChatRequest, text: str) -> tuple[int, int]:
        if usage is not None and usage.prompt_tokens is not None:
            return int(usage.prompt_tokens), int(usage.completion_tokens or 0)
        # Some compatible servers omit usage; over-estimate rather than bill nothing.
        logger.warning(
            "provider reported no token usage; using an estimate",
            extra={"provider": self.name, "model": request.model},
        )
        return _prompt_tokens(request), count_tokens(text, model=request.model)

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        started = time.perf_counter()

        def open_stream() -> Iterator[ChatDelta]:
            sdk_stream, key = self._call(
                lambda client: client.chat.completions.create(
                    model=request.model,
                    messages=_messages(request),
                    max_tokens=request.max_tokens,
                    temperature=request.temperature,
                    stream=True,
                    stream_options={"include_usage": True},
                ),
                request,
            )
            return self._deltas(sdk_stream, request, started=started, api_key=key)

        return resilient_stream(open_stream, breaker=self._breaker, retry=self._retrying())

    def _deltas(
        self, sdk_stream: Any, request: ChatRequest, *, started: float, api_key: str
    ) -> Iterator[ChatDelta]:
        parts: list[str] = []
        model, finish_reason, usage = request.model, "", None
        try:
            for chunk in sdk_stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                    piece = choice.delta.content if choice.delta else None
                    if piece:
                        parts.append(piece)
                        yield ChatDelta(text=piece)
        except Exception as exc:
            raise map_openai_error(
                exc, config=self._config, model=request.model, api_key=api_key
            ) from None
        finally:
            sdk_stream.close()
        text = "".join(parts)
        tokens_in, tokens_out = self._usage(usage, request, text)
        result = ChatResult(
            text=text,
            model=model,
            provider=self.name,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            finish_reason=finish_reason,
        )
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
