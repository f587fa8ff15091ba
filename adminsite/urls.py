"""URL routes: admin and health for now; the API and bot endpoints mount here later."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path

from botcore.slack.views import slack_events


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Arandu admin"
admin.site.site_title = "Arandu"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("slack/events", slack_events, name="slack-events"),
]
