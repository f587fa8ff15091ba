"""Evaluation runs through the API: what a start request may say, and what a run shows."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from adminsite.api.serializers import no_control_characters
from ragengine.models import EvalResult, EvalRun

MAX_TARGETS = 8
MAX_RESULTS_PAGE = 200


class RunStartSerializer(serializers.Serializer):
    eval_set = serializers.CharField(
        max_length=120,
        validators=[no_control_characters],
        help_text="The evaluation set's name (admin → Evaluation sets).",
    )
    targets = serializers.ListField(
        child=serializers.CharField(max_length=250, validators=[no_control_characters]),
        allow_empty=False,
        max_length=MAX_TARGETS,
        help_text="`extractive`, `tier:NAME` or `model:ENDPOINT:MODEL`.",
    )
    use_cache = serializers.BooleanField(
        default=False, help_text="Let answers come from the answer cache (off: measure models)."
    )
    budget_cap = serializers.DecimalField(
        max_digits=10,
        decimal_places=4,
        required=False,
        min_value=Decimal("0"),
        help_text="Most each target may spend; default and maximum ARANDU_EVAL_BUDGET_CAP.",
    )
    concurrency = serializers.IntegerField(
        required=False, min_value=1, max_value=32, help_text="Questions asked at once."
    )

    def validate_budget_cap(self, value: Decimal) -> Decimal:
        ceiling = settings.ARANDU_EVAL_BUDGET_CAP
        if value > ceiling:
            raise serializers.ValidationError(
                f"At most {ceiling} per target through the API (ARANDU_EVAL_BUDGET_CAP); "
                "larger runs are started in the admin."
            )
        return value


class RunTargetSerializer(serializers.Serializer):
    spec = serializers.CharField()
    error = serializers.CharField(allow_blank=True)


class EvalRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    results_url = serializers.SerializerMethodField()
    eval_set = serializers.CharField(source="eval_set.name")
    targets = RunTargetSerializer(many=True)
    budget_cap = serializers.CharField(help_text="Decimal, in the prices' currency.")
    summary = serializers.JSONField(
        help_text="Once finished: per target (`targets`) and per tag, every metric as "
        "`{value, n, total}`, modes, latency per stage, tokens and cost."
    )

    class Meta:
        model = EvalRun
        fields = [
            "id",
            "url",
            "results_url",
            "eval_set",
            "status",
            "targets",
            "cases_total",
            "cases_done",
            "use_cache",
            "budget_cap",
            "concurrency",
            "flagged",
            "error",
            "summary",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_url(self, run: EvalRun) -> str:
        return self._absolute(reverse("api:evaluation-run", args=[run.pk]))

    def get_results_url(self, run: EvalRun) -> str:
        return self._absolute(reverse("api:evaluation-run-results", args=[run.pk]))


class ResultsQuerySerializer(serializers.Serializer):
    offset = serializers.IntegerField(default=0, min_value=0, max_value=10_000_000)
    limit = serializers.IntegerField(default=50, min_value=1, max_value=MAX_RESULTS_PAGE)
    failures = serializers.BooleanField(
        default=False, help_text="Only the cases a target failed, refused wrongly or missed."
    )


class EvalResultSerializer(serializers.ModelSerializer):
    target = serializers.CharField(source="target.spec")
    cost = serializers.CharField(help_text="Decimal, in the prices' currency.")

    class Meta:
        model = EvalResult
        fields = [
            "position",
            "target",
            "question",
            "tags",
            "must_refuse",
            "status",
            "error",
            "mode",
            "answer",
            "sources",
            "facts_found",
            "facts_missed",
            "metrics",
            "judge",
            "tokens_in",
            "tokens_out",
            "cost",
            "timings_ms",
        ]


class EvalResultPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    results = EvalResultSerializer(many=True)
