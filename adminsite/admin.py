"""The admin pages of other apps (logins and groups, django-q2's tasks and schedules),
registered again with unfold's classes so they look like the rest of the admin. Their
behaviour stays the apps' own; only the theme changes."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as AuthGroupAdmin
from django.contrib.auth.admin import UserAdmin as AuthUserAdmin
from django.contrib.auth.models import Group, User
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm


class UserAdmin(AuthUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


class GroupAdmin(AuthGroupAdmin, ModelAdmin):
    pass


class ScheduleAdmin(q_admin.ScheduleAdmin, ModelAdmin):
    pass


class SuccessAdmin(q_admin.TaskAdmin, ModelAdmin):
    pass


class FailureAdmin(q_admin.FailAdmin, ModelAdmin):
    pass


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
