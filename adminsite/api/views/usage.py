"""GET /api/v1/usage: the cost report `manage.py costreport` prints."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from adminsite.api.serializers import UsageQuerySerializer, UsageReportSerializer
from adminsite.api.views.docs import errors
from ragengine.models import ApiScope
from ragengine.selectors.usage_report import usage_report


class UsageView(APIView):
    required_scope = ApiScope.REPORTS

    @extend_schema(
        operation_id="usage_report",
        summary="Questions, tokens and cost for a day or a month (the whole ledger)",
        parameters=[UsageQuerySerializer],
        responses={200: UsageReportSerializer, **errors(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = usage_report(
            period=query.validated_data["period"],
            by=query.validated_data.get("by"),
            day=query.validated_data.get("date"),
        )
        return Response(UsageReportSerializer(report).data)
