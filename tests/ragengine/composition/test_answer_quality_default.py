"""Answer quality with the default embedder (USE-multilingual v3) on the labelled set,
cross-language questions included: the levels of docs/PERFORMANCE.md section 19, less a
small margin. (test_answer_quality.py guards the answerer with MiniLM.)"""

from __future__ import annotations

import pytest

from bench.answer_set import load_set, summarize
from bench.bench_answers import answer_questions, ingest_examples
from ragengine.composition.extractive import answer_extractively
from ragengine.retrieval import registry
from tests.conftest import MemoEmbedder


@pytest.mark.django_db
def test_the_default_embedder_answers_across_languages(settings, monkeypatch) -> None:
    settings.ARANDU_EMBEDDER, settings.ARANDU_EMBEDDER_MODEL = "local", ""
    default = MemoEmbedder(registry.get_embedder())
    assert default.name == "local:universal-sentence-encoder-multilingual-v3"
    monkeypatch.setattr(registry, "get_embedder", lambda: default)
    knowledge_set, report, _ = ingest_examples("examples")
    assert report.count("failed") == 0
    outcomes, _, _ = answer_questions(
        embedder=default,
        knowledge_set_id=str(knowledge_set.pk),
        answerers={"extractive": answer_extractively},
        questions=load_set(),
    )
    figures = summarize(outcomes["extractive"])
    overall, cross = figures["overall"], figures["cross_language"]

    assert cross["source_top5"]["share"] >= 0.90  # MiniLM: 0.70
    assert cross["fact_quoted"]["share"] >= 0.75  # MiniLM: 0.50
    assert overall["source_top5"]["share"] >= 0.97
    assert overall["fact_quoted"]["share"] >= 0.85
    assert figures["same_language"]["fact_quoted"]["share"] >= 0.85
    for category in ("code", "table"):
        assert figures["by_category"][category]["fact_quoted"]["share"] >= 0.88, category
    assert overall["answerable_refused"]["share"] <= 0.06
    assert overall["unanswerable_refused"]["share"] >= 0.80
