"""Forms of the evaluation admin. Lists (documents, facts, tags) are edited as text: one
document or fact per line, a fact's alternative phrases separated by "|"."""

from __future__ import annotations

from typing import Any

from django import forms
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from ragengine.evaluation.cases_io import facts_from_text, facts_to_text, split_list
from ragengine.models import EvalCase, EvalSchedule, EvalSet, Tier
from ragengine.services.answer_targets import TargetError, parse_target, target_check


class _ListField(forms.CharField):
    """A list of strings edited as text split on `sep`."""

    def __init__(self, *, sep: str, **kwargs: Any) -> None:
        self.sep = sep
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ("\n" if self.sep == "\n" else f"{self.sep} ").join(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        return split_list(super().to_python(value), self.sep)

    def has_changed(self, initial: Any, data: Any) -> bool:
        # an empty list shown as "" is unchanged (a blank extra inline form stays blank)
        return self.to_python(initial or []) != self.to_python(data)


class FactGroupsField(forms.CharField):
    """Facts, one per line; the alternative phrases of one fact separated by "|"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return facts_to_text(value)
        return value

    def to_python(self, value: Any) -> list[list[str]]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        return facts_from_text(super().to_python(value))

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


def _textarea(rows: int) -> UnfoldAdminTextareaWidget:
    return UnfoldAdminTextareaWidget(attrs={"rows": rows})


class EvalCaseForm(forms.ModelForm):
    question = forms.CharField(widget=_textarea(2))
    expected_documents = _ListField(
        sep="\n",
        widget=_textarea(2),
        help_text="One per line: a file name (employee-handbook.md) or a record "
        "(faq-export.jsonl#faq-0101).",
    )
    expected_facts = FactGroupsField(
        widget=_textarea(2),
        help_text='One fact per line; alternatives separated by "|": 25 working days | 25 days',
    )
    tags = _ListField(sep=",", widget=UnfoldAdminTextInputWidget, help_text="Comma-separated.")

    class Meta:
        model = EvalCase
        fields = (
            "question",
            "language",
            "expected_documents",
            "expected_facts",
            "reference_answer",
            "must_refuse",
            "tags",
            "enabled",
            "notes",
        )


class CaseImportForm(forms.Form):
    file = forms.FileField(
        widget=UnfoldAdminFileFieldWidget,
        help_text="JSON Lines (.jsonl), CSV (.csv) or a JSON list (.json, the shape of "
        "examples/questions.json).",
    )
    replace = forms.BooleanField(
        required=False,
        widget=UnfoldBooleanSwitchWidget,
        help_text="Delete this set's cases first (finished runs keep their copies). Off: add "
        "the new questions, skipping ones the set already has.",
    )


class RunStartForm(forms.Form):
    """What an admin picks to start a run: targets, cache bypass, budget, concurrency."""

    eval_set = forms.ModelChoiceField(
        queryset=EvalSet.objects.all(), widget=UnfoldAdminSelectWidget, label="Evaluation set"
    )
    targets = forms.MultipleChoiceField(
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text="Each target answers every enabled case; they are compared side by side.",
    )
    extra_targets = forms.CharField(
        required=False,
        widget=UnfoldAdminTextInputWidget,
        label="Other models",
        help_text='Comma-separated "model:ENDPOINT:MODEL" specs, e.g. model:openai:gpt-4o-mini '
        "(the model needs a price).",
    )
    use_cache = forms.BooleanField(
        required=False,
        widget=UnfoldBooleanSwitchWidget,
        label="Use the answer cache",
        help_text="Off (recommended): every case is answered afresh, so the run measures "
        "answering rather than the cache; nothing is read from or written to the cache.",
    )
    budget_cap = forms.DecimalField(
        min_value=0,
        max_digits=12,
        decimal_places=4,
        widget=UnfoldAdminDecimalFieldWidget,
        help_text="Most each target may spend in this run (never a person's budget).",
    )
    concurrency = forms.IntegerField(
        min_value=1,
        max_value=32,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="Questions asked at once, over all targets.",
    )
    judge_tier = forms.ModelChoiceField(
        queryset=Tier.objects.none(),
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text="Optional LLM judge (faithfulness, relevance): this tier's first model.",
    )

    def __init__(self, *args: Any, target_choices: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["targets"].choices = target_choices
        self.fields["targets"].required = False
        self.fields["judge_tier"].queryset = Tier.objects.exclude(name__startswith="eval:")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        extra = split_list(data.get("extra_targets", ""), ",")
        specs = list(dict.fromkeys([*data.get("targets", []), *extra]))
        if not specs:
            raise forms.ValidationError("Pick at least one target.")
        data["specs"] = specs
        return data


class EvalScheduleForm(forms.ModelForm):
    targets = _ListField(
        sep=",",
        widget=UnfoldAdminTextInputWidget,
        help_text='Comma-separated: "extractive", "tier:NAME", "model:ENDPOINT:MODEL".',
    )

    def clean_targets(self) -> list[str]:
        specs = []
        for spec in self.cleaned_data.get("targets") or []:
            try:
                target = parse_target(spec)
                target_check(target)
            except TargetError as exc:
                raise forms.ValidationError(str(exc)) from exc
            specs.append(target.spec)
        if not specs:
            raise forms.ValidationError("Give at least one target.")
        return list(dict.fromkeys(specs))

    class Meta:
        model = EvalSchedule
        fields = (
            "name",
            "eval_set",
            "targets",
            "frequency",
            "cron",
            "use_cache",
            "budget_cap",
            "slack_channel",
            "discord_channel",
            "email_to",
            "enabled",
        )


class PickEvalSetForm(forms.Form):
    eval_set = forms.ModelChoiceField(
        queryset=EvalSet.objects.all(),
        widget=UnfoldAdminSelectWidget,
        label="Evaluation set",
        help_text="The draft cases are added here, disabled until their facts are filled in.",
    )


def draft_cases_message(*, created: int, eval_set: EvalSet, skipped: dict[str, int]) -> str:
    """What an "add to evaluation set" action did (feedback or question history):
    `skipped` maps a reason ("already there") to how many rows it kept out."""
    reasons = [f"{count} {reason}" for reason, count in skipped.items() if count]
    return (
        f"{created} draft case(s) added to {eval_set}"
        + (f" (skipped: {', '.join(reasons)})" if reasons else "")
        + ". Fill in their expected facts, then enable them."
    )
