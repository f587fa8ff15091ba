"""One ready connection to Weaviate: retries, readable errors, and a collection that is ours.

`WeaviateStore` sends its requests through `WeaviateConnection.call`, which retries
transient failures (network, timeouts, 429/5xx) with exponential backoff and turns every
client error into a `WeaviateStoreError` that names the server, the operation and what
to check; refused credentials name the variable the key is read from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
import weaviate
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateConnectionError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)

from ragengine.retrieval.stores import weaviate_query as wq
from ragengine.retrieval.stores.weaviate_config import WeaviateConfig
from ragengine.retrieval.types import VectorStoreError

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


# --------------------------------------------------------------------------- errors


class WeaviateStoreError(VectorStoreError):
    """A Weaviate operation failed; the message says what, where, and what was kept."""


class WeaviateUnavailableError(WeaviateStoreError):
    """Weaviate could not be reached: server down, wrong URL or port, or refused credentials."""


class WeaviateWriteError(WeaviateStoreError):
    """Weaviate rejected some objects of a write; `failures` lists (record id, reason)."""

    def __init__(self, message: str, *, failures: Sequence[tuple[str, str]]) -> None:
        super().__init__(message)
        self.failures = tuple(failures)


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: the network or an overloaded server, never a bad request.

    (The client already retries gRPC UNAVAILABLE itself, with backoff.)"""
    if isinstance(exc, WeaviateConnectionError | WeaviateTimeoutError | WeaviateStartUpError):
        return True
    return isinstance(exc, UnexpectedStatusCodeError) and exc.status_code in _TRANSIENT_STATUS


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


# --------------------------------------------------------------------------- connection


