"""django-q2's task lists in the admin: resubmitting a task needs change permission and a
confirmation (it re-runs the task, paid evaluation runs included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Task

from tests.ragengine.admin.test_cache import confirm

pytestmark = pytest.mark.django_db


def finished_task(*, success: bool) -> Task:
    now = timezone.now()
    return Task.objects.create(
        id=f"task-{success}", name=f"len-{success}", func="builtins.len", args=("abc",),
        kwargs={}, result=3, started=now - timedelta(seconds=1), stopped=now, success=success,
    )  # fmt: skip


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="irrelevant-here", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def resubmit(client: Client, model: str, task: Task):
    return client.post(
        reverse(f"admin:django_q_{model}_changelist"),
        {"action": "resubmit_tasks", "index": "0", "_selected_action": [task.pk]},
    )


@pytest.mark.parametrize("model, success", [("success", True), ("failure", False)])
def test_a_view_only_user_cannot_resubmit_tasks(model, success):
    task = finished_task(success=success)
    client = staff(f"view_{model}")

    page = client.get(reverse(f"admin:django_q_{model}_changelist"))
    assert page.status_code == 200 and "resubmit" not in page.content.decode()
    client.post(
        reverse(f"admin:django_q_{model}_changelist"),
        {"action": "resubmit_task", "index": "0", "_selected_action": [task.pk]},
    )
    resubmit(client, model, task)

    assert list(Task.objects.values_list("pk", flat=True)) == [task.pk]
    assert not OrmQ.objects.exists(), "nothing was queued"


def test_resubmitting_a_failed_task_asks_first_then_runs_it_again(admin_client):
    failed = finished_task(success=False)

    page = resubmit(admin_client, "failure", failed)
    assert page.status_code == 200
    assert "1 task will be queued to run again and their failure records deleted" in (
        page.content.decode()
    )
    assert list(Failure.objects.all()) == [failed] and not OrmQ.objects.exists()

    confirm(admin_client, "failure", page, app_label="django_q")

    assert not Failure.objects.exists()
    assert OrmQ.objects.get().task["func"] == "builtins.len"
