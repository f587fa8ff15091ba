"""The search `ask()` runs (`document_search_query`): the keyword side also searches the
question's words in the other language."""

from __future__ import annotations

import pytest

from ragengine.ask_types import AnswerMode, Channel
from ragengine.models import Document
from ragengine.services.ask import ask
from ragengine.services.document_answers import document_search_query
from tests.factories import MemberFactory


def test_the_keyword_text_adds_the_other_languages_words_and_keeps_the_question() -> None:
    query = document_search_query(text="Posso trabalhar de casa?", vector=None, set_ids=None)

    assert query.text.startswith("Posso trabalhar de casa?")
    assert {"work", "home"} <= set(query.text.split())
    english = document_search_query(text="How many vacation days?", vector=None, set_ids=None)
    assert "ferias" in english.text.split()


def test_a_question_with_no_known_translation_is_searched_as_asked() -> None:
    query = document_search_query(text="Zyxw qwerty?", vector=None, set_ids=("1",))

    assert query.text == "Zyxw qwerty?"
    assert query.knowledge_sets == ("1",)


@pytest.mark.django_db
def test_a_portuguese_question_is_answered_from_an_english_document(handbook) -> None:
    answer = ask(
        member=MemberFactory(),
        question="Quando o contracheque fica disponível?",
        channel=Channel(platform="cli"),
    )

    assert answer.mode == AnswerMode.EXTRACTIVE, answer.text
    assert "two working days before payday" in answer.text
    sources = [Document.objects.get(pk=s.document_id).source for s in answer.sources]
    assert any("faq-export.jsonl" in source for source in sources)


@pytest.mark.django_db
def test_the_extractive_answer_reads_cosines_on_the_configured_embedders_scale(
    handbook, monkeypatch
) -> None:
    from ragengine.retrieval import registry
    from ragengine.retrieval.similarity_scale import SimilarityScale
    from ragengine.services import document_answers

    lenient = SimilarityScale(
        sentence_floor=0.01, sentence_margin=0.0, weak_relevance=0.0, cache_paraphrase=0.87
    )
    asked: list[str] = []
    received: list[SimilarityScale] = []
    answer_extractively = document_answers.answer_extractively

    def scale_of(name: str) -> SimilarityScale:
        asked.append(name)
        return lenient

    def spy(**kwargs):
        received.append(kwargs["scale"])
        return answer_extractively(**kwargs)

    monkeypatch.setattr(document_answers, "similarity_scale", scale_of)
    monkeypatch.setattr(document_answers, "answer_extractively", spy)
    ask(member=MemberFactory(), question="How many vacation days?", channel=Channel(platform="cli"))

    assert asked == [registry.get_embedder().name]
    assert received == [lenient]