class WeaviateConnection:
    """A client for one configured server and collection, ready to use.

    Construction connects (with retries), checks that the gRPC port answers, and creates
    the collection when it is missing or checks that an existing one has Arandu's schema,
    so a down or misconfigured server fails here with a readable
    `WeaviateUnavailableError`. Pass `client` to use an already built
    `weaviate.WeaviateClient` (it is then not closed by `close()`).
    """

    def __init__(
        self,
        *,
        config: WeaviateConfig,
        client: weaviate.WeaviateClient | None = None,
        retry_attempts: int = 3,
        retry_wait_s: float = 0.25,
    ) -> None:
        self.config = config
        self._retry_attempts = max(1, retry_attempts)
        self._retry_wait_s = retry_wait_s
        self._owns_client = client is None
        self.client = client if client is not None else self._connect()
        try:
            self._ensure_collection()
        except BaseException:
            self.close()
            raise
        self.collection = self.client.collections.use(config.collection)

    def close(self) -> None:
        if self._owns_client and getattr(self, "client", None) is not None:
            self.client.close()

    def call(self, operation: Callable[[], T], *, what: str) -> T:
        """Run a client call with retries on transient errors; wrap failures readably."""

        def log_retry(state: RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            logger.warning(
                "weaviate retry",
                extra={
                    "operation": what,
                    "attempt": state.attempt_number,
                    "error": _reason(error) if error else "",
                    "url": self.config.url,
                },
            )

        retrying = Retrying(
            stop=stop_after_attempt(self._retry_attempts),
            wait=wait_exponential(multiplier=self._retry_wait_s, max=8.0),
            retry=retry_if_exception(_is_transient),
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return retrying(operation)
        except WeaviateBaseError as exc:
            if isinstance(exc, UnexpectedStatusCodeError) and exc.status_code in (401, 403):
                state = "set" if self.config.api_key() else "empty or unset"
                raise WeaviateUnavailableError(
                    f"Weaviate at {self.config.url} refused our credentials ({what}, HTTP "
                    f"{exc.status_code}). The API key is read from the environment variable "
                    f"named by WEAVIATE_API_KEY_ENV ({self.config.api_key_env}, {state})."
                ) from exc
            if _is_transient(exc):
                raise WeaviateUnavailableError(
                    f"Weaviate at {self.config.url} is unavailable ({what}, "
                    f"{self._retry_attempts} attempt(s)): {_reason(exc)}. Check that the "
                    "server is running and WEAVIATE_URL / WEAVIATE_GRPC_PORT point at it."
                ) from exc
            raise WeaviateStoreError(
                f"Weaviate at {self.config.url} failed to {what}: {_reason(exc)}"
            ) from exc

    def _connect(self) -> weaviate.WeaviateClient:
        config = self.config
        key = config.api_key()
        additional = AdditionalConfig(
            timeout=Timeout(
                init=min(config.timeout_s, 10.0),
                query=config.timeout_s,
                insert=config.timeout_s * 2,
            )
        )

        def connect() -> weaviate.WeaviateClient:
            # skip_init_checks: the client's own checks also query PyPI for a newer
            # version; reachability of gRPC is checked below instead.
            return weaviate.connect_to_custom(
                http_host=config.http_host,
                http_port=config.http_port,
                http_secure=config.http_secure,
                grpc_host=config.grpc_host or config.http_host,
                grpc_port=config.grpc_port,
                grpc_secure=config.http_secure,
                auth_credentials=Auth.api_key(key) if key else None,
                additional_config=additional,
                skip_init_checks=True,
            )

        client = self.call(connect, what="connect")
        try:
            self._check_grpc()
        except BaseException:
            client.close()
            raise
        logger.info(
            "weaviate connected",
            extra={
                "url": config.url,
                "grpc": config.grpc_target,
                "collection": config.collection,
                "api_key_env": config.api_key_env if key else "",
            },
        )
        return client

    def _check_grpc(self) -> None:
        """Fail fast on a wrong gRPC port: searches and writes go over gRPC, and the
        client would otherwise back off for a minute on every call."""
        target = self.config.grpc_target
        channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials())
            if self.config.http_secure
            else grpc.insecure_channel(target)
        )
        try:
            grpc.channel_ready_future(channel).result(timeout=min(self.config.timeout_s, 10.0))
        except grpc.FutureTimeoutError as exc:
            raise WeaviateUnavailableError(
                f"Weaviate answers at {self.config.url} but its gRPC port {target} does not. "
                "Set WEAVIATE_GRPC_PORT (and WEAVIATE_GRPC_HOST if gRPC is on another host)."
            ) from exc
        finally:
            channel.close()

    def _ensure_collection(self) -> None:
        name = self.config.collection
        collections = self.client.collections
        if self.call(lambda: collections.exists(name), what="check the collection"):
            self._check_schema()
            return
        try:
            self.call(
                lambda: collections.create(name, **wq.collection_settings()),
                what=f"create collection {name}",
            )
            logger.info("weaviate collection created", extra={"collection": name})
        except WeaviateStoreError:
            # Another process may have created it first; that is fine.
            if not self.call(lambda: collections.exists(name), what="check the collection"):
                raise

    def _check_schema(self) -> None:
        name = self.config.collection
        config = self.call(
            lambda: self.client.collections.use(name).config.get(), what="read the schema"
        )
        present = {p.name for p in config.properties}
        missing = sorted(wq.REQUIRED_PROPERTIES - present)
        vectors = set(config.vector_config or {})
        if missing or wq.VECTOR_NAME not in vectors:
            raise WeaviateStoreError(
                f"Weaviate collection {name!r} exists but was not created by Arandu (missing "
                f"properties {missing or 'none'}, vectors {sorted(vectors)}). Set "
                "WEAVIATE_COLLECTION to another name or delete that collection."
            )

    def health(self) -> dict[str, Any]:
        """For the readiness endpoint: never raises, no retries, one or two quick calls."""
        started = time.perf_counter()
        report: dict[str, Any] = {
            "backend": "weaviate",
            "url": self.config.url,
            "collection": self.config.collection,
        }
        try:
            meta = self.client.get_meta()
            exists = self.client.collections.exists(self.config.collection)
        except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
            report.update(ok=False, error=_reason(exc))
        else:
            report.update(ok=bool(exists), version=str(meta.get("version", "")))
            if not exists:
                report["error"] = "collection is missing"
        report["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return report
