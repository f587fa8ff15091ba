"""The playground's form: the question, who asks and where, which tier or model answers,
and an optional second target to compare with."""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldBooleanSwitchWidget,
)

from ragengine.models import ChannelBinding, Member
from ragengine.services.answer_targets import EVAL_PREFIX, target_choices
from ragengine.services.playground import PLAYGROUND_PREFIX

OWN_TIER_LABEL = "The member's own tier (the default tier without a member)"


def people() -> QuerySet[Member]:
    """Members a question can be asked as: people, not evaluation or playground askers."""
    return (
        Member.objects.exclude(
            Q(display_name__startswith=EVAL_PREFIX) | Q(display_name__startswith=PLAYGROUND_PREFIX)
        )
        .select_related("tier", "workspace")
        .order_by("display_name")
    )


def _targets() -> list[tuple[str, str]]:
    return [
        (value, label)
        for value, label in target_choices()
        if not value.startswith(f"tier:{PLAYGROUND_PREFIX}")
    ]


class PlaygroundForm(forms.Form):
    question = forms.CharField(
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3, "placeholder": "Ask as they would"}),
        strip=True,
        error_messages={"required": "Type a question to ask."},
    )
    member = forms.ModelChoiceField(
        queryset=Member.objects.none(),
        required=False,
        empty_label="Nobody in particular",
        widget=UnfoldAdminSelectWidget,
        label="Ask as member",
        help_text="Their tier and their direct-message knowledge sets apply; their budget "
        "is never spent.",
        error_messages={"invalid_choice": "That member does not exist (any more)."},
    )
    binding = forms.ModelChoiceField(
        queryset=ChannelBinding.objects.order_by("platform", "name"),
        required=False,
        empty_label="No channel (direct message, or every set without a member)",
        widget=UnfoldAdminSelectWidget,
        label="In channel",
        help_text="The channel's binding decides the knowledge sets, as in Slack or Discord.",
        error_messages={"invalid_choice": "That channel binding does not exist (any more)."},
    )
    target = forms.ChoiceField(
        required=False,
        widget=UnfoldAdminSelectWidget,
        label="Answered by",
    )
    compare = forms.ChoiceField(
        required=False,
        widget=UnfoldAdminSelectWidget,
        label="Compare with",
        help_text="Asks the same question again with this tier or model, side by side.",
    )
    use_cache = forms.BooleanField(
        required=False,
        initial=True,
        widget=UnfoldBooleanSwitchWidget,
        label="Use the answer cache",
        help_text="Off: neither read nor write cached answers (measure the models).",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = people()
        targets = _targets()
        self.fields["target"].choices = [("", OWN_TIER_LABEL), *targets]
        self.fields["compare"].choices = [("", "No comparison"), *targets]
        self.fields["target"].error_messages["invalid_choice"] = (
            "%(value)s is not a tier or model that can answer."
        )
        self.fields["compare"].error_messages["invalid_choice"] = (
            "%(value)s is not a tier or model that can answer."
        )
