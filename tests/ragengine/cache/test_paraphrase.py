"""Semantic cache precision on labelled question pairs, with the real local embedders.

The pairs are bench/paraphrase_set.py's (bench/bench_cache_threshold.py prints where each
embedder puts them): PARAPHRASES must be served from each other's cache entry;
NEAR_MISSES must never be (negations, other entities, other numbers or dates, the answer
in another language, narrower questions). Each embedder's shipped threshold
(`cache_threshold`) must be one that gives zero false hits on this set with the most
true hits (the guard on top). No embedder alone can separate them: MiniLM puts "Posso
levar meu cachorro ao escritório?" / "...meu filho..." at 0.89, above most true
paraphrases, and role reversals ("Can managers approve vacation for employees?" / "Can
employees approve vacation for managers?") score 0.99 with MiniLM and USE alike, so no
threshold alone is safe: that is why `paraphrase_mismatch` exists.
"""

from __future__ import annotations

import pytest

from bench.paraphrase_set import (
    NEAR_MISSES,
    PARAPHRASES,
    best_thresholds,
    score_pairs,
    served,
)
from ragengine.cache import (
    CacheScope,
    paraphrase_mismatch,
    semantic_key_for,
)
from ragengine.composition.labels import question_language
from ragengine.retrieval.similarity_scale import cache_threshold


@pytest.fixture(scope="module", params=["minilm", "use"])
def scored(request, _session_embedder):
    """The embedder's name and (similarity, guard passes) per pair, for both lists."""
    if request.param == "minilm":
        embedder = _session_embedder
    else:
        from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

        embedder = UseMultilingualEmbedder()
    return embedder.name, score_pairs(embedder, PARAPHRASES), score_pairs(embedder, NEAR_MISSES)


def test_the_labelled_set_is_big_enough_to_mean_something():
    assert len(PARAPHRASES) >= 40 and len(NEAR_MISSES) >= 60
    assert len(set(PARAPHRASES)) == len(PARAPHRASES)
    assert len(set(NEAR_MISSES)) == len(NEAR_MISSES)
    portuguese = [p for p in PARAPHRASES if question_language(p[0]) == "pt"]
    assert len(portuguese) >= 15


def test_shipped_threshold_has_zero_false_hits_and_the_most_true_hits(scored):
    name, positives, negatives = scored
    shipped = cache_threshold(name)
    best, most = best_thresholds(positives, negatives, guard=True)

    assert served(negatives, shipped) == 0
    assert min(best) <= shipped <= max(best)
    assert served(positives, shipped) == most


MINILM = "local:all-MiniLM-L6-v2-onnx-int8"
USE = "local:universal-sentence-encoder-multilingual-v3"


def test_the_embedders_need_different_thresholds(scored):
    """Why the threshold belongs to the embedder: the other one's is not among the best
    (USE-multilingual at MiniLM's 0.87 serves wrong answers; MiniLM at USE's loses hits)."""
    name, positives, negatives = scored
    other = cache_threshold(MINILM if name == USE else USE)
    best, most = best_thresholds(positives, negatives, guard=True)

    assert cache_threshold(name) != other
    assert other not in best
    assert served(negatives, other) > 0 or served(positives, other) < most


def test_the_guard_buys_recall_a_threshold_alone_cannot(scored):
    _, positives, negatives = scored
    _, with_guard = best_thresholds(positives, negatives, guard=True)
    _, without_guard = best_thresholds(positives, negatives, guard=False)

    assert without_guard == 0  # role reversals score 0.99: no cosine threshold is safe
    assert with_guard >= len(PARAPHRASES) // 3


def test_no_near_miss_is_served_at_the_shipped_threshold(scored):
    name, _, negatives = scored
    wrong = [
        (pair, round(cosine, 3))
        for pair, (cosine, ok) in zip(NEAR_MISSES, negatives, strict=True)
        if ok and cosine >= cache_threshold(name)
    ]
    assert wrong == []


@pytest.mark.parametrize("a, b", PARAPHRASES + NEAR_MISSES)
def test_the_guard_refuses_exactly_the_pairs_answered_in_two_languages(a, b):
    """A cached answer is in its question's language: the guard's language check and
    the one that picks the answer's language must agree."""
    two_languages = question_language(a) != question_language(b)
    assert (paraphrase_mismatch(question=a, candidate=b) == "language") == two_languages


def test_every_pair_the_guard_accepts_shares_a_semantic_key():
    """Semantic candidates are looked up by this key: a pair the guard would accept but
    that had different keys would be a hit silently lost."""
    scope = CacheScope(set_ids=(1,), versions=(0,), model_family="f")
    accepted = [
        (a, b)
        for a, b in PARAPHRASES + NEAR_MISSES
        if paraphrase_mismatch(question=a, candidate=b) is None
    ]
    assert len(accepted) >= 15
    for a, b in accepted:
        assert semantic_key_for(question=a, scope=scope) == semantic_key_for(
            question=b, scope=scope
        )


@pytest.mark.parametrize(
    "a, b, reason",
    [
        ("Can I expense taxis?", "Can I expense flights?", "words"),
        ("Is parking free?", "Is parking free for visitors?", "words"),
        ("Is parking free?", "Is parking not free?", "negation"),
        ("Posso trabalhar de casa?", "Não posso trabalhar de casa?", "negation"),
        ("Quantos dias tenho no primeiro ano?", "Quantos dias tenho no ano?", "critical"),
        ("Holiday schedule for 2024?", "Holiday schedule for 2025?", "critical"),
        ("Can I take vacation in May?", "Can I take vacation in June?", "critical"),
        ("Do I have to pay for lunch?", "Do I pay for lunch?", "critical"),
        ("Who should I ask about payroll?", "Who should ask me about payroll?", "roles"),
        ("Can managers approve leave for staff?", "Can staff approve leave for managers?", "order"),
        ("How many vacation days do I get?", "Quantos dias de férias eu tenho?", "language"),
        ("Dress code?", "Qual o dress code?", "language"),  # answered in English / Portuguese
        ("Dress code?", "What is the dress code?", None),  # both answered in English
        ("Can I expense taxis?", "can i expense a TAXI", None),
        ("May I work from home?", "Can I work from home?", None),
        ("Where's the printer?", "Where is the printer?", None),
        ("Tell me about the leave policy", "What is the leave policy?", None),
        ("Quais são os benefícios?", "Qual é o benefício?", None),
    ],
)
def test_guard_reasons(a, b, reason):
    assert paraphrase_mismatch(question=a, candidate=b) == reason
    assert paraphrase_mismatch(question=b, candidate=a) == reason
