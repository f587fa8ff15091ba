"""Admin for folder sources: the form refuses folders breaking the path rules, saving
keeps the django-q2 schedule in step, "Sync now" queues a sync and says what it queued,
and each run's counts and failed files are visible per source."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django_q.models import Schedule

from ragengine.models import Source, SyncRun
from ragengine.services.knowledge import knowledge_set_get_or_create
from ragengine.services.source_sync import source_schedule_sync, source_sync

pytestmark = pytest.mark.django_db

MANAGEMENT = {
    "runs-TOTAL_FORMS": "0",
    "runs-INITIAL_FORMS": "0",
    "runs-MIN_NUM_FORMS": "0",
    "runs-MAX_NUM_FORMS": "1000",
}


@pytest.fixture
def folder(settings, tmp_path: Path) -> Path:
    root = tmp_path / "sources"
    folder = root / "policies"
    folder.mkdir(parents=True)
    settings.ARANDU_SOURCE_ROOTS = [root]
    (folder / "leave.md").write_text("# Leave\n\nYou get 25 days of vacation a year.\n")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    return folder


@pytest.fixture
def knowledge_set():
    return knowledge_set_get_or_create(name="handbook")


def form(knowledge_set, path: str, **extra) -> dict:
    return {
        "name": "policies",
        "knowledge_set": str(knowledge_set.pk),
        "path": path,
        "enabled": "on",
        "interval_minutes": "30",
        **MANAGEMENT,
        **extra,
    }


def test_adding_a_source_schedules_it(admin_client, folder, knowledge_set):
    response = admin_client.post(
        reverse("admin:ragengine_source_add"), form(knowledge_set, str(folder))
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    source = Source.objects.get()
    assert source.q_schedule.minutes == 30
    assert source.q_schedule.func == "ragengine.tasks.source_sync_task"


@pytest.mark.parametrize(
    "path, message",
    [
        ("/etc", "is outside the folders sources may scan"),
        ("policies/../..", "contains &#x27;..&#x27;"),
        ("missing", "There is no folder at"),
        ("policies/leave.md", "is a file, not a folder"),
    ],
)
def test_the_form_refuses_a_folder_breaking_a_rule(
    admin_client, folder, knowledge_set, path, message
):
    response = admin_client.post(reverse("admin:ragengine_source_add"), form(knowledge_set, path))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert (
        not Source.objects.exists()
        and not Schedule.objects.filter(func="ragengine.tasks.source_sync_task").exists()
    )


def test_the_form_refuses_a_link_leaving_the_roots(admin_client, folder, knowledge_set, tmp_path):
    (tmp_path / "outside").mkdir()
    (folder.parent / "escape").symlink_to(tmp_path / "outside")

    response = admin_client.post(
        reverse("admin:ragengine_source_add"), form(knowledge_set, str(folder.parent / "escape"))
    )

    assert response.status_code == 200
    assert "a link leading to" in response.content.decode()
    assert not Source.objects.exists()


def test_editing_the_interval_updates_and_deleting_removes_the_schedule(
    admin_client, folder, knowledge_set
):
    source = Source.objects.create(name="policies", knowledge_set=knowledge_set, path=str(folder))
    q = source_schedule_sync(source=source)

    response = admin_client.post(
        reverse("admin:ragengine_source_change", args=[source.pk]),
        form(knowledge_set, str(folder), interval_minutes="5"),
    )
    assert response.status_code == 302
    q.refresh_from_db()
    assert q.minutes == 5

    response = admin_client.post(
        reverse("admin:ragengine_source_delete", args=[source.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Source.objects.exists()
    assert not Schedule.objects.filter(pk=q.pk).exists()


def test_sync_now_queues_a_sync_and_says_what_was_queued(
    admin_client, embedder, folder, knowledge_set, monkeypatch
):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)  # read once at import: run queued tasks here
    source = Source.objects.create(name="policies", knowledge_set=knowledge_set, path=str(folder))

    response = admin_client.post(
        reverse("admin:ragengine_source_changelist"),
        {"action": "sync_now", "index": "0", "_selected_action": [str(source.pk)]},
    )

    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Queued a sync of 'policies'")
    assert str(folder) in message and "'handbook'" in message
    run = SyncRun.objects.get()  # django-q2 runs tasks at once in the tests (sync mode)
    assert (run.trigger, run.added, run.failed) == ("manual", 1, 1)


def test_sync_now_needs_the_change_permission(client, folder, knowledge_set):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_source"))
    client.force_login(user)
    source = Source.objects.create(name="policies", knowledge_set=knowledge_set, path=str(folder))

    client.post(
        reverse("admin:ragengine_source_changelist"),
        {"action": "sync_now", "index": "0", "_selected_action": [str(source.pk)]},
    )

    assert not SyncRun.objects.exists()


def test_runs_are_visible_per_source_with_their_failed_files(
    admin_client, embedder, folder, knowledge_set
):
    source = Source.objects.create(name="policies", knowledge_set=knowledge_set, path=str(folder))
    run = source_sync(source=source)

    listing = admin_client.get(reverse("admin:ragengine_source_changelist")).content.decode()
    assert "1 added, 1 failed" in listing

    page = admin_client.get(reverse("admin:ragengine_source_change", args=[source.pk]))
    assert page.status_code == 200
    assert reverse("admin:ragengine_syncrun_change", args=[run.pk]) in page.content.decode()

    detail = admin_client.get(reverse("admin:ragengine_syncrun_change", args=[run.pk]))
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "scan.pdf" in body and "PDF" in body
    assert admin_client.get(reverse("admin:ragengine_syncrun_add")).status_code == 403


def test_a_second_source_for_the_same_folder_and_set_is_refused(
    admin_client, folder, knowledge_set
):
    Source.objects.create(name="first", knowledge_set=knowledge_set, path=str(folder))
    (folder.parent / "alias").symlink_to(folder)

    response = admin_client.post(
        reverse("admin:ragengine_source_add"), form(knowledge_set, "alias", name="second")
    )

    assert response.status_code == 200
    assert "The source &#x27;first&#x27; scans this folder into this set already." in (
        response.content.decode()
    )
    assert Source.objects.count() == 1
