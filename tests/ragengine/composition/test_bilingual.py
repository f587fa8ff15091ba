from __future__ import annotations

from ragengine.composition.bilingual import translations


def test_portuguese_words_get_english_translations_and_back() -> None:
    assert "password" in translations("senha")
    assert "senha" in translations("password")
    assert "vacation" in translations("Férias")  # case and accents do not matter
    assert "ferias" in translations("vacation")


def test_inflected_english_words_find_their_entry() -> None:
    assert "viagem" in translations("travelling")
    assert "dias" in translations("days")


def test_irregular_forms_the_stemmer_does_not_join() -> None:
    assert {"loss", "lost"} <= set(translations("lose"))
    assert "second" in translations("twice")


def test_unknown_words_have_no_translation() -> None:
    assert translations("kubernetes") == ()
    assert translations("") == ()


def test_expand_query_appends_the_other_language_words() -> None:
    from ragengine.composition.bilingual import expand_query

    assert expand_query("Posso trabalhar de casa quantos dias por semana?") == (
        "Posso trabalhar de casa quantos dias por semana? work home days week"
    )
    assert expand_query("Kubernetes cluster") == "Kubernetes cluster"
