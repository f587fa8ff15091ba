"""The admin pages of other apps (logins and groups, django-q2's tasks and schedules),
registered again with unfold's classes so they look like the rest of the admin. Their
behaviour stays the apps' own, with one exception: django-q2's "resubmit" action ran for
anyone who could see the task lists (it declares no permission) and re-ran any task at
once, paid evaluation runs included, deleting failure records on the way. Here it needs
change permission and a confirmation."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as AuthGroupAdmin
from django.contrib.auth.admin import UserAdmin as AuthUserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from ragengine.admin.confirm import destructive_action


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


class UserAdmin(AuthUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


class GroupAdmin(AuthGroupAdmin, ModelAdmin):
    pass


class ScheduleAdmin(q_admin.ScheduleAdmin, ModelAdmin):
    pass


class SuccessAdmin(q_admin.TaskAdmin, ModelAdmin):
    actions = [resubmit_tasks]


class FailureAdmin(q_admin.FailAdmin, ModelAdmin):
    actions = [resubmit_tasks]


class QueueAdmin(q_admin.QueueAdmin, ModelAdmin):
    pass


for model, model_admin in (
    (User, UserAdmin),
    (Group, GroupAdmin),
    (Schedule, ScheduleAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueueAdmin),  # django-q2 registers its queue only with the ORM broker
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, model_admin)
