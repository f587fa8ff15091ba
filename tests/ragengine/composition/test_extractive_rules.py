"""Rules of the extractive answerer for questions narrower than the passages
(`_narrower_than_passages`), how-to answers that continue into the next sentence
(`_with_continuation`) and checklists quoted from their first step (`_from_list_start`):
each with a case it fires on and a neighbouring case it must leave alone."""

from __future__ import annotations

from ragengine.composition.extractive import NOT_FOUND, Passage, answer_extractively
from ragengine.composition.question_types import question_focus


def passages(*texts: str) -> list[Passage]:
    return [
        Passage(number=n, text=text, score=1.0 / n, similarity=0.5)
        for n, text in enumerate(texts, start=1)
    ]


# --- a role and what it is the role of, never in one unit ----------------------------------


def test_a_role_question_asks_about_the_role_and_what_it_belongs_to() -> None:
    leader, team = question_focus("Quem é o líder do time de Plataforma?")
    assert "lider" in leader
    assert "team" in team  # "time" is a team here, not "what time"
    (partner,) = question_focus("Who is the People Partner in São Paulo?")
    assert "peopl" in partner


def test_role_and_team_mentioned_only_apart_is_refused() -> None:
    answer = answer_extractively(
        question="Quem é o líder do time de Plataforma?",
        passages=passages(
            "Responsável pelo guia: time de Plataforma (plataforma@acme.example).",
            "Fora da janela, só entram correções urgentes aprovadas pelo líder de plantão.",
        ),
    )

    assert not answer.found
    assert answer.text == NOT_FOUND["pt"]


def test_role_named_with_its_team_is_answered() -> None:
    answer = answer_extractively(
        question="Who is the leader of the platform team?",
        passages=passages(
            "Ana Lima is the platform team's leader since 2024.",
            "Hotfixes need the approval of the on-call leader.",
        ),
    )

    assert answer.found
    assert "Ana Lima" in answer.text


def test_role_question_without_a_complement_is_not_held_to_it() -> None:
    answer = answer_extractively(
        question="Who is the People Partner in São Paulo?",
        passages=passages("In São Paulo, your People Partner is Rafael Souza."),
    )

    assert answer.found
    assert "Rafael Souza" in answer.text


# --- "which X" answered by a sentence that shares nothing but X ---------------------------


def test_which_x_answered_by_a_sentence_only_about_x_is_refused() -> None:
    answer = answer_extractively(
        question="Which database stores the long-term metrics?",
        passages=passages(
            "With six instances in production, the database receives up to 120 connections.",
            "Deploys happen on Tuesdays and Thursdays.",
        ),
    )

    assert not answer.found


def test_which_x_answered_by_a_sentence_about_the_rest_of_the_question_is_kept() -> None:
    answer = answer_extractively(
        question="Which database stores the audit log?",
        passages=passages(
            "The database is PostgreSQL: it keeps API keys and the audit log.",
            "Deploys happen on Tuesdays and Thursdays.",
        ),
    )

    assert answer.found
    assert "PostgreSQL" in answer.text


def test_a_configuration_line_naming_only_x_still_answers_which_x() -> None:
    # A key and its value are the answer even though they repeat only the focus.
    answer = answer_extractively(
        question="Quantas réplicas rodam em produção?",
        passages=passages("deploy:\n  replicas: 6\n  memory: 2g"),
    )

    assert answer.found
    assert "replicas: 6" in answer.text


# --- a how-to answer continues into the next sentence ----------------------------------------

_WEBHOOKS = (
    "Orbita sends a POST to your webhook URL when an order changes status. Each delivery "
    "is signed with HMAC-SHA256 in the X-Orbita-Signature header. Failed deliveries are "
    "retried five times."
)


def test_how_to_answer_quotes_the_sentence_that_continues_the_best_one() -> None:
    answer = answer_extractively(
        question="How do I get webhook calls from Orbita?",
        passages=passages(_WEBHOOKS),
    )

    assert answer.found
    lines = answer.text.splitlines()[2:]
    assert lines[0].startswith("- Orbita sends a POST")
    assert lines[1].startswith("- Each delivery is signed with HMAC-SHA256")
    assert not any("retried" in line for line in lines)


def test_a_question_that_is_not_a_how_to_gets_no_continuation() -> None:
    answer = answer_extractively(
        question="When does Orbita send a POST to the webhook URL?",
        passages=passages(_WEBHOOKS),
    )

    assert answer.found
    assert "HMAC" not in answer.text


# --- a checklist is quoted from its first step ---------------------------------------------

_CHECKLIST = """Your first-day checklist

- Collect your access badge from reception.
- Pick up your laptop at the IT desk.
- Sign in to PeoplePortal and confirm your personal details.
- Meet your onboarding buddy, your contact for everyday questions.
- Have lunch with your team. Acme pays for the first-day lunch."""


def test_how_to_answer_from_a_list_starts_at_its_first_item() -> None:
    answer = answer_extractively(
        question="What do I need to do on my first day?", passages=passages(_CHECKLIST)
    )

    assert answer.found
    lines = answer.text.splitlines()[2:]
    assert "first-day lunch" in lines[0]  # the best match still comes first
    assert "access badge" in lines[1] and "laptop" in lines[2]


def test_a_list_question_that_is_not_a_how_to_keeps_the_matching_item_only() -> None:
    answer = answer_extractively(
        question="Who pays for the first-day lunch?", passages=passages(_CHECKLIST)
    )

    assert answer.found
    assert "first-day lunch" in answer.text
    assert "access badge" not in answer.text
