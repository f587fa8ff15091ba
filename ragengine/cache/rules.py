"""Cache rules: how long an answer may be served (or never), read per question so an
admin edit applies at once."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings

from ragengine.models import CacheCategory, CacheRule
from ragengine.text_analysis import fold_accents

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuleDecision:
    """How long to keep an answer (None: never cache) and whether paraphrases may use it."""

    rule: CacheRule | None
    ttl_seconds: int | None
    semantic: bool

    @property
    def cacheable(self) -> bool:
        return self.ttl_seconds is not None


def cache_rule_for(*, question: str) -> RuleDecision:
    """The first enabled rule (by priority) whose pattern matches, else the default TTL.

    Read per question so an admin edit applies at once; rules are few."""
    text = fold_accents(question).lower()
    for rule in CacheRule.objects.filter(enabled=True).order_by("priority", "pk"):
        pattern = rule.effective_pattern
        if not pattern and rule.category != CacheCategory.OTHER:
            continue
        try:
            matched = not pattern or re.search(pattern, text) is not None
        except re.error:
            logger.error("cache rule ignored: invalid pattern", extra={"rule": rule.name})
            continue
        if not matched:
            continue
        if rule.never_cache or not rule.ttl_seconds:
            return RuleDecision(rule=rule, ttl_seconds=None, semantic=False)
        return RuleDecision(rule=rule, ttl_seconds=rule.ttl_seconds, semantic=rule.semantic_enabled)
    ttl = settings.ARANDU_CACHE_DEFAULT_TTL
    return RuleDecision(rule=None, ttl_seconds=ttl or None, semantic=ttl > 0)
