"""/api/v1/evaluation/runs: start an evaluation run, follow it, read its results.

The same service as the admin's *Start a run* (`run_start`): the run is queued for the
worker and answers through `ask()` like every door. Only service-account tokens with the
`evaluation` scope may use these endpoints: a run spends on every target it names, beyond
any one member's budget, so it is an admin's decision, which a service account (created by
an admin, with explicit scopes and sets) stands for and a member's token does not. A token
reaches the sets, and runs, whose knowledge sets are all among its own.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from adminsite.api.evaluation_serializers import (
    EvalResultPageSerializer,
    EvalResultSerializer,
    EvalRunSerializer,
    ResultsQuerySerializer,
    RunStartSerializer,
)
from adminsite.api.scope import token_scope
from adminsite.api.serializers import ErrorSerializer
from adminsite.api.views.docs import errors
from adminsite.api.views.knowledge import MAX_ID
from ragengine.evaluation.run_page import result_is_failure
from ragengine.evaluation.runs import RunError, run_start
from ragengine.models import ApiScope, ApiToken, ApiTokenKind, EvalRun
from ragengine.selectors.api_evaluation import api_eval_runs, api_eval_sets

FORBIDDEN = OpenApiResponse(
    ErrorSerializer,
    description="Not a service-account token with the `evaluation` scope, or the set's "
    "knowledge sets are not all among the token's.",
)


class ServiceAccountRequired(PermissionDenied):
    default_code = "service_account_required"
    default_detail = (
        "Evaluation runs are started and read with a service account's token: a run "
        "spends on every target it names, beyond one member's budget. Ask an admin for "
        "one (admin → API tokens → kind: service account, scope: evaluation)."
    )


def _service_scope(token: ApiToken) -> tuple[str, ...]:
    if token.kind != ApiTokenKind.SERVICE:
        raise ServiceAccountRequired()
    return token_scope(token=token).knowledge_sets


def _run(request: Request, run_id: int) -> EvalRun:
    sets = _service_scope(request.auth)
    run = (
        api_eval_runs(knowledge_sets=sets)
        .select_related("eval_set")
        .prefetch_related("targets")
        .filter(pk=run_id)
        .first()
        if run_id <= MAX_ID
        else None
    )
    if run is None:
        raise NotFound(f"No evaluation run {run_id} on the knowledge sets of this token.")
    return run


class EvalRunStartView(APIView):
    required_scope = ApiScope.EVALUATION

    @extend_schema(
        operation_id="evaluation_runs_create",
        summary="Start an evaluation run",
        description="Queues a run of an evaluation set against the targets: 202 with the "
        "run, whose `url` shows its progress (`queued` → `running` → `done`, `failed` or "
        "`cancelled`) and, once finished, its `summary`; `results_url` lists every case.",
        request=RunStartSerializer,
        responses={
            202: EvalRunSerializer,
            403: FORBIDDEN,
            **errors(400, 401, 429),
        },
    )
    def post(self, request: Request) -> Response:
        sets = _service_scope(request.auth)
        serializer = RunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        eval_set = api_eval_sets(knowledge_sets=sets).filter(name=data["eval_set"]).first()
        if eval_set is None:  # unknown and out of reach get the same answer
            raise ValidationError(
                {
                    "eval_set": [
                        f"No evaluation set {data['eval_set']!r} on the knowledge sets of "
                        "this token."
                    ]
                }
            )
        try:
            run = run_start(
                eval_set=eval_set,
                specs=data["targets"],
                use_cache=data["use_cache"],
                budget_cap=data.get("budget_cap"),
                concurrency=data.get("concurrency"),
                created_by=request.auth.created_by,
            )
        except RunError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        run = EvalRun.objects.select_related("eval_set").prefetch_related("targets").get(pk=run.pk)
        body = EvalRunSerializer(run, context={"request": request}).data
        return Response(body, status=202, headers={"Location": body["url"]})


class EvalRunView(APIView):
    required_scope = ApiScope.EVALUATION

    @extend_schema(
        operation_id="evaluation_runs_retrieve",
        summary="An evaluation run: progress, and its summary once finished",
        responses={200: EvalRunSerializer, 403: FORBIDDEN, **errors(401, 404, 429)},
    )
    def get(self, request: Request, run_id: int) -> Response:
        return Response(EvalRunSerializer(_run(request, run_id), context={"request": request}).data)


class EvalRunResultsView(APIView):
    required_scope = ApiScope.EVALUATION

    @extend_schema(
        operation_id="evaluation_runs_results",
        summary="An evaluation run's results, one per case and target",
        parameters=[ResultsQuerySerializer],
        responses={
            200: EvalResultPageSerializer,
            403: FORBIDDEN,
            **errors(400, 401, 404, 429),
        },
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = _run(request, run_id)
        query = ResultsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        rows = run.results.select_related("target").order_by("position", "target__position")
        if query.validated_data["failures"]:
            rows = [row for row in rows if result_is_failure(row)]
            count, page = len(rows), rows[offset : offset + limit]
        else:
            count, page = rows.count(), list(rows[offset : offset + limit])
        return Response(
            {
                "count": count,
                "offset": offset,
                "limit": limit,
                "results": EvalResultSerializer(page, many=True).data,
            }
        )
