"""The answer cache: repeated questions answered in milliseconds, at no cost, never stale.

An entry is valid only in its scope: the knowledge sets the asker may see, their index
versions, and the model family that answered. A document change bumps its set's version,
so the scope (part of every key) changes and older answers can no longer be reached.

Lookup is exact first (normalized question + scope), then semantic: cosine of question
embeddings ≥ threshold within the same scope, behind a lexical precision guard, because
MiniLM is close to a bag of words ("Can managers approve vacation for employees?" and its
role reversal score 0.99; "Is parking free?" / "...for visitors?" 0.91). A semantic hit
needs the same meaning-bearing words in the same order and the same negation, numbers,
dates, comparisons and question word (see `precision_guard`); those conditions are also
its index: candidates are only the entries of the scope with the same "semantic key", so
a semantic lookup is one indexed query whatever the cache size, and the embedding is
computed only when there is a candidate. The default threshold comes from the labelled
pairs in tests/ragengine/services/test_cache_precision.py.

Storage: the Django cache (locmem, or Redis shared by every process) is the hot path; the
`CachedAnswer` rows are the durable record, so a cold cache or a restart falls back to the
database and re-warms. Every served entry is re-checked against its row (the hit counter
update), so a purge is honoured even by a process whose local cache still holds a copy.
When the Django cache's backend fails, entries are served from the rows alone and the
stampede lock is skipped (`ragengine.services.cache_backend`; `cache_health()` says so).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_PORTUGUESE
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from ragengine.answers import Answer, AnswerMode, Source
from ragengine.models import (
    CacheCategory,
    CachedAnswer,
    CacheEvent,
    CacheEventKind,
    CacheRule,
    KnowledgeSet,
)
from ragengine.retrieval.analysis import detect_language, fold_accents, word_tokens
from ragengine.services.cache_backend import cache_backend
from ragengine.services.cache_backend import cache_health as cache_health  # public face

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 86400
# Chosen on the labelled pairs (zero false hits, most true hits, with the guard below);
# tests/ragengine/services/test_cache_precision.py recomputes it and fails if it drifts.
DEFAULT_SEMANTIC_THRESHOLD = 0.87
# Candidates re-scored per semantic lookup (the newest first); entries sharing a semantic
# key in one scope are rewordings of one question, so there are seldom more than a few.
SEMANTIC_CANDIDATES = 20

_PREFIX = "arandu:answers:v1"

HitKind = Literal["exact", "semantic"]
QueryVector = np.ndarray | Callable[[], np.ndarray] | None


# --- normalisation, scope, keys -----------------------------------------------------------

_APOSTROPHES = re.compile(r"['’`´]")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_question(text: str) -> str:
    """Case, accents, punctuation and spacing folded: "  Férias?? " -> "ferias"."""
    folded = fold_accents(_APOSTROPHES.sub("", text or "")).casefold()
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
    """The exact key: also the key to pass to `generation_guard`."""
    return _key(normalize_question(question), scope)


def _key(normalized: str, scope: CacheScope) -> str:
    return hashlib.sha256(f"{scope.digest}\n{normalized}".encode()).hexdigest()


def _entry_ck(key: str) -> str:
    return f"{_PREFIX}:entry:{key}"


def _lock_ck(key: str) -> str:
    return f"{_PREFIX}:lock:{key}"


def semantic_threshold() -> float:
    return float(getattr(settings, "ARANDU_CACHE_SEMANTIC_THRESHOLD", DEFAULT_SEMANTIC_THRESHOLD))


# --- rules ----------------------------------------------------------------------------------


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
    ttl = int(getattr(settings, "ARANDU_CACHE_DEFAULT_TTL", DEFAULT_TTL_SECONDS) or 0)
    return RuleDecision(rule=None, ttl_seconds=ttl or None, semantic=ttl > 0)


# --- precision guard ------------------------------------------------------------------------
#
# MiniLM embeddings are close to a bag of words: "Can managers approve vacation for
# employees?" and its role reversal score 0.99, "Is parking free?" / "...for visitors?"
# 0.91, "Posso levar meu cachorro ao escritório?" / "...meu filho..." 0.89, above true
# paraphrases such as "Quais são os benefícios?" / "Qual é o benefício?" (0.77). No
# threshold separates them. So a semantic hit also needs the same meaning-bearing words
# (singular or plural) in the same order, and agreement on what flips an answer without
# moving the embedding: negation, numbers, dates, comparisons, who/when/where/why,
# obligation ("must" vs "can") and who does what to whom (I/you/he…). The embedding is
# left to judge rewording (function words, politeness, inflection) and the odd same-word
# pair with another sense ("Where do I park?" / "Where is the park?" 0.82, "What is a
# bonus?" / "What is my bonus?" 0.87), which is what sets the threshold. Measured on the
# labelled pairs in tests/ragengine/services/test_cache_precision.py.


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NEGATIONS = _wordset(
    "not never none nobody nothing neither nor without cannot cant dont doesnt didnt isnt "
    "arent wasnt werent wont wouldnt shouldnt couldnt mustnt hasnt havent hadnt "
    "nao nunca nem sem nenhum nenhuma ninguem nada jamais"
)
_NUMBER_WORDS = _wordset(
    "zero one two three four five six seven eight nine ten eleven twelve fifteen twenty "
    "thirty forty fifty hundred thousand million half double twice dozen "
    "dois duas tres quatro cinco seis sete oito nove dez onze doze quinze vinte "
    "trinta quarenta cinquenta cem cento mil milhao metade dobro"
)
_DATE_WORDS = _wordset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro "
    "monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays "
    "thursdays fridays saturdays sundays weekend weekends weekday weekdays "
    "segunda terca quarta quinta sexta sabado domingo segundas tercas quartas quintas sextas "
    "sabados domingos today tomorrow yesterday tonight hoje amanha ontem"
)
_CONTRAST_WORDS = _wordset(
    "before after over under above below more less fewer most least maximum minimum max min "
    "first last next previous early earlier late later only "
    "antes depois acima abaixo mais menos maximo minimo primeiro primeira ultimo ultima "
    "proximo proxima anterior cedo tarde apenas"
)
_OBLIGATION_WORDS = _wordset(
    "must need needs needed require requires required mandatory obligatory compulsory "
    "devo deve devem devemos preciso precisa precisam precisamos obrigatorio obrigatoria"
)
_WH_CLASSES = {
    "who": "who",
    "whom": "who",
    "whose": "who",
    "quem": "who",
    "when": "when",
    "quando": "when",
    "where": "where",
    "onde": "where",
    "aonde": "where",
    "why": "why",
    "porque": "why",
}
# English personal pronouns by role ("Who should I ask?" is not "Who should ask me?"),
# compared when both questions have some: one-sided ones are scaffolding ("tell me").
# "we/our" stay filler: in a company handbook "we" is everyone ("Do we have a dress
# code?"), and Portuguese drops subject pronouns too often to compare them.
_PRONOUN_ROLES = {
    "i": "subj:1",
    "me": "obj:1",
    "you": "2",
    "he": "subj:3",
    "she": "subj:3",
    "they": "subj:3",
    "him": "obj:3",
    "her": "obj:3",
    "them": "obj:3",
}
# Words that carry no meaning a cached answer depends on: function words, question
# scaffolding and politeness ("hi, could you tell me…").
_FILLER = (
    (
        frozenset(fold_accents(w) for w in (*STOPWORDS_EN, *STOPWORDS_PORTUGUESE))
        | _wordset(
            "my mine myself we us our ours your yours his hers their theirs it its "
            "do does did doing done can could would should shall might will am "
            "is are was were be been being have has had having get gets got getting "
            "what whats which how hows many much about please pls hi hello hey thanks thank "
            "tell explain know want like let find see any some there here so just also "
            "really ok okay anyone somebody someone "
            "o a os as eu voce voces meu minha meus minhas nosso nossa seu sua pra pro "
            "qual quais como quanto quantos quanta quantas posso pode podem poder podemos "
            "consigo conseguir faco fazer faz gostaria queria quero saber sabe explica "
            "explique explicar diga diz dizer fala favor obrigado obrigada oi ola tudo "
            "alguem existe algum alguma"
        )
    )
    - _NEGATIONS
    - _NUMBER_WORDS
    - _DATE_WORDS
    - _CONTRAST_WORDS
    - _OBLIGATION_WORDS
    - frozenset(_WH_CLASSES)
    - frozenset(_PRONOUN_ROLES)
)


@dataclass(frozen=True, slots=True)
class _Signature:
    language: str
    negated: bool
    critical: frozenset[str]
    roles: frozenset[str]
    content: tuple[str, ...]  # meaning-bearing words, singular, in order

    @property
    def key(self) -> str:
        """What two questions must share to be paraphrases; "" when there are no
        meaning-bearing words to anchor a semantic hit ("what is it?")."""
        if not self.content:
            return ""
        parts = [str(int(self.negated)), *sorted(self.critical), "|", *sorted(set(self.content))]
        return " ".join(parts)


def _critical(word: str, cased: str, previous: str, following: str) -> str | None:
    """The class of a word that decides what the answer is, else None."""
    if any(ch.isdigit() for ch in word) or word in _NUMBER_WORDS:
        return word
    if word in _DATE_WORDS and (word != "may" or cased == "May"):  # the month, not "may I"
        return word
    if word in _CONTRAST_WORDS:
        return f"cmp:{word}"
    if word in _OBLIGATION_WORDS or (word == "to" and previous in ("have", "has", "had")):
        return "must"
    if word in _WH_CLASSES:
        return f"wh:{_WH_CLASSES[word]}"
    if word == "por" and following == "que":
        return "wh:why"
    return None


def _singular(word: str, language: str) -> str:
    """A light singular ("policies" -> "policy", "taxis" -> "taxi", "viagens" -> "viagem").

    Deliberately not a stemmer: Snowball merges "parking" with "park", "training" with
    "train" and "banco" with "bancada", which MiniLM can't tell apart either. Portuguese
    rules apply to Portuguese questions only ("plans" is not "plam")."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if language == "pt":
        for suffix, singular in (
            ("oes", "ao"),  # folded "-ões": aprovações
            ("aes", "ao"),
            ("ais", "al"),  # funcionais
            ("eis", "el"),  # papéis
            ("ois", "ol"),
            ("ns", "m"),  # viagens
            ("res", "r"),  # flores
            ("zes", "z"),  # luzes
        ):
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                return word[: -len(suffix)] + singular
    if word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def _fold_word(word: str) -> str:
    """Accent-free; "where's" -> "where", "office's" -> "office", "don't" -> "dont"."""
    head, _, tail = _APOSTROPHES.sub("'", fold_accents(word)).partition("'")
    return head + tail if tail == "t" else head


