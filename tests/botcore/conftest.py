"""Fixtures shared by the door tests: knowledge sets whose answers say which set they
came from, to check through a door which sets a question could read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

SCOPE_QUESTION = "How many vacation days do I get?"

# One document per set, all about vacation days, each with a title found nowhere else:
# the sources of an answer show exactly which sets the question could read.
SCOPE_DOCUMENTS = {
    "hr": ("HR leave rules", "Vacation days for people in HR: 31 working days a year."),
    "public": ("Public leave summary", "Vacation days for everyone: 25 working days a year."),
    "mine": ("Personal leave notes", "Vacation days in my own contract: 40 working days."),
}
EVERY_SET = frozenset(SCOPE_DOCUMENTS)


@dataclass(frozen=True)
class ScopeSets:
    """The ingested sets by name, and a reader of which sets a reply's text cites."""

    sets: dict

    def __getitem__(self, name: str):
        return self.sets[name]

    @staticmethod
    def cited(text: str) -> frozenset[str]:
        return frozenset(name for name, (title, _) in SCOPE_DOCUMENTS.items() if title in text)


@pytest.fixture
def scope_sets(embedder, tmp_path: Path) -> ScopeSets:
    """Sets "hr", "public" and "mine", one vacation document each."""
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create

    sets = {}
    for name, (title, body) in SCOPE_DOCUMENTS.items():
        folder = tmp_path / "scope" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.md").write_text(f"# {title}\n\n{body}\n")
        sets[name] = knowledge_set_get_or_create(name=name)
        report = documents_ingest_paths(paths=[folder], knowledge_set=sets[name])
        assert report.count("failed") == 0
    return ScopeSets(sets)


@pytest.fixture
def scopes(monkeypatch) -> list:
    """Every `Channel` the conversation layer handed to `ask()` (the real `ask()` runs)."""
    from botcore import conversation

    real = conversation.ask
    seen: list = []

    def spy(**kwargs):
        seen.append(kwargs["channel"])
        return real(**kwargs)

    monkeypatch.setattr(conversation, "ask", spy)
    return seen


@pytest.fixture
def empty_scope_sets() -> dict:
    """Sets "hr", "public", "mine" without documents: enough to see which sets a door's
    question may read (the `scopes` spy), without ingesting anything."""
    from tests.factories import KnowledgeSetFactory

    return {name: KnowledgeSetFactory(name=name) for name in SCOPE_DOCUMENTS}
