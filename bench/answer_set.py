"""The labelled answer set (examples/questions.json) and how an answer is scored on it.

Shared by `bench_answers.py` and the answer-quality test, so the test guards exactly the
figures the benchmark reports. Pure functions, no Django: an answer is its text plus the
file name of each cited source, in citation order.

Per question: is the expected file among the top-5 hits, is an expected phrase quoted
(any of `expected_phrases`, case and spacing aside), was the question refused, and how
many quoted lines come from another file without containing an expected phrase (the
"unrelated sentence appended after the right one" of the issue).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CORPORA = ("handbook", "tech-manual")
TOP_K = 5
# A quoted line of an extractive answer: "- text [n]" (the [n] may be several markers).
_QUOTE = re.compile(r"^- (?P<text>.+?)(?P<markers>(?:\s*\[\d+\])+)\s*$")
_MARKER = re.compile(r"\[(\d+)\]")

TARGETS: Mapping[str, float] = {
    "fact_quoted": 0.90,
    "fact_quoted_per_category": 0.85,
    "source_top5": 0.95,
    "unanswerable_refused": 0.90,
    "answerable_refused_max": 0.05,
    "cross_language_top5": 0.85,
}


def load_set(path: Path | None = None) -> list[dict[str, Any]]:
    return json.loads((path or EXAMPLES / "questions.json").read_text(encoding="utf-8"))


def corpus_paths() -> list[Path]:
    return [EXAMPLES / name for name in CORPORA]


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def quotes(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """(quoted text, source numbers) of every "- … [n]" line of an answer."""
    out = []
    for line in text.splitlines():
        match = _QUOTE.match(line.strip())
        if match:
            numbers = tuple(int(n) for n in _MARKER.findall(match["markers"]))
            out.append((match["text"], numbers))
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """One question's figures; None where a figure does not apply."""

    question: str
    category: str
    cross_language: bool
    must_refuse: bool
    top5: bool | None  # expected file among the top-5 hits (answerable only)
    fact_retrieved: bool | None  # an expected phrase is in a retrieved passage (the ceiling)
    refused: bool
    fact_quoted: bool | None  # answerable only
    quoted_lines: int
    unrelated_lines: int  # lines from another file that hold no expected phrase

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def score(
    item: Mapping[str, Any],
    *,
    hit_files: Sequence[str],
    hit_texts: Sequence[str] = (),
    answer_text: str,
    cited_files: Sequence[str],
    refused: bool,
) -> Outcome:
    """Score one answer. `hit_files` are the retrieved chunks' file names in rank order;
    `cited_files[i]` is the file of source number i + 1 of the answer; `hit_texts` are the
    passages the answer was built from (whether the fact was there to quote at all)."""
    phrases = [_norm(p) for p in item.get("expected_phrases") or [] if p]
    expected = item.get("expected_source")
    must_refuse = bool(item.get("must_refuse", expected is None))
    lines = quotes(answer_text) if not refused else []
    unrelated = 0
    for text, numbers in lines:
        files = {cited_files[n - 1] for n in numbers if 0 < n <= len(cited_files)}
        if must_refuse or (expected not in files and not any(p in _norm(text) for p in phrases)):
            unrelated += 1
    body = _norm(answer_text)
    return Outcome(
        question=item["question"],
        category=item.get("category") or ("unanswerable" if must_refuse else "prose"),
        cross_language=bool(item.get("cross_language")),
        must_refuse=must_refuse,
        top5=None if must_refuse else expected in list(dict.fromkeys(hit_files))[:TOP_K],
        fact_retrieved=(
            None if must_refuse else any(p in _norm(t) for p in phrases for t in hit_texts)
        ),
        refused=refused,
        fact_quoted=None if must_refuse else (not refused and any(p in body for p in phrases)),
        quoted_lines=len(lines),
        unrelated_lines=unrelated,
    )


def _share(values: Iterable[bool | None]) -> dict[str, Any]:
    counted = [bool(v) for v in values if v is not None]
    return {
        "count": sum(counted),
        "of": len(counted),
        "share": round(sum(counted) / len(counted), 4) if counted else None,
    }


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Figures overall, per category, and for same- / cross-language questions."""

    def figures(group: Sequence[Outcome]) -> dict[str, Any]:
        answerable = [o for o in group if not o.must_refuse]
        unanswerable = [o for o in group if o.must_refuse]
        answered = [o for o in answerable if not o.refused]
        return {
            "questions": len(group),
            "source_top5": _share(o.top5 for o in answerable),
            "fact_retrieved": _share(o.fact_retrieved for o in answerable),
            "fact_quoted": _share(o.fact_quoted for o in answerable),
            "answerable_refused": _share(o.refused for o in answerable),
            "unanswerable_refused": _share(o.refused for o in unanswerable),
            "unrelated_lines_per_answer": (
                round(sum(o.unrelated_lines for o in answered) / len(answered), 3)
                if answered
                else None
            ),
            "quoted_lines_per_answer": (
                round(sum(o.quoted_lines for o in answered) / len(answered), 3)
                if answered
                else None
            ),
        }

    categories = sorted({o.category for o in outcomes})
    return {
        "overall": figures(outcomes),
        "by_category": {c: figures([o for o in outcomes if o.category == c]) for c in categories},
        "same_language": figures([o for o in outcomes if not o.cross_language]),
        "cross_language": figures([o for o in outcomes if o.cross_language]),
    }
