"""Extractive answers: quote the retrieved sentences that best answer a question.

This is the answer mode that needs no language model: the embedded default and the last
fallback when every provider is down or over budget. It must never invent anything, so it
only quotes sentences (trimmed at most), cites each with the [n] the sources list shows,
says plainly that the answer is extractive, and admits it when nothing relevant was found.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from ragengine.text_analysis import analyze, detect_language, fold_accents, words

logger = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]

FRAMING: Final = MappingProxyType(
    {
        "en": "Here is what the documents say (extractive answer, no AI model was used):",
        "pt": "Isto é o que os documentos dizem (resposta extrativa, sem modelo de IA):",
    }
)
NOT_FOUND: Final = MappingProxyType(
    {
        "en": (
            "I couldn't find this in the documents I have access to. "
            "Try rephrasing, or ask someone who owns this topic."
        ),
        "pt": (
            "Não encontrei isso nos documentos a que tenho acesso. "
            "Tente reformular a pergunta ou pergunte a quem cuida deste assunto."
        ),
    }
)

# Scoring weights. Lexical overlap is the backbone (it is exact and explainable); the
# embedding, when available, catches paraphrases; the retrieval prior only breaks near-ties.
_W_LEXICAL_ONLY: Final = 0.85
_W_PRIOR_ONLY: Final = 0.15
_W_LEXICAL: Final = 0.5
_W_DENSE: Final = 0.35
_W_PRIOR: Final = 0.15
# A sentence sharing no word with the question still counts as evidence when its cosine
# is at least this AND stands this far above the median cosine of all candidates (its
# baseline). The margin matters: the English-only MiniLM gives any two Portuguese sentences
# ~0.4-0.5, so an absolute floor alone would "find" answers to unrelated Portuguese
# questions. Measured on MiniLM: related English paraphrases 0.44+ with a 0.3+ margin,
# unrelated questions below 0.3 (English) or with a margin near 0.1 (Portuguese).
_MIN_SENTENCE_SIMILARITY: Final = 0.35
_MIN_SIMILARITY_MARGIN: Final = 0.2
# Fewer candidates than this give no meaningful median; the baseline is then 0.
_MIN_BASELINE_SENTENCES: Final = 4
# A sentence whose relevance (score without the retrieval prior) is below this fraction
# of the best one's would dilute the answer.
_RELATIVE_CUTOFF: Final = 0.45
# Share of the question's IDF-weighted words a sentence must contain to count as lexical
# evidence on its own. One generic word ("Acme", "company") is not an answer: measured on
# examples/questions.json, 0.2 refuses an unanswerable question that 0.0 answered, with
# no answerable question lost (see docs/PERFORMANCE.md).
_MIN_COVERAGE: Final = 0.2
# IDF over a handful of sentences says little (a word in both of two sentences weighs
# almost nothing), so the coverage floor applies only to pools at least this large.
_MIN_IDF_POOL: Final = 8
# Sentences phrased as questions (FAQ headings) restate the question rather than answer it.
_QUESTION_PENALTY: Final = 0.5
# Weight of a question word that appears only in the heading above a sentence.
_HEADING_CONTEXT: Final = 0.4
_MIN_WORDS: Final = 4
_MAX_SENTENCE_CHARS: Final = 320
# Word-set Jaccard above which two sentences say the same thing. Deliberately lexical and
# high: "Parking is free." and "Parking is not free." must both survive.
_DUPLICATE_JACCARD: Final = 0.8
# Words that phrase a question but name no topic, beyond the analyser's stopwords
# (accent-folded). Left in, "per year" would make a sick-leave sentence look as relevant
# to "how many vacation days per year" as a vacation one.
_QUESTION_FILLER: Final = frozenset(
    {
        "per", "get", "gets", "got", "many", "much", "also", "please", "tell", "know",
        "need", "want", "like", "someone", "anyone", "explain",
        "cada", "sobre", "preciso", "precisa", "quero", "gostaria", "saber", "ter", "tem",
        "tenho", "fazer", "faco", "favor", "alguem", "explique", "quanto", "quanta",
    }
)  # fmt: skip

# --- sentence splitting -------------------------------------------------------------------

# Abbreviations (lower-case, final dot removed) after which a dot does not end a sentence.
_ABBREVIATIONS: Final = frozenset(
    {
        # English
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "inc", "ltd", "co", "corp",
        "dept", "approx", "est", "cf", "al", "ca", "resp",
        # Portuguese
        "sra", "srta", "dra", "profa", "eng", "enga", "arq", "av", "ex", "exmo", "exma",
        "ilmo", "ilma", "ltda", "cia", "depto", "aprox", "obs", "tel", "cel", "sto", "sta",
    }
)  # fmt: skip
# Abbreviations that only precede a number ("No. 5", "art. 7", "p. 12").
_NUMBER_ABBREVIATIONS: Final = frozenset(
    {
        "no", "nº", "n", "nr", "num", "art", "arts", "p", "pp", "pg", "pag", "pág", "págs",
        "cap", "ch", "fig", "sec", "vol", "item", "min", "max", "máx", "jan", "feb", "fev",
        "mar", "apr", "abr", "jun", "jul", "aug", "ago", "sep", "set", "oct", "out", "nov",
        "dec", "dez",
    }
)  # fmt: skip
# Dotted abbreviations and acronyms: e.g, i.e, p.ex, U.S, n.º (final dot already removed).
_DOTTED: Final = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")
_BOUNDARY: Final = re.compile(r"([.!?…]+)[\"'”\u2019»)\]]*\s+")
_BULLET: Final = re.compile(r"(?:[-*+•◦▪‣\u2013—]|\d{1,3}[.)]|[a-z][.)]|[A-Z]\)|\(\w{1,3}\))\s+")
_INLINE_BULLET: Final = re.compile(r"\s+[•◦▪‣]\s+")
_HEADING: Final = re.compile(r"#{1,6}\s+")
_TABLE_ROW: Final = re.compile(r"\|.*\|")
_OPENERS: Final = "([{\"'“\u2018«"
_CLOSERS: Final = ")]}\"'”\u2019» "
_TERMINAL: Final = ".!?…:;,"
_MAX_TITLE_WORDS: Final = 8


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of `text`, in order, whitespace-normalised.

    Handbook chunks mix prose, bullets, numbered steps, headings and tables, and each of
    those is a separate statement a user may need quoted, so list items and headings are
    split off before prose is split at sentence ends. Dots of abbreviations ("e.g.",
    "Sr.", "Dr.", "art. 5") and decimals ("2.5") do not end a sentence.
    """
    return [sentence for sentence, _ in _segments(text)]


