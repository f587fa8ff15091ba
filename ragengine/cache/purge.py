"""Removing cached answers: by admin request (all, a knowledge set, a rule, a selection)
or by the periodic prune of entries that can never be served again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from ragengine.cache.backend import cache_backend
from ragengine.cache.keys import entry_cache_key
from ragengine.models import CachedAnswer, KnowledgeSet

logger = logging.getLogger(__name__)


def cache_purge(
    *, knowledge_set_id: int | None = None, rule_id: int | None = None, everything: bool = False
) -> int:
    """Delete cached answers (rows and Django-cache copies): every one, those built over a
    knowledge set, or those stored under a rule. Returns how many rows went."""
    if not everything and knowledge_set_id is None and rule_id is None:
        raise ValueError("Say what to purge: a knowledge set, a rule, or everything.")
    rows = CachedAnswer.objects.all()
    if rule_id is not None:
        rows = rows.filter(rule_id=rule_id)
    found = list(rows.values_list("pk", "key", "scope_sets"))
    if knowledge_set_id is not None:  # JSON "contains" isn't portable (SQLite): filter here
        found = [row for row in found if int(knowledge_set_id) in row[2]]
    return _delete_entries(found, reason="purge")


def cache_purge_entries(*, entry_ids: Sequence[int]) -> int:
    """Delete the given cached answers (admin "purge selected")."""
    found = list(CachedAnswer.objects.filter(pk__in=list(entry_ids)).values_list("pk", "key"))
    return _delete_entries(found, reason="purge selected")


def cache_prune(*, now: datetime | None = None) -> int:
    """Delete rows that can never be served again: expired, or built over an index version
    that has since changed. For a periodic task; lookups never need it."""
    now = now or timezone.now()
    current = {str(pk): v for pk, v in KnowledgeSet.objects.values_list("pk", "index_version")}
    found = [
        (pk, key)
        for pk, key, versions, expires in CachedAnswer.objects.values_list(
            "pk", "key", "index_versions", "expires_at"
        )
        if expires <= now or any(current.get(s) != v for s, v in versions.items())
    ]
    return _delete_entries(found, reason="prune")


def _delete_entries(found: list[tuple], *, reason: str) -> int:
    if not found:
        return 0
    pks = [row[0] for row in found]
    for start in range(0, len(pks), 500):
        CachedAnswer.objects.filter(pk__in=pks[start : start + 500]).delete()
    cache_backend().delete_many(entry_cache_key(row[1]) for row in found)
    logger.info("answer cache purged", extra={"entries": len(pks), "reason": reason})
    return len(pks)