def _signature(text: str) -> _Signature:
    tokens = word_tokens(text)
    raw = [t.lower() for t in tokens]
    folded = [_fold_word(w) for w in raw]
    language = detect_language(raw, text)
    negated = False
    critical: set[str] = set()
    roles: set[str] = set()
    content: list[str] = []
    for i, (token, low, word) in enumerate(zip(tokens, raw, folded, strict=True)):
        if (
            word in _NEGATIONS
            or low.endswith(("n't", "n’t"))
            or (word == "no" and language != "pt")  # Portuguese "no" is "in the"
        ):
            negated = True
            continue
        if word in _PRONOUN_ROLES:
            roles.add(_PRONOUN_ROLES[word])
            continue
        previous = folded[i - 1] if i else ""
        following = folded[i + 1] if i + 1 < len(folded) else ""
        kind = _critical(word, token if i else "", previous, following)
        if kind is not None:
            critical.add(kind)
        elif word not in _FILLER and word != "may":  # "may I…" (the month is critical)
            content.append(_singular(word, language))
    return _Signature(
        language=language,
        negated=negated,
        critical=frozenset(critical),
        roles=frozenset(roles),
        content=tuple(content),
    )


def _in_order(a: Sequence[str], b: Sequence[str]) -> bool:
    """Every word of `a` meets the same word in `b`, walking `b` forwards only."""
    remaining = iter(b)
    return all(word in remaining for word in a)


