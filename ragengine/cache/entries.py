"""An entry's hot copy: the payload kept in the Django cache beside its database row."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.utils import timezone

from ragengine.cache.backend import cache_backend
from ragengine.cache.keys import entry_cache_key
from ragengine.models import CachedAnswer


def entry_payload(entry: CachedAnswer) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "question": entry.question,
        "answer": entry.answer,
        "cost": str(entry.cost),
        "expires": entry.expires_at.timestamp(),
        "rule_id": entry.rule_id,
        "rule_name": entry.rule.name if entry.rule_id else "",
        "scope_sets": list(entry.scope_sets),
    }


def warm_entry(entry: CachedAnswer) -> dict[str, Any]:
    """Put the entry in the Django cache until it expires (by the real clock); returns
    its payload."""
    payload = entry_payload(entry)
    remaining = math.ceil((entry.expires_at - timezone.now()).total_seconds())
    if remaining > 0:
        cache_backend().set(entry_cache_key(entry.key), payload, timeout=remaining)
    return payload


def unit_vector(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
