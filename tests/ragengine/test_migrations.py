"""Data migrations, run for real: migrate back, write rows the old schema allowed, forward."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("ragengine", "0010_channel_bindings_feedback")
AFTER = ("ragengine", "0011_scope_trusted_ids_every_set_opt_in")


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    """Leave the database at the latest migrations: later tests need every table."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return MigrationExecutor(connection).loader.project_state([target]).apps


def test_bindings_of_one_channel_id_merge_into_one_that_never_widens_access():
    apps = migrate(BEFORE)
    try:
        Binding = apps.get_model("ragengine", "ChannelBinding")
        Set = apps.get_model("ragengine", "KnowledgeSet")
        hr, public, eng = (Set.objects.create(name=n, slug=n) for n in ("hr", "public", "eng"))

        def bind(platform, workspace_id, channel_id, sets, name=""):
            row = Binding.objects.create(
                platform=platform, workspace_id=workspace_id, channel_id=channel_id, name=name
            )
            row.knowledge_sets.set(sets)
            return row

        wildcard = bind("slack", "", "C1", [public, eng])
        exact = bind("slack", "T1", "C1", [hr, public], name="#general")
        bind("slack", "T2", "C1", [public])
        bind("slack", "T1", "C2", [hr])
        bind("slack", "T2", "C2", [eng])
        alone = bind("slack", "T1", "C3", [hr])
        other_platform = bind("discord", "", "C1", [hr])
    finally:
        apps = migrate(AFTER)

    Binding = apps.get_model("ragengine", "ChannelBinding")
    rows = {(r.platform, r.channel_id): r for r in Binding.objects.all()}
    assert len(rows) == Binding.objects.count() == 4

    def names(row):
        return {s.name for s in row.knowledge_sets.all()}

    c1 = rows[("slack", "C1")]
    assert c1.pk == exact.pk != wildcard.pk  # the oldest with a workspace id stays
    assert (c1.name, names(c1)) == ("#general", {"public"})  # only what all of them allowed
    assert names(rows[("slack", "C2")]) == set()  # nothing in common: the bot is off there
    assert rows[("slack", "C3")].pk == alone.pk and names(rows[("slack", "C3")]) == {"hr"}
    assert rows[("discord", "C1")].pk == other_platform.pk
    assert names(rows[("discord", "C1")]) == {"hr"}

    Workspace = apps.get_model("ragengine", "Workspace")
    workspace = Workspace.objects.create(platform="slack", external_id="T1")
    assert workspace.answers_from_every_set is False  # existing and new: off until chosen


def test_old_document_states_map_to_the_ingestion_states():
    before, after = (
        ("ragengine", "0018_question_history_admin"),
        ("ragengine", "0019_document_ingestion_states"),
    )
    apps = migrate(before)
    try:
        Set = apps.get_model("ragengine", "KnowledgeSet")
        Document = apps.get_model("ragengine", "Document")
        handbook = Set.objects.create(name="handbook", slug="handbook")
        for status in ("pending", "processing", "ready", "failed"):
            Document.objects.create(
                knowledge_set=handbook, title=status, source=f"/srv/{status}.md", status=status
            )
    finally:
        apps = migrate(after)

    Document = apps.get_model("ragengine", "Document")
    assert dict(Document.objects.values_list("title", "status")) == {
        "pending": "queued", "processing": "parsing", "ready": "ready", "failed": "failed",
    }  # fmt: skip
    assert set(Document.objects.values_list("ingest_attempts", flat=True)) == {0}


def test_existing_sets_are_recorded_as_embedded_from_their_text_and_queued_hourly():
    apps = migrate(("ragengine", "0025_sentence_vectors"))
    try:
        Set = apps.get_model("ragengine", "KnowledgeSet")
        built = Set.objects.create(name="built", slug="built", embedder="local:some-model")
    finally:
        apps = migrate(("ragengine", "0026_knowledge_set_vector_text"))

    Set = apps.get_model("ragengine", "KnowledgeSet")
    assert Set.objects.get(pk=built.pk).vector_text == "text"
    Schedule = apps.get_model("django_q", "Schedule")
    (schedule,) = Schedule.objects.filter(
        func="ragengine.tasks.knowledge_sets_reembed_outdated_task"
    )
    assert (schedule.schedule_type, schedule.repeats) == ("H", -1)
