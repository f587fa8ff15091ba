"""With the default embedder (nothing configured), a question in one language finds the
passage written in the other: ingested and searched as `ask()` does."""

from __future__ import annotations

import pytest

from ragengine.ask_types import Channel
from ragengine.retrieval import registry
from ragengine.services.ask import ask
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

ENGLISH = (
    "# Remote work\n\nEmployees may work from home up to three days per week.\n\n"
    "# Parking\n\nParking spots in the garage are booked every Monday.\n\n"
    "# Laptops\n\nA lost laptop is replaced once; a second loss costs EUR 150.\n"
)
PORTUGUESE = (
    "# Viagens\n\nO limite diário para refeições em viagem é de 45 euros.\n\n"
    "# Férias\n\nAs férias são marcadas com pelo menos um mês de antecedência.\n"
)


@pytest.fixture
def default_embedder(settings):
    settings.ARANDU_EMBEDDER = "local"
    settings.ARANDU_EMBEDDER_MODEL = ""
    return registry.get_embedder()


@pytest.fixture
def policies(default_embedder, tmp_path):
    (tmp_path / "policies.md").write_text(ENGLISH)
    (tmp_path / "politicas.md").write_text(PORTUGUESE)
    knowledge_set = knowledge_set_get_or_create(name="policies")
    report = documents_ingest_paths(paths=[tmp_path], knowledge_set=knowledge_set)
    assert report.count("failed") == 0
    knowledge_set.refresh_from_db()
    assert knowledge_set.embedder == default_embedder.name
    return knowledge_set


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Posso trabalhar de casa quantos dias por semana?", "three days per week"),
        ("What is the daily meal limit when travelling?", "45 euros"),
    ],
    ids=["pt-question-en-document", "en-question-pt-document"],
)
def test_a_question_finds_the_passage_in_the_other_language(policies, question, expected):
    answer = ask(member=MemberFactory(), question=question, channel=Channel(platform="cli"))
    assert answer.sources, answer.text
    assert expected in answer.sources[0].snippet or expected in answer.text
