"""Extractive answers: quote the retrieved sentences that best answer a question.

This is the answer mode that needs no language model: the embedded default and the last
fallback when every provider is down or over budget. It must never invent anything, so it
only quotes sentences (trimmed at most), cites each with the [n] the sources list shows,
says plainly that the answer is extractive, and admits it when nothing relevant was found.

What it quotes are evidence units, not only prose sentences: a line of code or
configuration (with the keys it sits under), a table row (labelled by the table's header)
and a list item are each one unit, because in technical documents the fact is often the
line `ALGORITHM = "HS256"`, not the sentence around it. The question's type (a number, a
duration or time, a name, yes/no, how-to steps) favours units that carry that kind of
answer, and one precise quote is preferred to several loose ones: a further quote must be
nearly as relevant, and even more so when it comes from another passage.

One module on purpose, though longer than most: scoring, selection and the refusal checks
read the same private unit and candidate records and are tuned against each other (a
threshold in one is measured with the others in place, docs/PERFORMANCE.md); the pure
question-side rules live in question_types.py.
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

from ragengine.composition.bilingual import translations
from ragengine.composition.evidence import Unit, split_sentences, units
from ragengine.composition.question_types import (
    evidence_types,
    question_action,
    question_focus,
    question_topics,
    question_types,
)
from ragengine.retrieval.similarity_scale import DEFAULT_SCALE, SimilarityScale
from ragengine.text_analysis import analyze, detect_language, fold_accents, word_tokens, words

logger = logging.getLogger(__name__)

__all__ = [
    "FRAMING",
    "NOT_FOUND",
    "ExtractiveAnswer",
    "Passage",
    "answer_extractively",
    "split_sentences",
]

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
# is at least the embedder's floor AND stands its margin above the median cosine of all
# candidates (its baseline): retrieval/similarity_scale.py, measured per embedder. The
# margin matters: the English-only MiniLM gives any two Portuguese sentences ~0.4-0.5, so
# an absolute floor alone would "find" answers to unrelated Portuguese questions.
# Fewer candidates than this give no meaningful median; the baseline is then 0.
_MIN_BASELINE_SENTENCES: Final = 4
# One precise quote beats several loose ones: a further quote must reach this share of
# the best quote's relevance (score without the retrieval prior). From the same passage
# it continues the answer; from another passage (often another document) it must nearly
# answer on its own, which is what keeps an unrelated sentence from being appended.
_FOLLOW_SAME_PASSAGE: Final = 0.6
_FOLLOW_OTHER_PASSAGE: Final = 0.85
_FOLLOW_STEP: Final = 0.35
# Question-type fit (question_types.py): a unit that carries the kind of value asked for
# (a number, a duration, a name ...) weighs _TYPE_BONUS more; a bare number for a
# duration or time question _TYPE_PARTIAL more; for number/duration/time questions, a
# unit carrying none of it weighs _TYPE_MISS less. Never decides *whether* something
# relevant was found, only which relevant unit is quoted.
_TYPE_BONUS: Final = 0.3
_TYPE_PARTIAL: Final = 0.15
_TYPE_MISS: Final = 0.25
_STRICT_TYPES: Final = frozenset({"number", "duration", "time"})
# A code line or table row whose key (what it sets, what the row is about) holds a word
# of the question defines the thing asked about: `ALGORITHM = "HS256"` for "which
# algorithm", the "Banco PostgreSQL" backup row for "database backups".
_KEY_BONUS: Final = 0.5
# "Which algorithm ...", "Qual porta ...": the word the question asks about
# (question_types.question_focus). A unit that never mentions it (nor its translation) is
# scaled by _FOCUS_MISS, or _FOCUS_CONTEXT when only its heading, header or keys do: it
# may be about the same topic, but it is not the answer.
_FOCUS_MISS: Final = 0.5
_FOCUS_CONTEXT: Final = 0.75
# Whether a passage mentions the focus at all is checked on stems that are prefixes of
# each other (at least this long): Portuguese plurals stem differently ("nivel"/"niv").
_FOCUS_PREFIX: Final = 3
# A question word no passage mentions (nor its translation) is a topic the passages may
# not cover. Then the answer must rest on more than the embedder's weak relevance
# (similarity_scale.py), or on a unit close to the question by embedding.
# Names (acronyms, CamelCase, capitalised words inside the question) are not paraphrased:
# passages that never say "Kubernetes" or "GraphQL" cannot say which version or whether.
_NAME_WORD: Final = re.compile(r"^(?:[A-Z]{2,}[a-z]?|[A-Za-z][a-z]+[A-Z]\w*)$")
# "Who is the leader of ...", "Quem é o líder do ...": a role question.
_ROLE_QUESTION: Final = re.compile(r"^\s*(?:who|quem)\s", re.IGNORECASE)
# "Which X ...", "Qual/Quais X ...": the question names the kind of thing it wants.
_WHICH_QUESTION: Final = re.compile(r"^\s*(?:which|quais|qual)\s", re.IGNORECASE)
_SENTENCE_END: Final = re.compile(r"[.!?]\s+")
# Capitalised in English without being names.
_NOT_NAMES: Final = frozenset(
    {
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december", "i", "i'm", "i've", "i'd", "i'll",
    }
)  # fmt: skip
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
# Sentences ending in ":" introduce a list, table or code block; the block is the answer.
_LEAD_IN_PENALTY: Final = 0.7
# Weight of a question word that appears only in the heading above a sentence.
_HEADING_CONTEXT: Final = 0.4
_MIN_WORDS: Final = 4
_MAX_SENTENCE_CHARS: Final = 320
_CLOSERS: Final = ")]}\"'”\u2019» "
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
        "which", "what", "use", "uses", "using", "set", "sets", "happens", "happen",
        "really", "show", "qual", "quais", "usar", "uso", "devo", "deve", "posso", "pode",
        "acontece", "funciona", "funcionam", "work", "works",
    }
)  # fmt: skip

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
    """An evidence unit (a sentence, list item, code line or table row) of a passage."""

    rank: int  # position of the passage in ranking order (0 = best)
    number: int
    order: int  # position of the unit inside its passage
    unit: Unit
    terms: frozenset[str]
    context: frozenset[str]  # terms of its heading, table header or configuration keys
    language: str  # of its passage: "en", "pt" or "mixed"
    evidence: frozenset[str]  # answer types it can supply (question_types.py)
    key_terms: frozenset[str]  # terms of its key (code lines and table rows)

    @property
    def text(self) -> str:
        return self.unit.text

    @property
    def is_heading(self) -> bool:
        return self.unit.is_heading


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
        """Headings, keys and very short prose: quoted only when nothing else matches.
        Code lines and table rows are short by nature and are never fragments."""
        if self.sentence.is_heading:
            return True
        return self.sentence.unit.kind == "prose" and len(words(self.sentence.text)) < _MIN_WORDS


def answer_extractively(
    *,
    question: str,
    passages: Sequence[Passage],
    max_sentences: int = 3,
    embed: Embed | None = None,
    query_vector: np.ndarray | None = None,
    max_embedded: int | None = None,
    scale: SimilarityScale = DEFAULT_SCALE,
) -> ExtractiveAnswer:
    """Quote the up to `max_sentences` sentences of `passages` that best answer `question`.

    Evidence units (evidence.py: sentences, list items, code lines, table rows) are
    scored by IDF-weighted overlap of analysed terms with the question, each question
    word also matching its Portuguese/English translation (bilingual.py); a heading's,
    table header's or configuration key's terms count at a discount for the units under
    it. Then the cosine of their embedding to `query_vector` (when `embed` and
    `query_vector` are both given), how well they carry the kind of answer the question
    asks for (question_types.py), and their passage's retrieval rank as a prior. When no
    unit shares a term with the question and none is semantically close, the answer is
    the not-found message, not a guess.

    `max_embedded` bounds how many sentences are embedded at question time (the most
    promising by words and rank): embedding every sentence of five passages costs ~200 ms
    on two cores, most of it on sentences that could never win. The others count as
    semantically neutral. Units whose vectors were stored at ingest (an `embed` with a
    `has_vector(text)` method, stored_sentences.py) cost a lookup and are always compared:
    the answer often sits in a sentence that shares no word with the question ("Report
    every incident ... within 1 hour" for "Who do I tell, and how fast?").

    `scale` holds the cosine thresholds measured for the embedder behind `query_vector`.
    """
    if max_sentences < 1:
        raise ValueError("max_sentences must be at least 1")
    ranked = sorted(passages, key=lambda p: p.number)
    language = _answer_language(question, ranked)
    sentences = _sentences(ranked)
    if not sentences:
        return _not_found(language)

    groups = _query_groups(question)
    focus_words = question_focus(question, ignore=_QUESTION_FILLER)
    focus = frozenset(term for word in focus_words for term in word)
    wanted = question_types(question)
    lexical = _lexical_scores(groups, sentences)
    weights = _idf_weights(groups, sentences) if groups else []
    priors = _priors(ranked)
    chosen = _to_embed(
        sentences, lexical, priors, max_embedded, stored=getattr(embed, "has_vector", None)
    )
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
                float(cosines[index]) >= scale.sentence_floor and above >= scale.sentence_margin
            )
            relevance = _W_LEXICAL * lexical[index] + _W_DENSE * max(above, 0.0)
            score = relevance + _W_PRIOR * priors[sentence.rank]
        shape = _shape(sentence, groups=groups, weights=weights, wanted=wanted, focus=focus)
        relevance *= shape
        score *= shape
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

    chosen = _select(candidates, max_sentences, steps="how_to" in wanted, groups=groups)
    if "how_to" in wanted:
        chosen = _with_continuation(chosen, candidates, max_sentences)
        chosen = _from_list_start(chosen, candidates, max_sentences)
    if chosen and _focus_unseen(focus_words, sentences, candidates):
        logger.info("extractive: no passage mentions what the question asks about")
        chosen = []
    if chosen and _topic_unseen(
        question,
        sentences,
        best=chosen[0],
        weak=scale.weak_relevance if cosines is not None else None,
    ):
        logger.info("extractive: the passages never mention a topic of the question")
        chosen = []
    if chosen and (reason := _narrower_than_passages(question, focus_words, sentences, chosen[0])):
        logger.info("extractive: %s", reason)
        chosen = []
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
        heading: frozenset[str] = frozenset()
        for order, unit in enumerate(units(passage.text)):
            terms = frozenset(analyze(unit.text))
            own_context = frozenset(analyze(unit.context)) if unit.context else frozenset()
            out.append(
                _Sentence(
                    rank=rank,
                    number=passage.number,
                    order=order,
                    unit=unit,
                    terms=terms,
                    context=own_context if unit.kind == "heading" else heading | own_context,
                    language=language,
                    evidence=evidence_types(unit.text, kind=unit.kind),
                    key_terms=frozenset(analyze(unit.key)) if unit.key else frozenset(),
                )
            )
            if unit.kind == "heading":
                heading = terms
    return out


def _mentions(sentences: Sequence[_Sentence]) -> Callable[[str], bool]:
    """Whether any unit (its words, heading, header or keys) mentions a stem: equal, or
    prefixes of each other at least `_FOCUS_PREFIX` long (Portuguese plurals stem
    differently: "nivel"/"niv")."""
    seen = {t for s in sentences for t in s.terms | s.key_terms | s.context}

    def mentioned(stem: str) -> bool:
        return stem in seen or any(
            min(len(stem), len(term)) >= _FOCUS_PREFIX
            and (stem.startswith(term) or term.startswith(stem))
            for term in seen
        )

    return mentioned


def _topic_unseen(
    question: str,
    sentences: Sequence[_Sentence],
    *,
    best: _Candidate,
    weak: float | None,
) -> bool:
    """True when the passages never mention something the question hinges on, so what
    was chosen answers a neighbouring question: a name ("Which *Kubernetes* version"),
    what a yes/no question asks to exist ("Is there a *gym* discount") or the action of
    a how-to ("How do I *rotate* the key"), or any content word when the best unit is
    less relevant than `weak` and not close by embedding (`weak` is the embedder's
    scale; None without sentence embeddings, where relevance has another scale)."""
    mentioned = _mentions(sentences)
    weak_best = weak is not None and best.relevance < weak

    def unseen(group: frozenset[str]) -> bool:
        return bool(group) and not any(mentioned(stem) for stem in group)

    content = set(analyze(question))
    for token in dict.fromkeys(_inner_tokens(question)):
        if token.lower() in _NOT_NAMES:
            continue
        acronym = bool(_NAME_WORD.match(token))
        if acronym or (token[:1].isupper() and token[1:].islower()):
            group = frozenset(analyze(token)) & content
            # A capitalised word may be a brand used as a common noun ("a corrida de
            # Uber"): it decides alone only when the best unit is weak as well.
            if (acronym or weak_best) and unseen(
                group.union(*(analyze(o) for o in translations(token)))
            ):
                logger.info("extractive: the name %r is in no passage", token)
                return True
    if any(unseen(t) for t in question_topics(question, ignore=_QUESTION_FILLER)):
        return True
    # No unit close by embedding excuses an unseen how-to verb: once every stored unit
    # is compared, some unit about the same object is always close ("connect to the VPN"
    # for "rotate the VPN key"). Measured on the labelled set (docs/PERFORMANCE.md): the
    # excuse answered one paraphrased verb ("check" a webhook's signature) and one
    # unanswerable question, with USE-multilingual v3 and with MiniLM alike.
    if any(unseen(a) for a in question_action(question, ignore=_QUESTION_FILLER)):
        return True
    return (
        weak_best
        and not best.semantic_match
        and any(unseen(group) for group in _query_groups(question))
    )


def _inner_tokens(question: str) -> list[str]:
    """The question's words but the first of each sentence, which is capitalised
    whatever it is ("I think I clicked a phishing link. *Who* do I tell?")."""
    return [
        token for sentence in _SENTENCE_END.split(question) for token in word_tokens(sentence)[1:]
    ]


def _focus_unseen(
    focus_words: Sequence[frozenset[str]],
    sentences: Sequence[_Sentence],
    candidates: Sequence[_Candidate],
) -> bool:
    """True when no unit mentions a word the question asks about (not even in its
    heading, header or keys) and none is close by embedding: "Which Kubernetes version"
    over passages that never say Kubernetes is unanswerable from them, however well
    "version" matches."""
    if not focus_words or any(c.semantic_match for c in candidates):
        return False
    seen = {t for s in sentences for t in s.terms | s.key_terms | s.context}

    def mentioned(stem: str) -> bool:
        return any(
            min(len(stem), len(term)) >= _FOCUS_PREFIX
            and (stem.startswith(term) or term.startswith(stem))
            for term in seen
        )

    return any(word and not any(mentioned(stem) for stem in word) for word in focus_words)


def _narrower_than_passages(
    question: str,
    focus_words: Sequence[frozenset[str]],
    sentences: Sequence[_Sentence],
    best: _Candidate,
) -> str:
    """Why the passages answer a broader or neighbouring question than `question` (''
    when they do not). Unlike the checks above, a unit close by embedding does not
    excuse these: "which database stores the metrics" and "the database receives 120
    connections" embed close together, and that closeness is the confusion.

    - A role and what it is the role of never in one unit: "the *leader* of the
      Platform *team*" over passages that name a team's responsibilities and, elsewhere,
      an on-call leader.
    - "Which X ..." answered by a unit that shares nothing with the question but X: "Qual
      banco de dados guarda as métricas de longo prazo?" answered by a sentence about the
      database's connections, which says nothing of metrics. Only a prose sentence:
      a code line, table row or list item that names X with its value is the answer
      (`replicas: 6` for "Quantas réplicas ..."). Only questions of that form: "How
      many days of holiday ..." answered by "25 vacation days" shares only "days" with
      it, and is the answer.
    """
    if len(focus_words) == 2 and _ROLE_QUESTION.search(question):
        role, of = focus_words
        if not any(_holds(s, role) and _holds(s, of) for s in sentences):
            return "no unit names the role together with what it is the role of"
    if focus_words and best.sentence.unit.kind == "prose" and _WHICH_QUESTION.search(question):
        focus = frozenset().union(*focus_words)
        own = best.sentence.terms | best.sentence.key_terms | best.sentence.context
        others = [g for g in _query_groups(question) if g.isdisjoint(focus)]
        if others and all(g.isdisjoint(own) for g in others):
            return "the best unit shares nothing with the question but what it asks about"
    return ""


def _holds(sentence: _Sentence, group: frozenset[str]) -> bool:
    """Whether a unit (its words, keys or heading) mentions a word of `group`."""
    return not group.isdisjoint(sentence.terms | sentence.key_terms | sentence.context)


def _shape(
    sentence: _Sentence,
    *,
    groups: Sequence[frozenset[str]],
    weights: Sequence[float],
    wanted: frozenset[str],
    focus: frozenset[str],
) -> float:
    """How much a unit's score is scaled for what it is rather than what words it shares:
    the kind of answer it carries, a key that names the thing asked about, whether it
    mentions that thing at all, and whether it is a question or a lead-in itself."""
    shape = _type_fit(wanted, sentence.evidence)
    # Full bonus once the key holds half of what the question asks (by IDF weight): a key
    # that only repeats a common word ("Plano de saúde") earns little.
    shape *= 1.0 + _KEY_BONUS * min(1.0, 2.0 * _key_share(groups, weights, sentence.key_terms))
    if focus and focus.isdisjoint(sentence.terms | sentence.key_terms):
        shape *= _FOCUS_CONTEXT if not focus.isdisjoint(sentence.context) else _FOCUS_MISS
    if sentence.text.rstrip(_CLOSERS).endswith("?"):
        shape *= _QUESTION_PENALTY
    elif sentence.unit.kind == "prose" and sentence.text.endswith(":"):
        # "Se a tela não funcionar:" announces the answer that follows it.
        shape *= _LEAD_IN_PENALTY
    return shape


def _type_fit(wanted: frozenset[str], evidence: frozenset[str]) -> float:
    """How much a unit's score is scaled for carrying (or lacking) the answer type."""
    if not wanted:
        return 1.0
    if wanted & evidence:
        return 1.0 + _TYPE_BONUS
    if wanted & {"duration", "time"} and "number" in evidence:
        return 1.0 + _TYPE_PARTIAL
    if wanted & _STRICT_TYPES:
        return 1.0 - _TYPE_MISS
    if "how_to" in wanted:
        return 1.0 - _TYPE_MISS / 2  # an explanation may do, a step is better
    return 1.0


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
        if group:
            # The same word in the other language is the same evidence (bilingual.py).
            group = group.union(*(analyze(other) for other in translations(word)))
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
    own = [[not group.isdisjoint(s.terms) for group in groups] for s in sentences]
    weights = _idf_weights(groups, sentences)
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


def _idf_weights(groups: Sequence[frozenset[str]], sentences: Sequence[_Sentence]) -> list[float]:
    """BM25-style IDF of each question word over the candidate units."""
    total = len(sentences)
    weights = []
    for group in groups:
        df = sum(1 for s in sentences if not group.isdisjoint(s.terms))
        weights.append(math.log(1.0 + (total - df + 0.5) / (df + 0.5)))
    return weights


def _key_share(
    groups: Sequence[frozenset[str]], weights: Sequence[float], key_terms: frozenset[str]
) -> float:
    """Share of the question's IDF weight that a unit's key holds."""
    if not key_terms or not groups:
        return 0.0
    held = sum(w for g, w in zip(groups, weights, strict=True) if not g.isdisjoint(key_terms))
    return held / max(sum(weights), 1e-9)


def _to_embed(
    sentences: Sequence[_Sentence],
    lexical: Sequence[float],
    priors: Sequence[float],
    limit: int | None,
    *,
    stored: Callable[[str], bool] | None = None,
) -> list[int]:
    """Indices of the sentences worth comparing with the question, in their original
    order: every one whose vector is `stored`, and up to `limit` others to embed."""
    if limit is None or len(sentences) <= limit:
        return list(range(len(sentences)))
    free = [i for i, s in enumerate(sentences) if stored is not None and stored(s.text)]
    free_set = set(free)
    promise = sorted(
        (i for i in range(len(sentences)) if i not in free_set),
        key=lambda i: (-(lexical[i] + 0.5 * priors[sentences[i].rank]), i),
    )
    return sorted(free + promise[:limit])


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


def _select(
    candidates: Sequence[_Candidate],
    max_sentences: int,
    *,
    steps: bool = False,
    groups: Sequence[frozenset[str]] = (),
) -> list[_Candidate]:
    """The best relevant unit, then only units that nearly match it: full units first,
    near-duplicates dropped, and a stricter bar for units of another passage, unless they
    say something about a word of the question (`groups`) no quote so far covers ("How
    does the meal allowance work *on vacation* and *when working remotely*?" is answered
    by two sentences, each about one of them). For a how-to question (`steps`), the list
    items around the best one are the answer too."""
    ranked = sorted(candidates, key=lambda c: (-c.score, c.sentence.rank, c.sentence.order))
    relevant = [c for c in ranked if c.relevant]
    pool = [c for c in relevant if not c.fragment] or relevant
    if not pool:
        return []
    best = pool[0]
    chosen = [best]
    covered = {g for g in groups if _holds(best.sentence, g)}
    for candidate in pool[1:]:
        if len(chosen) >= max_sentences:
            break
        same = candidate.sentence.number in {c.sentence.number for c in chosen}
        adds = {g for g in groups if not g.isdisjoint(candidate.sentence.terms)} - covered
        if not same and not adds:
            continue  # another passage's quote must say something the answer lacks
        share = _FOLLOW_SAME_PASSAGE if same or adds else _FOLLOW_OTHER_PASSAGE
        if steps and same and candidate.sentence.unit.kind == best.sentence.unit.kind == "item":
            share = _FOLLOW_STEP
        if candidate.relevance >= share * best.relevance and not any(
            _near_duplicate(candidate.normalized, other.normalized) for other in chosen
        ):
            chosen.append(candidate)
            covered |= {g for g in groups if _holds(candidate.sentence, g)}
    return chosen


def _from_list_start(
    chosen: list[_Candidate], candidates: Sequence[_Candidate], max_sentences: int
) -> list[_Candidate]:
    """For a how-to question whose best quote is a list item, the other quotes are the
    first items of that same list, in document order: a procedure or checklist starts
    at its first step, and the item that repeats the question's words ("Acme pays for
    the first-day lunch") is rarely the only one asked for ("Collect your access
    badge")."""
    if not chosen or chosen[0].sentence.unit.kind != "item":
        return chosen
    best = chosen[0].sentence
    mates = {
        c.sentence.order: c
        for c in candidates
        if c.sentence.number == best.number and c.sentence.rank == best.rank
    }
    start = best.order
    while start - 1 in mates and mates[start - 1].sentence.unit.kind == "item":
        start -= 1
    out = [chosen[0]]
    order = start
    while len(out) < max_sentences and order in mates and mates[order].sentence.unit.kind == "item":
        item = mates[order]
        if item is not chosen[0] and not any(
            _near_duplicate(item.normalized, c.normalized) for c in out
        ):
            out.append(item)
        order += 1
    out += [c for c in chosen[1:] if c not in out][: max_sentences - len(out)]
    return out


def _with_continuation(
    chosen: list[_Candidate], candidates: Sequence[_Candidate], max_sentences: int
) -> list[_Candidate]:
    """For a how-to question, the prose sentence right after the best one (same passage)
    is quoted with it: an explanation runs over consecutive sentences ("Orbita sends a
    POST to your webhook URL ... Each delivery is signed with HMAC-SHA256 ...") and the
    second often holds the step asked for without repeating the question's words."""
    if not chosen or len(chosen) >= max_sentences or chosen[0].sentence.unit.kind != "prose":
        return chosen
    best = chosen[0].sentence
    following = next(
        (
            c
            for c in candidates
            if c.sentence.number == best.number
            and c.sentence.rank == best.rank
            and c.sentence.order == best.order + 1
        ),
        None,
    )
    if (
        following is None
        or following in chosen
        or following.sentence.unit.kind != "prose"
        or following.fragment
        or following.sentence.text.rstrip(_CLOSERS).endswith(("?", ":"))
        or any(_near_duplicate(following.normalized, c.normalized) for c in chosen)
    ):
        return chosen
    return [*chosen, following]


def _near_duplicate(a: str, b: str) -> bool:
    """Overlapping chunks repeat sentences, whole or cut at the chunk boundary; quoting
    one twice wastes the user's time."""
    if a in b or b in a:
        return True
    words_a, words_b = set(a.split()), set(b.split())
    return len(words_a & words_b) / max(len(words_a | words_b), 1) >= _DUPLICATE_JACCARD


def _render(chosen: Sequence[_Candidate], language: str, query_terms: frozenset[str]) -> str:
    """The best quote first (it is the answer), then the others grouped by source, the
    source with the best quote first, each source's quotes in document order so
    consecutive ones still read naturally."""
    best_by_source: dict[int, float] = {}
    for c in chosen:
        number = c.sentence.number
        best_by_source[number] = max(best_by_source.get(number, c.score), c.score)
    # The quote that answers comes first; what supports it follows in reading order.
    ordered = chosen[:1] + sorted(
        chosen[1:],
        key=lambda c: (-best_by_source[c.sentence.number], c.sentence.number, c.sentence.order),
    )
    lines = [
        f"- {_trim(c.sentence.unit.quote, query_terms)} [{c.sentence.number}]" for c in ordered
    ]
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
