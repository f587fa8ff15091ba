from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragengine.ask_types import AnswerMode, Channel, Turn
from ragengine.models import Document
from ragengine.retrieval.registry import get_vector_store
from ragengine.services.ask import ask
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from tests.conftest import EXAMPLES
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

CLI = Channel(platform="cli")
# The labelled set also covers examples/tech-manual and cross-language questions, which
# tests/ragengine/composition/test_answer_quality.py measures; the `handbook` fixture
# ingests examples/handbook only, so these tests ask its same-language questions.
QUESTIONS = [
    q
    for q in json.loads((EXAMPLES / "questions.json").read_text())
    if q["corpus"] == "handbook" and not q["cross_language"]
]


def ask_cli(question: str, **kwargs):
    return ask(
        member=MemberFactory(), question=question, channel=kwargs.pop("channel", CLI), **kwargs
    )


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("", "Please type a question."),
        ("   \n\t ", "Please type a question."),
        ("hi", "at least 3 characters"),
        ("x" * 1001, "under 1000 characters"),
        ("How many vacation\x00 days?", "can't be read: U+0000."),
        ("How many \x1b[31mvacation\x1b[0m days?", "can't be read: U+001B."),
        ("Vacation days?\x07\x7f\x85\x00\x01", "U+0007, U+007F, U+0085, …"),
        ("How many vacation days \ud83d?", "U+D83D (half of an emoji?)"),
        ("\udc00\udc01\udc02", "can't be read"),
    ],
    ids=[
        "empty",
        "blank",
        "short",
        "long",
        "nul",
        "escape",
        "many-controls",
        "surrogate",
        "only-surrogates",
    ],
)
def test_invalid_questions_are_refused_before_any_retrieval(
    embedder, monkeypatch, question, reason
):
    def no_search(query):
        raise AssertionError("retrieval must not run for an invalid question")

    monkeypatch.setattr(get_vector_store(), "search", no_search)
    answer = ask_cli(question)
    assert answer.mode == AnswerMode.REFUSED
    assert reason in answer.text
    assert answer.sources == []
    assert embedder.calls == 0
    assert answer.cost == 0


def test_a_question_with_nul_never_reaches_the_database_or_the_cache(handbook):
    from ragengine.models import CachedAnswer, UsageRecord

    for question in ("How many vacation days do I get?\x00", "How many\x00 vacation days?"):
        answer = ask_cli(question)
        assert answer.mode == AnswerMode.REFUSED
        assert "Please retype it" in answer.text and "\x00" not in answer.text

    assert not CachedAnswer.objects.exists()
    assert not UsageRecord.objects.exists()


def test_tabs_and_newlines_people_type_are_kept(handbook):
    answer = ask_cli("How many\tvacation days\r\ndo I get per year?\n")

    assert answer.mode == AnswerMode.EXTRACTIVE
    assert "25 working days" in answer.text


def test_unreadable_characters_in_the_thread_history_are_cleaned_not_refused(handbook):
    history = [
        Turn("user", "Qual é o limite de hospedagem \ud83d em viagens a trabalho?\x00"),
        Turn("assistant", "R$ 300 \udc00[1]."),
    ]

    follow_up = ask_cli("e nas capitais?", history=history)  # short: borrows the history

    assert follow_up.mode == AnswerMode.EXTRACTIVE
    assert "R$ 450" in follow_up.text, follow_up.text


def test_question_limits_follow_settings(embedder, settings):
    settings.ARANDU_QUESTION_MAX_CHARS = 20
    assert ask_cli("What is the wifi password policy?").mode == AnswerMode.REFUSED


