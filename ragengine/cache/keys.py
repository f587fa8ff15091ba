"""Cache keys: the folded question and the scope an entry is valid in.

An entry is valid only in its scope: the knowledge sets the asker may see, their index
versions, and the model family that answered. A document change bumps its set's version,
so the scope (part of every key) changes and older answers can no longer be reached.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragengine.models import KnowledgeSet
from ragengine.text_analysis import fold_accents

_PREFIX = "arandu:answers:v1"

APOSTROPHES = re.compile(r"['’`´]")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def fold_question(text: str) -> str:
    """Case, accents, punctuation and spacing folded: "  Férias?? " -> "ferias"."""
    folded = fold_accents(APOSTROPHES.sub("", text or "")).casefold()
    return _NON_WORD.sub(" ", folded).strip()


@dataclass(frozen=True, slots=True)
class CacheScope:
    """Who may be served an entry: same sets, same index versions, same model family."""

    set_ids: tuple[int, ...]
    versions: tuple[int, ...]
    model_family: str
    # Part of every key (exact and semantic, lookup and store): hashed once, here.
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        data = json.dumps([self.set_ids, self.versions, self.model_family], separators=(",", ":"))
        object.__setattr__(self, "digest", hashlib.sha256(data.encode()).hexdigest())

    @property
    def index_versions(self) -> dict[str, int]:
        return {str(s): v for s, v in zip(self.set_ids, self.versions, strict=True)}


def cache_scope(*, set_ids: Sequence[int | str] | None, model_family: str) -> CacheScope:
    """The scope of a question asked over `set_ids` (None: every set), at the sets'
    current index versions. Read per question: one small query."""
    rows = KnowledgeSet.objects.order_by("pk")
    if set_ids is not None:
        rows = rows.filter(pk__in={int(s) for s in set_ids})
    pairs = list(rows.values_list("pk", "index_version"))
    return CacheScope(
        set_ids=tuple(p for p, _ in pairs),
        versions=tuple(v for _, v in pairs),
        model_family=model_family,
    )


def cache_key_for(*, question: str, scope: CacheScope) -> str:
    """The exact key: also the key to pass to `generation_lock`."""
    return exact_key(fold_question(question), scope)


def exact_key(folded: str, scope: CacheScope) -> str:
    return hashlib.sha256(f"{scope.digest}\n{folded}".encode()).hexdigest()


def entry_cache_key(key: str) -> str:
    """Where the Django cache keeps the hot copy of an entry."""
    return f"{_PREFIX}:entry:{key}"


def lock_cache_key(key: str) -> str:
    return f"{_PREFIX}:lock:{key}"
