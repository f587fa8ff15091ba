"""Where and how to reach Weaviate (`WeaviateConfig`), validated on construction.

Free of the weaviate client, so reading the settings (`registry.weaviate_config()`)
costs nothing when the local store is in use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_COLLECTION = "AranduChunk"
DEFAULT_GRPC_PORT = 50051
_COLLECTION_NAME = re.compile(r"^[A-Z][_0-9A-Za-z]*$")


@dataclass(frozen=True, slots=True)
class WeaviateConfig:
    """Where and how to reach Weaviate. The API key is referred to by env-var NAME only."""

    url: str
    grpc_port: int = DEFAULT_GRPC_PORT
    grpc_host: str = ""  # default: the host of `url`
    api_key_env: str = "WEAVIATE_API_KEY"
    timeout_s: float = 30.0
    collection: str = DEFAULT_COLLECTION

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"WEAVIATE_URL must look like http://host:8080 or https://host, got {self.url!r}"
            )
        if not 0 < self.grpc_port < 65536:
            raise ValueError(f"WEAVIATE_GRPC_PORT must be a TCP port, got {self.grpc_port}")
        if not self.timeout_s > 0:
            raise ValueError(f"WEAVIATE_TIMEOUT_S must be positive, got {self.timeout_s}")
        if not _COLLECTION_NAME.match(self.collection):
            raise ValueError(
                "WEAVIATE_COLLECTION must start with a capital letter and use letters, "
                f"digits and underscores only, got {self.collection!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WeaviateConfig:
        """Read WEAVIATE_URL, WEAVIATE_GRPC_PORT, WEAVIATE_GRPC_HOST, WEAVIATE_API_KEY_ENV,
        WEAVIATE_TIMEOUT_S and WEAVIATE_COLLECTION; fail loudly on a missing URL."""
        env = os.environ if environ is None else environ
        url = env.get("WEAVIATE_URL", "").strip()
        if not url:
            raise ValueError("WEAVIATE_URL is not set (e.g. http://weaviate:8080).")
        try:
            grpc_port = int(env.get("WEAVIATE_GRPC_PORT") or DEFAULT_GRPC_PORT)
            timeout_s = float(env.get("WEAVIATE_TIMEOUT_S") or 30.0)
        except ValueError as exc:
            raise ValueError(f"Bad Weaviate setting: {exc}") from exc
        return cls(
            url=url,
            grpc_port=grpc_port,
            grpc_host=env.get("WEAVIATE_GRPC_HOST", "").strip(),
            api_key_env=env.get("WEAVIATE_API_KEY_ENV", "").strip() or "WEAVIATE_API_KEY",
            timeout_s=timeout_s,
            collection=env.get("WEAVIATE_COLLECTION", "").strip() or DEFAULT_COLLECTION,
        )

    @property
    def http_host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def http_secure(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def http_port(self) -> int:
        return urlsplit(self.url).port or (443 if self.http_secure else 80)

    @property
    def grpc_target(self) -> str:
        return f"{self.grpc_host or self.http_host}:{self.grpc_port}"

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env, "").strip() or None