def test_english_question_gets_extractive_answer_with_matching_sources(handbook):
    answer = ask_cli("How many vacation days do I get per year?")

    assert answer.mode == AnswerMode.EXTRACTIVE
    assert "extractive" in answer.text.lower()
    assert "25 working days" in answer.text
    assert answer.sources, answer.text
    first = answer.sources[0]
    assert first.number == 1 and "[1]" in answer.text
    assert Document.objects.get(pk=first.document_id).source.endswith("employee-handbook.md")
    assert "Vacation" in first.location
    # every marker in the text points at a listed source, and every source is cited
    numbers = {s.number for s in answer.sources}
    cited = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", answer.text)}
    assert cited == numbers == set(range(1, len(numbers) + 1))
    assert set(answer.timings_ms) >= {"validate", "embed", "retrieve", "generate", "total"}


def test_portuguese_question_gets_portuguese_answer_from_portuguese_policy(handbook):
    answer = ask_cli("Qual é o limite diário para alimentação em viagens?")

    assert answer.mode == AnswerMode.EXTRACTIVE
    assert "R$ 120" in answer.text
    assert "extrativa" in answer.text.lower()
    source = Document.objects.get(pk=answer.sources[0].document_id).source
    assert source.endswith("politica-de-reembolso.md")


def test_unanswerable_question_says_it_could_not_find_it(handbook):
    answer = ask_cli("What is the CEO's favourite colour?")

    assert answer.mode == AnswerMode.EXTRACTIVE
    assert "couldn't find" in answer.text.lower()
    assert answer.sources == []


def test_example_questions_cite_the_right_document_and_quote_the_fact(handbook):
    """Measured on the handbook's same-language questions of examples/questions.json
    (docs/PERFORMANCE.md): at least 95 % cite the expected document (the issue's target
    for the source in the top 5), the quoted text holds the expected fact for at least
    80 %, and at least half of the questions the documents don't answer get "not found"
    instead of a guess. One ingest, each question asked once."""
    answerable = [q for q in QUESTIONS if q["expected_source"]]
    unanswerable = [q for q in QUESTIONS if not q["expected_source"]]
    wrong_source, without_fact = [], []
    for case in answerable:
        answer = ask_cli(case["question"])
        cited = [Document.objects.get(pk=s.document_id).source for s in answer.sources]
        if not any(Path(c.split("#")[0]).name == case["expected_source"] for c in cited):
            wrong_source.append((case["question"], cited))
        if not any(p.lower() in answer.text.lower() for p in case["expected_phrases"]):
            without_fact.append(case["question"])
    refused = [q["question"] for q in unanswerable if not ask_cli(q["question"]).sources]

    assert len(wrong_source) <= 0.05 * len(answerable), wrong_source
    assert len(without_fact) <= 0.20 * len(answerable), without_fact
    assert len(refused) >= 0.5 * len(unanswerable), refused


def test_channel_only_sees_its_knowledge_sets(embedder, handbook, tmp_path):
    other = knowledge_set_get_or_create(name="engineering")
    (tmp_path / "deploy.md").write_text(
        "# Deploys\n\nProduction deploys happen on Tuesdays after the change review.\n"
    )
    documents_ingest_paths(paths=[tmp_path / "deploy.md"], knowledge_set=other)

    scoped = Channel(platform="slack", channel_id="C1", knowledge_sets=("handbook",))
    answer = ask_cli("When do production deploys happen?", channel=scoped)
    assert all(
        Document.objects.get(pk=s.document_id).knowledge_set_id == handbook.pk
        for s in answer.sources
    )
    assert "Tuesdays" not in answer.text

    allowed = Channel(platform="slack", channel_id="C2", knowledge_sets=("engineering",))
    answer = ask_cli("When do production deploys happen?", channel=allowed)
    assert "Tuesdays" in answer.text


def test_unknown_knowledge_set_is_a_clear_refusal(embedder):
    answer = ask_cli("Where is the office?", channel=Channel(knowledge_sets=("nope",)))
    assert answer.mode == AnswerMode.REFUSED
    assert "Unknown knowledge set: nope" in answer.text


def test_short_follow_up_uses_the_thread_history(handbook):
    history = [
        Turn("user", "Qual é o limite de hospedagem em viagens a trabalho?"),
        Turn("assistant", "…"),
    ]
    follow_up = ask_cli("e nas capitais?", history=history)

    assert "R$ 450" in follow_up.text, follow_up.text
    cited = {Document.objects.get(pk=s.document_id).source for s in follow_up.sources}
    assert any(c.endswith("politica-de-reembolso.md") for c in cited)


