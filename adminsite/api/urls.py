"""/api/v1/: the endpoints, the OpenAPI schema and its interactive docs."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from adminsite.api.views.ask import AskView
from adminsite.api.views.evaluation import EvalRunResultsView, EvalRunStartView, EvalRunView
from adminsite.api.views.knowledge import DocumentUploadView, DocumentView, KnowledgeSetListView
from adminsite.api.views.usage import UsageView

app_name = "api"

urlpatterns = [
    path("ask", AskView.as_view(), name="ask"),
    path("knowledge-sets", KnowledgeSetListView.as_view(), name="knowledge-sets"),
    path("documents", DocumentUploadView.as_view(), name="documents"),
    path("documents/<int:document_id>", DocumentView.as_view(), name="document"),
    path("usage", UsageView.as_view(), name="usage"),
    path("evaluation/runs", EvalRunStartView.as_view(), name="evaluation-runs"),
    path("evaluation/runs/<int:run_id>", EvalRunView.as_view(), name="evaluation-run"),
    path(
        "evaluation/runs/<int:run_id>/results",
        EvalRunResultsView.as_view(),
        name="evaluation-run-results",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