def precision_guard(*, question: str, candidate: str) -> str | None:
    """Why `candidate`'s answer must not serve `question` despite close embeddings, or None.

    "language": the answer would be in the other one; "negation" on one side only;
    "critical": numbers, dates, comparisons, who/when/where/why or obligation differ;
    "roles": both name people (I/me/you/he…) but not the same way; "words": a
    meaning-bearing word added, dropped or swapped ("taxis" / "flights", "parking" /
    "parking for visitors"); "order": the same words in another order (role reversals:
    "managers approve ... employees")."""
    return _refusal(_signature(question), _signature(candidate))


def _refusal(a: _Signature, b: _Signature) -> str | None:
    """`precision_guard` on signatures (a lookup computes the asked one once)."""
    if {a.language, b.language} == {"en", "pt"}:
        return "language"
    if a.negated != b.negated:
        return "negation"
    if a.critical != b.critical:
        return "critical"
    if a.roles and b.roles and a.roles != b.roles:  # one-sided: "tell me", "can I find"
        return "roles"
    if set(a.content) != set(b.content):
        return "words"
    if not (_in_order(a.content, b.content) and _in_order(b.content, a.content)):
        return "order"
    return None


def semantic_key_for(*, question: str, scope: CacheScope) -> str:
    """Entries a semantic lookup may consider share this key: same scope, and the same
    negation, critical words and meaning-bearing words (everything `precision_guard`
    compares except order, roles and language, which it checks per candidate)."""
    return _semantic_key(_signature(question), scope)