def test_answer_to_dict_has_the_documented_keys(handbook):
    data = ask_cli("What is the minimum password length?").to_dict()
    assert {"answer", "mode", "sources", "timings_ms"} <= set(data)
    assert data["mode"] == "extractive"
    assert set(data["sources"][0]) >= {"title", "location", "snippet", "score", "document_id"}
    assert "total" in data["timings_ms"]
    json.dumps(data)


def test_blocked_questions_are_refused_logged_and_free(embedder, monkeypatch, caplog):
    from ragengine.models import UsageRecord

    def no_search(query):
        raise AssertionError("a blocked question must not reach retrieval")

    monkeypatch.setattr(get_vector_store(), "search", no_search)
    member = MemberFactory()

    for question in (
        "What is the admin password?",
        "<script>alert(1)</script> hi",
        "DROP TABLE users;",
    ):
        answer = ask(member=member, question=question, channel=CLI)
        assert answer.mode == AnswerMode.REFUSED, question
    assert UsageRecord.objects.filter(member=member).count() == 0
    assert any(r.message == "question blocked" for r in caplog.records)


def test_admin_rows_add_and_disable_blocked_patterns(embedder, handbook):
    from ragengine.models import BlockedPattern

    BlockedPattern.objects.create(name="salaries", pattern=r"\bsalar(y|ies)\b", kind="other")
    assert ask_cli("What are the salaries of the directors?").mode == AnswerMode.REFUSED

    default_name = "SQL drop statement"
    from ragengine.blocked_patterns import DEFAULT_BLOCKED_PATTERNS

    assert default_name in {p.name for p in DEFAULT_BLOCKED_PATTERNS}
    BlockedPattern.objects.create(name=default_name, pattern="", enabled=False)
    assert ask_cli("How do I drop table rows in the report tool?").mode != AnswerMode.REFUSED


def test_an_unreachable_store_gives_a_clear_message_and_charges_nothing(embedder, monkeypatch):
    from ragengine.models import UsageRecord
    from ragengine.retrieval.types import VectorStoreError
    from ragengine.services.ask import STORE_DOWN_MESSAGE

    def down(query):
        raise VectorStoreError("Weaviate at http://127.0.0.1:9 is not reachable.")

    monkeypatch.setattr(get_vector_store(), "search", down)
    member = MemberFactory()

    answer = ask(member=member, question="How many vacation days do I get?", channel=CLI)

    assert answer.mode == AnswerMode.REFUSED and answer.text == STORE_DOWN_MESSAGE
    row = UsageRecord.objects.get(member=member)
    assert (row.cost, row.reserved, row.mode) == (0, 0, "error")


def test_labels_follow_the_questions_language(handbook):
    portuguese = ask_cli("Quantos dias de férias eu tenho por ano?")
    english = ask_cli("How many vacation days do I get per year?")

    assert (portuguese.language, portuguese.labels["sources"]) == ("pt", "Fontes")
    assert (english.language, english.labels["sources"]) == ("en", "Sources")
    assert portuguese.to_dict()["labels"]["sources"] == "Fontes"


def test_keyword_only_search_sends_no_query_vector(handbook, settings, monkeypatch):
    store = get_vector_store()
    seen = []
    search = store.search

    def spy(query):
        seen.append(query)
        return search(query)

    monkeypatch.setattr(store, "search", spy)
    settings.ARANDU_HYBRID_ALPHA = 0.0
    settings.ARANDU_MIN_SIMILARITY = 0.99  # a floor no cosine reaches: keyword hits ignore it

    answer = ask_cli("What is the minimum password length?")

    assert [q.vector for q in seen] == [None]
    assert answer.mode == "extractive" and answer.sources
    assert seen[0].per_document == settings.ARANDU_MAX_CHUNKS_PER_DOCUMENT
