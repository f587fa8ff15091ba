"""Admin for folder sources: register a folder for a knowledge set, see each sync's
counts and failures, sync now. Path rules and scheduling are the service's
(`services/source_sync.py`); this door only calls it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline

from ragengine.models import Source, SyncRun, SyncRunStatus
from ragengine.services.source_sync import (
    SourcePathError,
    source_delete,
    source_folder,
    source_schedule_sync,
    source_sync_queue,
    source_with_folder,
)

RUN_FIELDS = (
    "started_at",
    "trigger",
    "status",
    "added",
    "changed",
    "unchanged",
    "removed",
    "failed",
    "duration",
    "short_error",
)


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = ("name", "knowledge_set", "path", "enabled", "interval_minutes", "prune")

    def clean_path(self) -> str:
        path = (self.cleaned_data.get("path") or "").strip()
        try:
            source_folder(path=path)
        except SourcePathError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return path

    def clean(self) -> dict:
        data = super().clean()
        knowledge_set, path = data.get("knowledge_set"), data.get("path")
        if knowledge_set and path:
            other = source_with_folder(
                knowledge_set_id=knowledge_set.pk,
                folder=source_folder(path=path),
                exclude_pk=self.instance.pk,
            )
            if other is not None:
                self.add_error(
                    "path", f"The source {other.name!r} scans this folder into this set already."
                )
        return data


class _RunDisplay:
    @admin.display(description="took")
    def duration(self, obj: SyncRun) -> str:
        if not obj.finished_at:
            return "—"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="error")
    def short_error(self, obj: SyncRun) -> str:
        return obj.error[:120]


class SyncRunInline(_RunDisplay, TabularInline):
    model = SyncRun
    fields = RUN_FIELDS
    readonly_fields = RUN_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "recent syncs (failed files on each run's page)"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(ModelAdmin):
    form = SourceForm
    list_display = (
        "name",
        "knowledge_set",
        "path",
        "enabled",
        "interval_minutes",
        "prune",
        "last_sync",
        "next_sync",
    )
    list_filter = ("enabled", "prune", "knowledge_set")
    search_fields = ("name", "path")
    list_select_related = ("knowledge_set", "q_schedule")
    readonly_fields = ("last_synced_at", "syncing_since", "created_at", "updated_at")
    actions = ["sync_now"]
    inlines = [SyncRunInline]
    fieldsets = (
        (None, {"fields": ("name", "knowledge_set", "path")}),
        ("Schedule", {"fields": ("enabled", "interval_minutes", "prune")}),
        ("State", {"fields": readonly_fields}),
    )

    @admin.display(description="last sync")
    def last_sync(self, obj: Source) -> str:
        run = obj.runs.first()
        if run is None:
            return "never"
        when = timezone.localtime(run.started_at)
        if run.status in (SyncRunStatus.RUNNING, SyncRunStatus.FAILED):
            return f"{when:%Y-%m-%d %H:%M}: {run.summary}"[:200]
        counts = [
            f"{getattr(run, name)} {name}"
            for name in ("added", "changed", "unchanged", "removed", "failed")
            if getattr(run, name)
        ]
        return f"{when:%Y-%m-%d %H:%M}: {', '.join(counts) or 'empty folder'}"

    @admin.display(description="next sync")
    def next_sync(self, obj: Source):
        return obj.q_schedule.next_run if obj.q_schedule else "—"

    def get_fieldsets(self, request: HttpRequest, obj=None):
        return self.fieldsets if obj else self.fieldsets[:2]  # no state before it exists

    def get_inlines(self, request: HttpRequest, obj=None):
        return self.inlines if obj else []

    def save_model(self, request: HttpRequest, obj: Source, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        source_schedule_sync(source=obj)

    def delete_model(self, request: HttpRequest, obj: Source) -> None:
        source_delete(source=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for source in queryset:
            source_delete(source=source)

    @admin.action(description="Sync the selected sources now", permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for source in queryset.select_related("knowledge_set"):
            task_id = source_sync_queue(source=source)
            self.message_user(
                request,
                f"Queued a sync of {source.name!r} ({source.path} → knowledge set "
                f"{source.knowledge_set.name!r}{', pruning' if source.prune else ''}), task "
                f"{task_id}. Its counts appear under the source when it has run.",
                messages.SUCCESS,
            )


@admin.register(SyncRun)
class SyncRunAdmin(_RunDisplay, ModelAdmin):
    """Read-only: the record of each sync, with the reason every failed file failed."""

    list_display = ("source", *RUN_FIELDS)
    list_filter = ("status", "trigger", "source")
    search_fields = ("source__name", "error")
    list_select_related = ("source",)
    date_hierarchy = "started_at"
    fields = (
        "source",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "duration",
        "added",
        "changed",
        "unchanged",
        "removed",
        "failed",
        "failed_files",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the record of what happened; old runs go as new ones finish

    @admin.display(description="failed files")
    def failed_files(self, obj: SyncRun) -> str:
        if not obj.failures:
            return "—"
        rows = format_html_join(
            "",
            "<li><code>{}</code>: {}</li>",
            ((f.get("source", ""), f.get("error", "")) for f in obj.failures),
        )
        more = obj.failed - len(obj.failures)
        tail = format_html("<p>… and {} more.</p>", more) if more > 0 else ""
        return format_html("<ul>{}</ul>{}", rows, tail)
