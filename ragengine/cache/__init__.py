"""The answer cache: repeated questions answered in milliseconds, at no cost, never stale.

This is its one public face; callers import from `ragengine.cache`, never its modules.

- keys: an entry is valid only in its scope (sets the asker may see, their index
  versions, the model family), part of every key;
- rules: admin-edited TTLs (or never cache), first enabled match by priority;
- lookup: exact, then semantic behind the paraphrase checks (paraphrase);
- store, purge (admin and periodic prune), lock (one generation per question at a time);
- question: the cache as one question sees it (the face `ask()` uses);
- replies: an `Answer` as the cache keeps it, and the reply a hit gives;
- backend: the Django cache behind a guard, so a failing backend (Redis down) never
  fails a question: entries are served from their rows, and `cache_health()` says so.

The cache writes no ledger rows: serving a hit as a question (quota, a free ledger row)
is the ask service's business.
"""

from ragengine.cache.backend import CacheHealth, cache_health
from ragengine.cache.keys import CacheScope, cache_key_for, cache_scope, fold_question
from ragengine.cache.lock import generation_lock
from ragengine.cache.lookup import CacheHit, HitKind, QueryVector, cache_lookup
from ragengine.cache.paraphrase import paraphrase_mismatch, semantic_key_for
from ragengine.cache.purge import cache_prune, cache_purge, cache_purge_entries
from ragengine.cache.question import EXTRACTIVE_FAMILY, ModelFamily, QuestionCache
from ragengine.cache.replies import answer_from_hit, answer_payload
from ragengine.cache.rules import RuleDecision, cache_rule_for
from ragengine.cache.store import cache_store

__all__ = [
    "EXTRACTIVE_FAMILY",
    "ModelFamily",
    "QuestionCache",
    "CacheHealth",
    "CacheHit",
    "CacheScope",
    "HitKind",
    "QueryVector",
    "RuleDecision",
    "answer_from_hit",
    "answer_payload",
    "cache_health",
    "cache_key_for",
    "cache_lookup",
    "cache_prune",
    "cache_purge",
    "cache_purge_entries",
    "cache_rule_for",
    "cache_scope",
    "cache_store",
    "fold_question",
    "generation_lock",
    "paraphrase_mismatch",
    "semantic_key_for",
]
