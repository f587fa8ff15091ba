"""URL routes: admin, health, the Slack HTTP door and the REST API (/api/v1/)."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from adminsite.api.errors import api_not_found, api_server_error
from botcore.slack.views import slack_events


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Arandu admin"
admin.site.site_title = "Arandu"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("slack/events", slack_events, name="slack-events"),
    path("api/v1/", include("adminsite.api.urls")),
]
# JSON instead of HTML error pages under /api/.
handler404 = api_not_found
handler500 = api_server_error
