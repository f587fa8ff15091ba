"""The knowledge set admin: the re-embed action and the re-embed status."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ragengine.models import KnowledgeSet, ReembedStatus
from ragengine.services import reembed as reembed_service
from tests.factories import KnowledgeSetFactory

pytestmark = pytest.mark.django_db

OLD = "local:some-older-model"


@pytest.fixture
def queued_tasks(monkeypatch):
    tasks: list[tuple] = []
    monkeypatch.setattr(reembed_service, "async_task", lambda *args, **kw: tasks.append(args))
    return tasks


def _act(client, pks):
    return client.post(
        reverse("admin:ragengine_knowledgeset_changelist"),
        {"action": "reembed", "_selected_action": [str(pk) for pk in pks]},
        follow=True,
    )


def test_the_action_queues_outdated_sets_once(
    admin_client, embedder, queued_tasks, django_capture_on_commit_callbacks
):
    outdated = KnowledgeSetFactory(embedder=OLD)
    current = KnowledgeSetFactory(embedder=embedder.name)
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, [outdated.pk, current.pk])
        again = _act(admin_client, [outdated.pk])

    assert "Queued 1 knowledge set(s) for re-embedding" in response.content.decode()
    assert "1 already use the configured embedder" in response.content.decode()
    assert "Queued 0 knowledge set(s)" in again.content.decode()
    assert queued_tasks == [(reembed_service.REEMBED_TASK, outdated.pk)]
    outdated.refresh_from_db()
    assert outdated.reembed_status == ReembedStatus.QUEUED
    assert outdated.reembed_target == embedder.name
    page = admin_client.get(reverse("admin:ragengine_knowledgeset_changelist")).content.decode()
    assert f"queued → {embedder.name}" in page


def test_the_page_shows_progress_and_the_failure_reason(admin_client, embedder):
    running = KnowledgeSetFactory(
        embedder=OLD,
        reembed_status=ReembedStatus.RUNNING,
        reembed_target=embedder.name,
        reembed_done=40,
        reembed_total=120,
    )
    failed = KnowledgeSetFactory(
        embedder=OLD,
        reembed_status=ReembedStatus.FAILED,
        reembed_target=embedder.name,
        reembed_error="MemoryError: out of memory. The previous vectors are still used.",
    )
    needed = KnowledgeSetFactory(embedder=OLD)

    def page(obj: KnowledgeSet) -> str:
        url = reverse("admin:ragengine_knowledgeset_change", args=[obj.pk])
        return admin_client.get(url).content.decode()

    assert "40/120 chunks" in page(running)
    failed_page = page(failed)
    assert f"failed → {embedder.name}" in failed_page
    assert "MemoryError: out of memory. The previous vectors are still used." in failed_page
    assert f"needed → {embedder.name}" in page(needed)


def test_a_viewer_cannot_queue_a_re_embed(client, django_user_model, embedder, queued_tasks):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_knowledgeset"))
    client.force_login(viewer)
    outdated = KnowledgeSetFactory(embedder=OLD)
    _act(client, [outdated.pk])
    assert queued_tasks == []
    assert KnowledgeSet.objects.get(pk=outdated.pk).reembed_status == ""
