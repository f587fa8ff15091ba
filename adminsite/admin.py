"""Admin for third-party pieces: django-q2's task lists.

Their "resubmit" action ran for anyone who could see the lists (it declares no
permission) and re-ran any task at once, paid evaluation runs included, deleting failure
records on the way. Here it needs change permission and a confirmation.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q import admin as q_admin
from django_q.models import Failure, Success

from ragengine.admin_confirm import destructive_action


def _resubmit_consequence(modeladmin: admin.ModelAdmin, request, queryset: QuerySet) -> str:
    count = queryset.count()
    tasks = f"{count} task{'s' if count != 1 else ''}"
    if isinstance(modeladmin, q_admin.FailAdmin):
        return f"{tasks} will be queued to run again and their failure records deleted."
    return f"{tasks} will be queued to run again."


@destructive_action(
    description="Resubmit selected tasks to queue",
    permissions=["change"],
    consequence=_resubmit_consequence,
)
def resubmit_tasks(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    q_admin.resubmit_task(modeladmin, request, queryset)


class SuccessAdmin(q_admin.TaskAdmin):
    actions = [resubmit_tasks]


class FailureAdmin(q_admin.FailAdmin):
    actions = [resubmit_tasks]


for model, model_admin in ((Success, SuccessAdmin), (Failure, FailureAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