def _semantic_key(signature: _Signature, scope: CacheScope) -> str:
    key = signature.key
    if not key:
        return ""
    return hashlib.sha256(f"{scope.digest}\n{key}".encode()).hexdigest()


# --- lookup ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheHit:
    entry_id: int
    kind: HitKind
    answer: dict[str, Any]
    cost_saved: Decimal
    similarity: float
    question: str = ""  # the cached question (differs from the asked one on semantic hits)


def cache_lookup(
    *,
    question: str,
    query_vector: QueryVector,
    scope: CacheScope,
    allow_semantic: bool,
    now: datetime | None = None,
) -> CacheHit | None:
    """A non-expired answer for `question` in `scope`: exact first, then semantic.

    `query_vector` may be a callable: it is then only called when a semantic candidate
    exists, so exact hits and most misses never pay for the embedding (which takes
    longer than a whole exact hit). None means exact only. Pass
    `allow_semantic = tier flag and rule decision.semantic`."""
    now = now or timezone.now()
    hit = _exact_lookup(_key(normalize_question(question), scope), now=now)
    if hit is not None or not allow_semantic or query_vector is None:
        return hit
    return _semantic_lookup(question=question, query_vector=query_vector, scope=scope, now=now)


def _payload(entry: CachedAnswer) -> dict[str, Any]:
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


def _warm(entry: CachedAnswer) -> dict[str, Any]:
    """Put the entry in the Django cache until it expires (by the real clock); returns
    its payload."""
    payload = _payload(entry)
    remaining = math.ceil((entry.expires_at - timezone.now()).total_seconds())
    if remaining > 0:
        cache_backend().set(_entry_ck(entry.key), payload, timeout=remaining)
    return payload


