"""Labels in the question's language."""

from __future__ import annotations

from ragengine.composition.labels import answer_labels, question_language


def test_portuguese_questions_get_portuguese_labels() -> None:
    language = question_language("Posso trabalhar de casa quantos dias por semana?")

    assert language == "pt"
    assert answer_labels(language) == {"sources": "Fontes", "notes": "Notas"}


def test_english_and_unclear_questions_get_english_labels() -> None:
    assert question_language("How many vacation days do I get?") == "en"
    assert question_language("VPN?") == "en"  # too little to tell
    assert answer_labels("fr")["sources"] == "Sources"
