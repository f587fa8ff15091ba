"""Evaluation metrics as pure functions: deterministic, hand-checkable, never NaN.

A metric that does not apply to a case (recall of an unanswerable question, citation
precision of an answer that cites nothing) is `None`, not 0 and not NaN: aggregates then
say over how many cases they were computed (`Aggregate.n`), so "0.8 over 30 of 40 cases"
is never mistaken for "0.8 over 40".

Retrieval metrics take the ranked document ids an answer was built from (duplicates —
several chunks of one document — count once, at their best rank) and the expected
documents, either as a set (binary relevance) or as a mapping id → gain (graded).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ragengine.text_analysis import fold_accents

Relevance = Mapping[Hashable, float] | Iterable[Hashable]


def _gains(relevant: Relevance) -> dict[Hashable, float]:
    if isinstance(relevant, Mapping):
        return {doc: float(gain) for doc, gain in relevant.items() if float(gain) > 0}
    return dict.fromkeys(relevant, 1.0)


def _top(ranked: Sequence[Hashable], k: int) -> list[Hashable]:
    """The first `k` distinct documents in rank order."""
    if k < 1:
        raise ValueError("k must be at least 1.")
    return list(dict.fromkeys(ranked))[:k]


def hit_at_k(ranked: Sequence[Hashable], relevant: Relevance, k: int) -> float | None:
    """1.0 when any expected document is in the top k, else 0.0; None without any."""
    gains = _gains(relevant)
    if not gains:
        return None
    return 1.0 if any(doc in gains for doc in _top(ranked, k)) else 0.0


def reciprocal_rank_at_k(ranked: Sequence[Hashable], relevant: Relevance, k: int) -> float | None:
    """1 / rank of the first expected document within the top k (0.0 when none is)."""
    gains = _gains(relevant)
    if not gains:
        return None
    for rank, doc in enumerate(_top(ranked, k), start=1):
        if doc in gains:
            return 1.0 / rank
    return 0.0


def precision_at_k(ranked: Sequence[Hashable], relevant: Relevance, k: int) -> float | None:
    """Expected documents among the top k, over k."""
    gains = _gains(relevant)
    if not gains:
        return None
    return sum(1 for doc in _top(ranked, k) if doc in gains) / k


def recall_at_k(ranked: Sequence[Hashable], relevant: Relevance, k: int) -> float | None:
    """Share of the expected documents found in the top k."""
    gains = _gains(relevant)
    if not gains:
        return None
    return sum(1 for doc in _top(ranked, k) if doc in gains) / len(gains)


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Relevance, k: int) -> float | None:
    """Normalised discounted cumulative gain with exponential gain (2^g - 1) / log2(rank+1).

    Binary relevance is gain 1 for every expected document."""
    gains = _gains(relevant)
    if not gains:
        return None

    def dcg(values: Iterable[float]) -> float:
        return sum((2**g - 1) / math.log2(rank + 1) for rank, g in enumerate(values, start=1))

    actual = dcg(gains.get(doc, 0.0) for doc in _top(ranked, k))
    ideal = dcg(sorted(gains.values(), reverse=True)[:k])
    return actual / ideal


# --- answers --------------------------------------------------------------------------------

_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_ARTICLES = frozenset(["a", "an", "the", "o", "a", "os", "as", "um", "uma", "uns", "umas"])


def normalize_text(text: str) -> str:
    """Case, accents, punctuation and spacing folded, for phrase matching."""
    folded = fold_accents(text or "").casefold()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", folded)).strip()


@dataclass(frozen=True, slots=True)
class FactCheck:
    """Which expected facts an answer states. Each fact is a group of alternative phrases
    (any one of them counts): ["25 working days", "25 days"]."""

    found: tuple[str, ...]
    missed: tuple[str, ...]

    @property
    def recall(self) -> float | None:
        total = len(self.found) + len(self.missed)
        return len(self.found) / total if total else None


def fact_check(answer: str, facts: Sequence[Sequence[str]]) -> FactCheck:
    """Each group is found when any of its phrases occurs in the answer as whole words,
    ignoring case, accents and punctuation; groups are reported by their first phrase."""
    text = f" {normalize_text(answer)} "
    found: list[str] = []
    missed: list[str] = []
    for group in facts:
        phrases = [p for p in (normalize_text(p) for p in group) if p]
        if not phrases:
            continue
        label = next(p for p in group if normalize_text(p))
        (found if any(f" {p} " in text for p in phrases) else missed).append(label)
    return FactCheck(found=tuple(found), missed=tuple(missed))


def citation_precision(cited: Iterable[Hashable], expected: Iterable[Hashable]) -> float | None:
    """Share of the cited documents that are expected ones; None when nothing is cited or
    nothing is expected (an unanswerable question has no right citation to compare)."""
    cited_set, expected_set = set(cited), set(expected)
    if not cited_set or not expected_set:
        return None
    return len(cited_set & expected_set) / len(cited_set)


def refusal_correct(*, refused: bool, must_refuse: bool) -> bool:
    """Refused when it must, answered when it can."""
    return refused == must_refuse


def token_f1(prediction: str, reference: str) -> float | None:
    """SQuAD-style token F1 (articles dropped in English and Portuguese); None without a
    reference answer."""
    ref = [t for t in normalize_text(reference).split() if t not in _ARTICLES]
    if not ref:
        return None
    pred = [t for t in normalize_text(prediction).split() if t not in _ARTICLES]
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# --- aggregates -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A mean over the cases where the metric applied; `value` is None when none did."""

    value: float | None
    n: int
    total: int


def mean_of(values: Iterable[float | None]) -> Aggregate:
    items = list(values)
    applied = [float(v) for v in items if v is not None]
    value = sum(applied) / len(applied) if applied else None
    return Aggregate(value=value, n=len(applied), total=len(items))


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (as
    numpy's default); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100.")
    data = sorted(float(v) for v in values)
    if not data:
        return None
    position = (len(data) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


# --- comparisons ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    metric: str
    before: float | None
    after: float | None
    verdict: str  # improved | regressed | unchanged | not comparable


def compare_metric(
    *,
    metric: str,
    before: float | None,
    after: float | None,
    threshold: float,
    higher_is_better: bool = True,
) -> Change:
    """Improved / regressed when the change exceeds `threshold` in the metric's good or bad
    direction, unchanged otherwise; not comparable when either side is missing."""
    if before is None or after is None:
        return Change(metric, before, after, "not comparable")
    delta = (after - before) if higher_is_better else (before - after)
    if delta > threshold:
        verdict = "improved"
    elif delta < -threshold:
        verdict = "regressed"
    else:
        verdict = "unchanged"
    return Change(metric, before, after, verdict)


@dataclass(frozen=True, slots=True)
class Drift:
    """Two-sample Kolmogorov–Smirnov test of a distribution (e.g. latencies) against a
    baseline's. `drifted` only when both samples are big enough to tell."""

    statistic: float | None
    p_value: float | None
    drifted: bool
    reason: str = ""


def ks_drift(
    baseline: Sequence[float], current: Sequence[float], *, alpha: float = 0.05, min_size: int = 5
) -> Drift:
    if len(baseline) < min_size or len(current) < min_size:
        return Drift(None, None, False, f"needs at least {min_size} values on each side to compare")
    from scipy.stats import ks_2samp  # imported on use: scipy is heavy for a web process

    result = ks_2samp(list(baseline), list(current))
    statistic, p_value = float(result.statistic), float(result.pvalue)
    return Drift(statistic, p_value, p_value < alpha)
