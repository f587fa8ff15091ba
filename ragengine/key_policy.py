"""Which environment variables may be sent to a model server as its API key.

An endpoint names the variable that holds its key (admin "Provider endpoints", or
ARANDU_EMBEDDER_API_KEY_ENV) and whoever edits the endpoint also chooses where the key
goes (its base_url). So only names matching the allow-list (ARANDU_API_KEY_ENV_ALLOWED,
default `*_API_KEY`) are accepted, and Arandu's own secrets never, whatever the allow-list
says. Checked when an endpoint is saved and again before every call. Importable without
Django, like `ragengine.llm.types`, which checks it; only `configured_key_policy` reads
settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

DEFAULT_ALLOWED: tuple[str, ...] = ("*_API_KEY",)

# Arandu's own secrets (and anything shaped like a connection string, password or signing
# secret): never an API key for a model server. Matched case-insensitively.
RESERVED_PATTERNS: tuple[str, ...] = (
    "DJANGO_*",  # DJANGO_SECRET_KEY signs sessions, CSRF tokens and password resets
    "SLACK_*",  # bot and app tokens, the signing secret
    "DISCORD_*",
    "DATABASE_*",
    "POSTGRES_*",
    "REDIS_*",
    "SENTRY_*",
    "WEAVIATE_*",  # the vector store's key goes to the vector store only
    "ARANDU_ADMIN_*",
    "*_URL",  # connection strings carry passwords
    "*_DSN",
    "*PASSWORD*",
    "*SECRET*",
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_A_NAME = "Enter the NAME of an environment variable, e.g. OPENAI_API_KEY."


@dataclass(frozen=True, slots=True)
class KeyEnvPolicy:
    """`allowed`: fnmatch patterns (case-sensitive, as variable names are); `reserved_names`:
    more variables never to send (e.g. the one WEAVIATE_API_KEY_ENV names)."""

    allowed: tuple[str, ...] = DEFAULT_ALLOWED
    reserved_names: tuple[str, ...] = ()

    def refusal(self, name: str) -> str | None:
        """Why the variable `name` may not be sent as an API key, or None if it may.

        The reason never repeats something that is not a variable name (it may be a key
        pasted into the wrong field)."""
        if not _NAME.fullmatch(name):
            return _NOT_A_NAME
        folded = name.upper()
        if folded in (n.upper() for n in self.reserved_names) or any(
            fnmatchcase(folded, pattern) for pattern in RESERVED_PATTERNS
        ):
            return (
                f"{name} is reserved: Arandu's own secrets, connection strings, passwords "
                "and signing secrets are never sent to a model server."
            )
        if not self.allowed:
            return (
                f"{name} is not allowed: ARANDU_API_KEY_ENV_ALLOWED is empty, so no key "
                "variable may be used."
            )
        if not any(fnmatchcase(name, pattern) for pattern in self.allowed):
            return (
                f"{name} is not an allowed API key variable: names must match "
                f"ARANDU_API_KEY_ENV_ALLOWED ({', '.join(self.allowed)})."
            )
        return None


def configured_key_policy() -> KeyEnvPolicy:
    """This deployment's policy: ARANDU_API_KEY_ENV_ALLOWED, and the variable holding the
    vector store's key (WEAVIATE_API_KEY_ENV) reserved. Read per call, so a changed setting
    applies without a restart."""
    from django.conf import settings

    return KeyEnvPolicy(
        allowed=tuple(settings.ARANDU_API_KEY_ENV_ALLOWED),
        reserved_names=(settings.WEAVIATE_API_KEY_ENV,),
    )


def allow_list_problem(patterns: tuple[str, ...] | list[str]) -> str | None:
    """What is wrong with an allow-list setting, or None (for settings to fail loudly)."""
    for pattern in patterns:
        if not re.fullmatch(r"[A-Za-z0-9_*?\[\]!]+", pattern):
            return f"{pattern!r} is not a variable name pattern (letters, digits, _ and * ? [])."
        if not re.search(r"[A-Za-z0-9_]", pattern):
            return f"{pattern!r} would allow every environment variable."
    return None
