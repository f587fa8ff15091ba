"""URL routes: the admin (also at the site root), health, and the Slack HTTP door."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.generic import RedirectView

from botcore.slack.views import slack_events


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# The admin's titles, sidebar and "View site" link (to "/") come from settings.UNFOLD.
urlpatterns = [
    # The admin is the only site: the root and the admin's "View site" lead to it.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("slack/events", slack_events, name="slack-events"),
]