def _segments(text: str) -> list[tuple[str, bool]]:
    """(sentence, is_heading) pairs; headings are kept apart because they give the
    sentences below them their topic but rarely answer anything themselves."""
    segments: list[tuple[str, bool]] = []
    for block, is_heading in _blocks(text):
        if is_heading:
            segments.append((block, True))
            continue
        for part in _INLINE_BULLET.split(block):
            segments.extend((sentence, False) for sentence in _split_prose(part))
    return segments


def _blocks(text: str) -> list[tuple[str, bool]]:
    """(block, is_heading) for paragraphs, list items, headings and table rows, with
    wrapped lines re-joined."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    blocks: list[tuple[str, bool]] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append((" ".join(current), False))
            current.clear()

    for index, line in enumerate(lines):
        if not line:
            flush()
            continue
        if heading := _HEADING.match(line):
            flush()
            blocks.append((line[heading.end() :].strip("#: "), True))
            continue
        if _TABLE_ROW.fullmatch(line):
            flush()
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            blocks.append((" | ".join(cell for cell in cells if cell), False))
            continue
        if bullet := _BULLET.match(line):
            flush()
            current.append(line[bullet.end() :])
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not current and _looks_like_title(line, following):
            blocks.append((line, True))
            continue
        current.append(line)
    flush()
    return [(block, heading) for block, heading in blocks if any(ch.isalnum() for ch in block)]


def _looks_like_title(line: str, following: str) -> bool:
    """A short unpunctuated line followed by a capitalised one is a heading, not the
    start of a wrapped sentence (which would then read "Vacation policy Employees get")."""
    return (
        bool(following)
        and line[-1] not in _TERMINAL
        and len(line.split()) <= _MAX_TITLE_WORDS
        and (line[0].isupper() or line[0].isdigit())
        and (following[0].isupper() or following[0].isdigit() or bool(_BULLET.match(following)))
    )


def _split_prose(block: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(block):
        if _ends_sentence(block, match, start):
            sentences.append(block[start : match.end()].strip())
            start = match.end()
    tail = block[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if any(ch.isalnum() for ch in s)]


def _ends_sentence(block: str, match: re.Match[str], start: int) -> bool:
    following = block[match.end() : match.end() + 1]
    if not following:
        return True
    if following.islower():
        # "e.g. the", "aprox. dois": a real sentence would start with a capital.
        return False
    if match.group(1) != ".":
        return True  # "?", "!", "…", "..."
    before = block[start : match.start()].split()
    if not before:
        return True
    token = before[-1].lstrip(_OPENERS)
    lowered = token.lower()
    if lowered in _ABBREVIATIONS or _DOTTED.fullmatch(token):
        return False
    if len(token) == 1 and token.isalpha() and token.isupper():
        return False  # an initial: "J. Silva"
    if following.isdigit() and lowered in _NUMBER_ABBREVIATIONS:
        return False
    # "Steps: 1. Open the portal": an inline list number, not a sentence ending in "1".
    return not (token.isdigit() and len(token) <= 3 and (len(before) == 1 or before[-2][-1] == ":"))


# --- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passage:
    """One numbered source; `number` is the [n] the user sees (1-based, ranking order)."""

    number: int
    text: str
    score: float
    similarity: float


@dataclass(frozen=True, slots=True)
class ExtractiveAnswer:
    """The reply text, the source numbers it quotes, its language ("en"/"pt"), and
    whether anything relevant was found (False means the text is the not-found message)."""

    text: str
    used_numbers: tuple[int, ...]
    language: str
    found: bool


@dataclass(frozen=True, slots=True)
class _Sentence:
    rank: int  # position of the passage in ranking order (0 = best)
    number: int
    order: int  # position of the sentence inside its passage
    text: str
    is_heading: bool
    terms: frozenset[str]
    context: frozenset[str]  # terms of the heading the sentence sits under
    language: str  # of its passage: "en", "pt" or "mixed"


@dataclass(frozen=True, slots=True)
class _Candidate:
    sentence: _Sentence
    normalized: str  # lower-cased, accent-folded words joined by spaces
    lexical: float
    semantic_match: bool  # close to the question by embedding, whatever its words
    relevance: float  # the score without the retrieval prior
    score: float
    min_coverage: float  # lexical share needed to count as evidence by itself

    @property
    def relevant(self) -> bool:
        return self.lexical >= self.min_coverage or self.semantic_match

    @property
    def fragment(self) -> bool:
        return self.sentence.is_heading or len(words(self.sentence.text)) < _MIN_WORDS


def answer_extractively(
    *,
    question: str,
    passages: Sequence[Passage],
    max_sentences: int = 3,
    embed: Embed | None = None,
    query_vector: np.ndarray | None = None,
    max_embedded: int | None = None,
) -> ExtractiveAnswer:
    """Quote the up to `max_sentences` sentences of `passages` that best answer `question`.

    Sentences are scored by IDF-weighted overlap of analysed terms with the question (a
    heading's terms count at a discount for the sentences under it), the cosine of their
    embedding to `query_vector` (when `embed` and `query_vector` are both given) and their
    passage's retrieval rank as a prior. When no sentence shares a term with the question
    and none is semantically close, the answer is the not-found message, not a guess.

    `max_embedded` bounds how many sentences are embedded (the most promising by words and
    rank): embedding every sentence of five passages costs ~200 ms on two cores, most of
    it on sentences that could never win. The others count as semantically neutral.
    """
    if max_sentences < 1:
        raise ValueError("max_sentences must be at least 1")
    ranked = sorted(passages, key=lambda p: p.number)
    language = _answer_language(question, ranked)
    sentences = _sentences(ranked)
    if not sentences:
        return _not_found(language)

    groups = _query_groups(question)
    lexical = _lexical_scores(groups, sentences)
    priors = _priors(ranked)
    chosen = _to_embed(sentences, lexical, priors, max_embedded)
    cosines = _dense_scores([sentences[i].text for i in chosen], embed, query_vector)
    if cosines is not None:
        baseline = _similarity_baseline(cosines, [sentences[i] for i in chosen], language)
        full = np.full(len(sentences), np.nan, dtype=np.float32)
        full[chosen] = cosines
        cosines = full
    min_coverage = _MIN_COVERAGE if len(sentences) >= _MIN_IDF_POOL else 1e-9
    candidates = []
    for index, sentence in enumerate(sentences):
        semantic_match = False
        if cosines is None:
            relevance = _W_LEXICAL_ONLY * lexical[index]
            score = relevance + _W_PRIOR_ONLY * priors[sentence.rank]
        else:
            cosine = float(cosines[index])
            above = 0.0 if np.isnan(cosine) else cosine - baseline
            semantic_match = not np.isnan(cosine) and (
                float(cosines[index]) >= _MIN_SENTENCE_SIMILARITY
                and above >= _MIN_SIMILARITY_MARGIN
            )
            relevance = _W_LEXICAL * lexical[index] + _W_DENSE * max(above, 0.0)
            score = relevance + _W_PRIOR * priors[sentence.rank]
        if sentence.text.rstrip(_CLOSERS).endswith("?"):
            relevance *= _QUESTION_PENALTY
            score *= _QUESTION_PENALTY
        candidates.append(
            _Candidate(
                sentence=sentence,
                normalized=" ".join(fold_accents(w) for w in words(sentence.text)),
                lexical=lexical[index],
                semantic_match=semantic_match,
                relevance=relevance,
                score=score,
                min_coverage=min_coverage,
            )
        )

    chosen = _select(candidates, max_sentences)
    if not chosen:
        logger.info("extractive: no relevant sentence among %d candidates", len(candidates))
        return _not_found(language)
    query_terms = frozenset(term for group in groups for term in group)
    used = tuple(sorted({c.sentence.number for c in chosen}))
    logger.debug(
        "extractive: %d candidates, quoted %d sentences from sources %s",
        len(candidates),
        len(chosen),
        used,
    )
    return ExtractiveAnswer(
        text=_render(chosen, language, query_terms),
        used_numbers=used,
        language=language,
        found=True,
    )


def _sentences(ranked: Sequence[Passage]) -> list[_Sentence]:
    out: list[_Sentence] = []
    for rank, passage in enumerate(ranked):
        language = detect_language(words(passage.text), passage.text)
        context: frozenset[str] = frozenset()
        for order, (text, is_heading) in enumerate(_segments(passage.text)):
            terms = frozenset(analyze(text))
            out.append(
                _Sentence(
                    rank=rank,
                    number=passage.number,
                    order=order,
                    text=text,
                    is_heading=is_heading,
                    terms=terms,
                    context=frozenset() if is_heading else context,
                    language=language,
                )
            )
            if is_heading:
                context = terms
    return out


def _answer_language(question: str, ranked: Sequence[Passage]) -> str:
    """The question's language; for thin evidence the top passage's, then English."""
    language = detect_language(words(question), question)
    if language == "mixed" and ranked:
        top = ranked[0].text
        language = detect_language(words(top), top)
    return language if language in ("en", "pt") else "en"


def _not_found(language: str) -> ExtractiveAnswer:
    return ExtractiveAnswer(
        text=NOT_FOUND[language], used_numbers=(), language=language, found=False
    )


def _query_groups(question: str) -> list[frozenset[str]]:
    """One group of alternative stems per content word of the question.

    `analyze` keeps both the English and the Portuguese stem of a word when the language
    is unclear; grouping them keeps such a word from counting twice in the coverage.
    """
    query_terms = set(analyze(question))
    groups: list[frozenset[str]] = []
    filler: list[frozenset[str]] = []
    for word in dict.fromkeys(words(question)):
        group = frozenset(analyze(word)) & query_terms
        target = filler if fold_accents(word) in _QUESTION_FILLER else groups
        if group and group not in target:
            target.append(group)
    return groups or filler


def _lexical_scores(
    groups: Sequence[frozenset[str]], sentences: Sequence[_Sentence]
) -> list[float]:
    """IDF-weighted share of the question's words a sentence contains, in [0, 1].

    IDF is computed over the candidate sentences, so the word that distinguishes them
    ("vacation" rather than "days") decides which one answers the question. Words found
    only in the sentence's heading count at a discount: under "Expense reimbursement",
    "Keep the receipt." is about reimbursement even though it does not say so.
    """
    if not groups:
        return [0.0] * len(sentences)
    total = len(sentences)
    own = [[not group.isdisjoint(s.terms) for group in groups] for s in sentences]
    weights = []
    for g in range(len(groups)):
        df = sum(1 for row in own if row[g])
        weights.append(math.log(1.0 + (total - df + 0.5) / (df + 0.5)))
    norm = sum(weights)
    scores = []
    for sentence, row in zip(sentences, own, strict=True):
        score = 0.0
        for group, weight, hit in zip(groups, weights, row, strict=True):
            if hit:
                score += weight
            elif not group.isdisjoint(sentence.context):
                score += _HEADING_CONTEXT * weight
        scores.append(score / norm)
    return scores


def _to_embed(
    sentences: Sequence[_Sentence],
    lexical: Sequence[float],
    priors: Sequence[float],
    limit: int | None,
) -> list[int]:
    """Indices of the sentences worth embedding, in their original order."""
    if limit is None or len(sentences) <= limit:
        return list(range(len(sentences)))
    promise = sorted(
        range(len(sentences)),
        key=lambda i: (-(lexical[i] + 0.5 * priors[sentences[i].rank]), i),
    )
    return sorted(promise[:limit])


def _dense_scores(
    sentences: Sequence[str], embed: Embed | None, query_vector: np.ndarray | None
) -> np.ndarray | None:
    """Cosine of each sentence to the query, or None without an embedder.

    An embedding failure degrades to lexical scoring instead of failing: this answerer is
    the last fallback and must still answer when the embedder is unavailable.
    """
    if embed is None or query_vector is None:
        return None
    try:
        vectors = np.asarray(embed(sentences), dtype=np.float32)
        query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if vectors.shape != (len(sentences), query.shape[0]):
            raise ValueError(f"embedding shape {vectors.shape} does not match the query")
    except Exception:
        logger.warning(
            "extractive: sentence embedding failed; using lexical scores only", exc_info=True
        )
        return None
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    query = query / max(float(np.linalg.norm(query)), 1e-12)
    return vectors @ query


def _similarity_baseline(
    cosines: np.ndarray | None, sentences: Sequence[_Sentence], language: str
) -> float:
    """What an arbitrary sentence in the question's language scores against it.

    Only the part of a cosine above it is signal: an embedder that does not know the
    language (or a topic-wide passage) lifts every sentence alike. Sentences in the other
    language are left out, since they would pull the baseline down and make every
    same-language sentence look close.
    """
    if cosines is None:
        return 0.0
    same = [
        float(c)
        for c, s in zip(cosines, sentences, strict=True)
        if s.language in (language, "mixed")
    ]
    population = same if len(same) >= _MIN_BASELINE_SENTENCES else [float(c) for c in cosines]
    if len(population) < _MIN_BASELINE_SENTENCES:
        return 0.0
    return max(float(np.median(population)), 0.0)


def _priors(ranked: Sequence[Passage]) -> list[float]:
    """Retrieval prior per passage in [0, 1]: half rank, half score relative to the best.

    Rank works for any fusion; the score ratio adds how far apart the passages really are.
    """
    best = max(p.score for p in ranked)
    priors = []
    for rank, passage in enumerate(ranked):
        by_rank = 1.0 / (1.0 + rank)
        by_score = max(passage.score, 0.0) / best if best > 0 else by_rank
        priors.append(0.5 * by_rank + 0.5 * by_score)
    return priors


def _select(candidates: Sequence[_Candidate], max_sentences: int) -> list[_Candidate]:
    """Best relevant sentences: full sentences first, near-duplicates and weak ones dropped."""
    ranked = sorted(candidates, key=lambda c: (-c.score, c.sentence.rank, c.sentence.order))
    relevant = [c for c in ranked if c.relevant]
    pool = [c for c in relevant if not c.fragment] or relevant
    if not pool:
        return []
    floor = max(c.relevance for c in pool) * _RELATIVE_CUTOFF
    chosen: list[_Candidate] = []
    for candidate in pool:
        if len(chosen) >= max_sentences:
            break
        if candidate.relevance >= floor and not any(
            _near_duplicate(candidate.normalized, other.normalized) for other in chosen
        ):
            chosen.append(candidate)
    return chosen


def _near_duplicate(a: str, b: str) -> bool:
    """Overlapping chunks repeat sentences, whole or cut at the chunk boundary; quoting
    one twice wastes the user's time."""
    if a in b or b in a:
        return True
    words_a, words_b = set(a.split()), set(b.split())
    return len(words_a & words_b) / max(len(words_a | words_b), 1) >= _DUPLICATE_JACCARD


def _render(chosen: Sequence[_Candidate], language: str, query_terms: frozenset[str]) -> str:
    """Bullets grouped by source, the source with the best sentence first, and each
    source's sentences in document order so consecutive ones still read naturally."""
    best_by_source: dict[int, float] = {}
    for c in chosen:
        number = c.sentence.number
        best_by_source[number] = max(best_by_source.get(number, c.score), c.score)
    ordered = sorted(
        chosen,
        key=lambda c: (-best_by_source[c.sentence.number], c.sentence.number, c.sentence.order),
    )
    lines = [f"- {_trim(c.sentence.text, query_terms)} [{c.sentence.number}]" for c in ordered]
    return FRAMING[language] + "\n\n" + "\n".join(lines)


def _trim(sentence: str, query_terms: frozenset[str], limit: int = _MAX_SENTENCE_CHARS) -> str:
    """Cut a very long sentence at word boundaries, keeping the part that matches the
    question in view (a table flattened into one "sentence" may match near its end)."""
    if len(sentence) <= limit:
        return sentence
    anchor = next(
        (
            m.start()
            for m in re.finditer(r"\w+", sentence)
            if not query_terms.isdisjoint(analyze(m.group()))
        ),
        0,
    )
    start = 0
    if anchor > limit * 0.6:
        start = sentence.rfind(" ", 0, anchor - limit // 3) + 1
    window = sentence[start : start + limit]
    if start + limit < len(sentence):
        cut = window.rfind(" ")
        window = window[:cut] if cut > 0 else window
    window = window.strip().rstrip(",;:")
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + len(window) < len(sentence.rstrip()) else ""
    return f"{prefix}{window}{suffix}"
