from ragengine.text_analysis import analyze, detect_language, fold_accents, words


def test_words_are_lowercased_and_keep_inner_apostrophes():
    assert words("Don't STOP, café-bar 2026!") == ["don't", "stop", "café", "bar", "2026"]


def test_language_is_detected_from_stopwords_and_accents():
    assert detect_language(words("How do I ask for the days off?")) == "en"
    text = "Como eu peço as minhas férias no sistema?"
    assert detect_language(words(text), text) == "pt"
    assert detect_language(words("vacation days")) == "mixed"


def test_portuguese_and_english_inflections_meet_on_the_same_stem():
    assert set(analyze("férias")) & set(analyze("ferias"))
    assert set(analyze("As despesas de viagem")) & set(analyze("despesa"))
    assert set(analyze("The expenses were reimbursed")) & set(analyze("expense reimbursement"))


def test_stopwords_are_dropped_but_a_stopword_only_question_keeps_terms():
    assert "the" not in analyze("the vacation policy")
    assert analyze("what is it") != []


def test_fold_accents():
    assert fold_accents("Ação Férias") == "Acao Ferias"
