"""Forms of the document admin: the upload page (files and/or pasted text) and the
target of a move."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from ragengine.models import KnowledgeSet
from ragengine.services.document_upload import SHOWN_TYPES, UPLOAD_EXTENSIONS


class MultipleFileInput(UnfoldAdminFileFieldWidget):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern); each file is judged by
    the upload service, so one bad file never refuses the others here."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if f]


class DocumentUploadForm(forms.Form):
    knowledge_set = forms.ModelChoiceField(
        queryset=KnowledgeSet.objects.all(), widget=UnfoldAdminSelectWidget
    )
    files = MultipleFileField(label="Files")
    title = forms.CharField(
        required=False,
        max_length=200,
        widget=UnfoldAdminTextInputWidget,
        help_text="For pasted text: the document's title.",
    )
    text = forms.CharField(
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 8}),
        label="Or paste text",
        help_text="Markdown or plain text, kept as a document with the title above.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accept = ",".join(sorted(UPLOAD_EXTENSIONS))
        self.fields["files"].widget.attrs["accept"] = accept
        self.fields["files"].help_text = (
            f"One or many {SHOWN_TYPES} files, up to {settings.ARANDU_MAX_FILE_MB:g} MB each "
            "(ARANDU_MAX_FILE_MB). A file named like one already in the set replaces it."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        has_text = bool((data.get("text") or "").strip())
        if not data.get("files") and not has_text:
            raise forms.ValidationError("Choose at least one file, or paste some text.")
        if has_text and not (data.get("title") or "").strip():
            self.add_error("title", "Pasted text needs a title.")
        return data


class MoveForm(forms.Form):
    knowledge_set = forms.ModelChoiceField(
        queryset=KnowledgeSet.objects.all(),
        widget=UnfoldAdminSelectWidget,
        label="Move to knowledge set",
    )
