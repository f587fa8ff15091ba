"""Question types (what kind of answer is wanted) and the kinds of answer a unit holds."""

from __future__ import annotations

import pytest

from ragengine.composition.question_types import evidence_types, question_types


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many vacation days do I get per year?", {"number"}),
        ("How long are API keys valid?", {"duration"}),
        ("Quantas requisições por minuto um cliente padrão pode fazer?", {"number"}),
        ("Quanto tempo dura o token de acesso?", {"number", "duration"}),
        ("Por quanto tempo os logs ficam disponíveis?", {"number", "duration"}),
        ("When will version v1 of the API be switched off?", {"time", "number"}),
        ("Em que dias posso implantar em produção?", {"time"}),
        ("Who is the People Partner in São Paulo?", {"name"}),
        ("Qual algoritmo assina os tokens JWT?", {"name"}),
        ("Posso limpar o cache inteiro sozinho?", {"yes_no"}),
        ("Should I retry after a 409 conflict?", {"yes_no"}),
        ("How do I get the meeting room screen working?", {"how_to"}),
        ("Como implanto uma nova versão do Orbita?", {"how_to", "number"}),
        ("Tell me about the code of conduct.", set()),
        # Opens like a yes/no question, asks for a quantity answered by a schedule.
        ("Posso trabalhar de casa quantos dias por semana?", {"number", "duration", "time"}),
        ("How many days a week can I work from home?", {"number", "duration", "time"}),
        ("Can I work from home on Fridays?", {"yes_no"}),
    ],
)
def test_question_types(question: str, expected: set[str]) -> None:
    assert question_types(question) == frozenset(expected)


def test_evidence_types_of_units() -> None:
    assert evidence_types("ACCESS_TOKEN_EXPIRE_MINUTES = 30", kind="code") >= {
        "number",
        "duration",
        "name",
        "how_to",
    }
    assert "duration" in evidence_types("Os logs ficam disponíveis por 14 dias.", kind="prose")
    assert "time" in evidence_types("Deploys happen on Tuesdays, 10h to 16h.", kind="prose")
    assert "yes_no" in evidence_types("Upgrades de classe não são reembolsados.", kind="prose")
    assert "name" in evidence_types("Your People Partner is Rafael Souza.", kind="prose")
    assert evidence_types("The token is short-lived on purpose.", kind="prose") == frozenset()


def test_the_focus_is_the_word_asked_about_with_its_translations() -> None:
    from ragengine.composition.question_types import question_focus

    (algorithm,) = question_focus("Qual algoritmo assina os tokens JWT?")
    assert {"algoritm", "algorithm"} <= algorithm
    # "versão" names no topic of its own; the word after "do" does.
    (python,) = question_focus("Qual versão do Python o Orbita exige?")
    assert "python" in python
    # "what time", "qual é o valor": vague words and filler are not a topic.
    assert question_focus("What time does my first day start?") == []
    assert question_focus("Which DNS server does it use?", ignore={"dns"}) == []
    assert question_focus("Does Acme have a football team?") == []


def test_topics_are_what_a_yes_no_question_asks_to_exist() -> None:
    from ragengine.composition.question_types import question_topics

    (gym, discount) = question_topics("Is there a gym discount for employees?")
    assert "gym" in gym and "discount" in discount
    assert any("crech" in stems for stems in question_topics("A empresa oferece auxílio creche?"))
    assert question_topics("Does the Orbita API support GraphQL?") == [frozenset({"graphql"})]
    assert question_topics("How many vacation days do I get?") == []


def test_action_is_the_verb_of_a_how_to_question() -> None:
    from ragengine.composition.question_types import question_action

    assert question_action("How do I rotate the VPN key?") == [frozenset({"rotat"})]
    assert question_action("How do I get the meeting room screen working?") == []  # vague
    assert question_action("Which port does the VPN use?") == []
