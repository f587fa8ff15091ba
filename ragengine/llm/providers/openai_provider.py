"""Chat through the OpenAI SDK: api.openai.com or any OpenAI-compatible server (vLLM,
llama.cpp server, Anthropic/Gemini compatibility endpoints) via `base_url`.

The SDK's own retries are switched off (`max_retries=0`): retries happen in
`ragengine.llm.resilience`, where they are logged, bounded and pass the circuit breaker.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any
from urllib.parse import urlsplit

import openai

from ragengine.llm.deadline import deadline_hooks
from ragengine.llm.providers.base import (
    SdkChatProvider,
    SdkClients,
    StreamReader,
    chat_messages,
    estimate_prompt_tokens,
)
from ragengine.llm.resilience import is_transient_status, parse_retry_after
from ragengine.llm.tokens import count_tokens
from ragengine.llm.types import (
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


_TIMEOUT_ERRORS = (openai.APITimeoutError, *_http_error_types("TimeoutException"))
# The HTTP library of the SDK's own client, whose hooks enforce a call's deadline.
_SDK_HTTP = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
_CONNECTION_ERRORS = (openai.APIConnectionError, *_http_error_types("TransportError"))


def _base_url(config: ProviderConfig) -> str:
    return config.base_url or OPENAI_DEFAULT_BASE_URL


def is_official_openai(config: ProviderConfig) -> bool:
    return (urlsplit(_base_url(config)).hostname or "") == "api.openai.com"


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


class OpenAIClients(SdkClients[openai.OpenAI, str]):
    """OpenAI SDK clients; the SDK's own retries are off (see the module docstring)."""

    def _resolve_key(self) -> str:
        return resolve_openai_key(self._config)

    def _build(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=key,
            base_url=_base_url(self._config),
            timeout=self._config.timeout_s,
            max_retries=0,
            default_headers=dict(self._config.extra_headers) or None,
            http_client=openai.DefaultHttpxClient(event_hooks=deadline_hooks(_SDK_HTTP)),
        )

    def map_error(self, exc: BaseException, *, model: str, api_key: str | None) -> ProviderError:
        return map_openai_error(exc, config=self._config, model=model, api_key=api_key)


def map_openai_error(
    exc: BaseException, *, config: ProviderConfig, model: str, api_key: str | None
) -> ProviderError:
    """A readable `ProviderError` for an SDK or transport error; the key is redacted."""
    if isinstance(exc, ProviderError):
        return exc
    name = config.name
    where = _base_url(config)
    if isinstance(exc, _TIMEOUT_ERRORS):
        return ProviderTimeout(
            f"Provider {name!r} ({model}) did not answer within {config.timeout_s:g}s at {where}.",
            provider=name,
        )
    if isinstance(exc, _CONNECTION_ERRORS):
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


class OpenAIChatProvider(SdkChatProvider[openai.OpenAI]):
    """`ChatProvider` over the OpenAI chat completions API."""

    kind = "openai"
    clients_type = OpenAIClients

    def _send(self, client: openai.OpenAI, request: ChatRequest, *, stream: bool) -> Any:
        # Only a stream names `stream`: the plain request stays as the SDK sends it.
        extra: dict[str, Any] = (
            {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
        )
        return client.chat.completions.create(
            model=request.model,
            messages=chat_messages(request),
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            **extra,
        )

    def _parse(self, response: Any, request: ChatRequest) -> ChatResult:
        if not response.choices:
            raise ProviderError(
                f"Provider {self.name!r} ({request.model}) returned no choices.",
                provider=self.name,
                transient=True,
            )
        choice = response.choices[0]
        return self._result(
            choice.message.content or "",
            request,
            model=response.model or request.model,
            usage=response.usage,
            finish_reason=choice.finish_reason or "",
        )

    def _read_stream(self, chunks: Any, request: ChatRequest) -> StreamReader:
        model, finish_reason, usage = request.model, "", None
        for chunk in chunks:
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
                    yield piece
        return lambda text: self._result(
            text, request, model=model, usage=usage, finish_reason=finish_reason
        )

    def _result(
        self, text: str, request: ChatRequest, *, model: str, usage: Any, finish_reason: str
    ) -> ChatResult:
        if usage is not None and usage.prompt_tokens is not None:
            tokens_in, tokens_out = int(usage.prompt_tokens), int(usage.completion_tokens or 0)
        else:
            # Some compatible servers omit usage; over-estimate rather than bill nothing.
            logger.warning(
                "provider reported no token usage; using an estimate",
                extra={"provider": self.name, "model": request.model},
            )
            tokens_in = estimate_prompt_tokens(request)
            tokens_out = count_tokens(text, model=request.model)
        return ChatResult(
            text=text,
            model=model,
            provider=self.name,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            finish_reason=finish_reason,
        )