def _record_hit(
    *, payload: dict[str, Any], kind: HitKind, similarity: float, now: datetime
) -> bool:
    """Count the hit on its row; False when the row is gone (purged), so it isn't served.

    On PostgreSQL the commit doesn't wait for the WAL flush: these are statistics, and
    an fsync per hit would triple the latency of a cached answer (a crash may lose the
    last few counts, never an answer)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        updated = CachedAnswer.objects.filter(pk=payload["id"]).update(
            hits=F("hits") + 1, last_hit_at=now
        )
        if updated:
            CacheEvent.objects.create(
                kind=kind,
                entry_id=payload["id"],
                rule_id=payload["rule_id"],
                rule_name=payload["rule_name"],
                scope_sets=payload["scope_sets"],
                cost_saved=Decimal(payload["cost"]),
                similarity=similarity,
                created_at=now,
            )
    return bool(updated)


def _hit(payload: dict[str, Any], kind: HitKind, similarity: float) -> CacheHit:
    return CacheHit(
        entry_id=payload["id"],
        kind=kind,
        answer=payload["answer"],
        cost_saved=Decimal(payload["cost"]),
        similarity=similarity,
        question=payload["question"],
    )


def _exact_lookup(key: str, *, now: datetime) -> CacheHit | None:
    payload = cache_backend().get(_entry_ck(key))
    if payload is not None and payload["expires"] > now.timestamp():
        if _record_hit(payload=payload, kind="exact", similarity=1.0, now=now):
            logger.info("answer cache hit", extra={"kind": "exact", "entry": payload["id"]})
            return _hit(payload, "exact", 1.0)
        cache_backend().delete(_entry_ck(key))  # purged (seen by a process with its own locmem)
    entry = CachedAnswer.objects.select_related("rule").filter(key=key, expires_at__gt=now).first()
    if entry is None:
        return None
    payload = _warm(entry)  # a cold cache (restart, eviction, another process stored it)
    if not _record_hit(payload=payload, kind="exact", similarity=1.0, now=now):
        return None
    logger.info("answer cache hit", extra={"kind": "exact", "entry": entry.pk, "source": "db"})
    return _hit(payload, "exact", 1.0)


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _semantic_lookup(
    *, question: str, query_vector: QueryVector, scope: CacheScope, now: datetime
) -> CacheHit | None:
    asked = _signature(question)
    key = _semantic_key(asked, scope)
    if not key:
        return None
    candidates = list(
        CachedAnswer.objects.select_related("rule")
        .filter(semantic_key=key, expires_at__gt=now)
        .order_by("-pk")[:SEMANTIC_CANDIDATES]
    )
    if not candidates:
        return None
    query = _unit(query_vector() if callable(query_vector) else query_vector)
    threshold = semantic_threshold()
    scored = []
    for entry in candidates:
        vector = np.frombuffer(bytes(entry.embedding), dtype=np.float32)
        if vector.shape == query.shape:  # else embedded by another model: not comparable
            scored.append((float(vector @ query), entry))
    scored.sort(key=lambda pair: -pair[0])
    for similarity, entry in scored:
        if similarity < threshold:
            break
        refusal = _refusal(asked, _signature(entry.question))
        if refusal is not None:
            logger.info(
                "semantic cache candidate refused",
                extra={"entry": entry.pk, "similarity": round(similarity, 4), "why": refusal},
            )
            continue
        payload = _payload(entry)
        if _record_hit(payload=payload, kind="semantic", similarity=similarity, now=now):
            logger.info(
                "answer cache hit",
                extra={"kind": "semantic", "entry": entry.pk, "similarity": round(similarity, 4)},
            )
            return _hit(payload, "semantic", similarity)
    return None


# --- store ----------------------------------------------------------------------------------


def cache_store(
    *,
    question: str,
    query_vector: np.ndarray,
    scope: CacheScope,
    answer: dict[str, Any],
    cost: Decimal,
    decision: RuleDecision,
    now: datetime | None = None,
) -> CachedAnswer | None:
    """Keep `answer` for the rule's TTL; None when the rule says never cache.

    A newer answer to the same question (same scope) replaces the older one."""
    if decision.ttl_seconds is None:
        return None
    now = now or timezone.now()
    normalized = normalize_question(question)
    key = _key(normalized, scope)
    entry = CachedAnswer(
        key=key,
        scope_digest=scope.digest,
        question=question.strip(),
        normalized_question=normalized,
        scope_sets=list(scope.set_ids),
        index_versions=scope.index_versions,
        model_family=scope.model_family,
        embedding=_unit(query_vector).tobytes(),
        semantic_enabled=decision.semantic,
        semantic_key=semantic_key_for(question=question, scope=scope) if decision.semantic else "",
        answer=answer,
        cost=cost,
        rule=decision.rule,
        created_at=now,
        expires_at=now + timedelta(seconds=decision.ttl_seconds),
    )
    try:
        with transaction.atomic():
            CachedAnswer.objects.filter(key=key).delete()
            entry.save(force_insert=True)
            CacheEvent.objects.create(
                kind=CacheEventKind.STORE,
                entry=entry,
                rule=decision.rule,
                rule_name=decision.rule.name if decision.rule else "",
                scope_sets=entry.scope_sets,
                created_at=now,
            )
    except IntegrityError:  # a concurrent store of the same question won
        logger.info("answer cache store raced", extra={"key": key[:12]})
        return CachedAnswer.objects.filter(key=key).first()
    _warm(entry)
    logger.info(
        "answer cached",
        extra={
            "entry": entry.pk,
            "rule": decision.rule.name if decision.rule else "(default)",
            "ttl_s": decision.ttl_seconds,
            "semantic": decision.semantic,
            "sets": entry.scope_sets,
            "family": scope.model_family,
        },
    )
    return entry


# --- stampede protection --------------------------------------------------------------------


@contextmanager
def generation_guard(
    *, key: str, wait_s: float = 30, lock_s: float | None = None
) -> Iterator[bool]:
    """Let one caller at a time generate the answer for `key` (from `cache_key_for`), so
    concurrent askers of the same question wait for the first answer and reuse it.

    Yields True once the caller holds the lock, False if `wait_s` passed first. Inside
    the block, look up again before generating: whoever held the lock before has
    usually just stored the answer (if it failed, or its rule says never cache, the
    next caller generates, still one at a time)::

        hit = cache_lookup(...)
        if hit is None:
            with generation_guard(key=cache_key_for(question=q, scope=scope)):
                hit = cache_lookup(...)
                if hit is None:
                    answer = generate(); cache_store(...)

    The lock is a `cache.add` key with a timeout (`lock_s`, default `wait_s`; keep it
    above the slowest generation), so a crashed holder frees it. With Redis it works
    across processes; with locmem only between threads of one process (each process
    then generates once). When the cache backend is unavailable there is no lock:
    it yields False at once and every caller generates."""
    backend = cache_backend()
    lock = _lock_ck(key)
    token = uuid.uuid4().hex
    timeout = math.ceil(lock_s or wait_s)
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while not (held := backend.add(lock, token, timeout=timeout)):
        if held is None:  # no backend, no lock: nobody else can hold it either
            held = False
            break
        if time.monotonic() >= deadline:
            logger.warning("answer generation wait timed out", extra={"key": key[:12]})
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    try:
        yield held
    finally:
        if held and backend.get(lock) == token:
            backend.delete(lock)


# --- purge ----------------------------------------------------------------------------------


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
    cache_backend().delete_many(_entry_ck(row[1]) for row in found)
    logger.info("answer cache purged", extra={"entries": len(pks), "reason": reason})
    return len(pks)


# --- Answer <-> cache payload ---------------------------------------------------------------


def answer_payload(*, answer: Answer) -> dict[str, Any]:
    """What a cached answer keeps: text, sources, mode, provider, model, tokens."""
    data = answer.to_dict()
    return {
        "text": answer.text,
        "mode": str(answer.mode),
        "sources": data["sources"],
        "provider": answer.provider,
        "model": answer.model,
        "tokens_in": answer.tokens_in,
        "tokens_out": answer.tokens_out,
    }


def answer_from_hit(*, hit: CacheHit, request_id: str = "") -> Answer:
    """The reply for a hit: the cached text and sources, mode `cached`, cost 0, and a
    notice saying it came from the cache (quoting the cached question on a semantic hit,
    so the asker can judge it answers theirs)."""
    data = hit.answer
    notice = "This answer comes from the cache."
    if hit.kind == "semantic":
        notice = f'This answer comes from the cache, for the similar question "{hit.question}".'
    return Answer(
        text=data.get("text", ""),
        mode=AnswerMode.CACHED,
        sources=[
            Source(
                number=int(s.get("number", i)),
                title=s.get("title", ""),
                location=s.get("location", ""),
                snippet=s.get("snippet", ""),
                score=float(s.get("score", 0.0)),
                document_id=int(s.get("document_id", 0)),
                link=s.get("link", ""),
            )
            for i, s in enumerate(data.get("sources", []), start=1)
        ],
        provider=data.get("provider", ""),
        model=data.get("model", ""),
        notices=[notice],
        request_id=request_id,
    )
