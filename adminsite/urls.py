"""URL routes: the admin (also at the site root), health and readiness probes, Prometheus
metrics, the Slack HTTP door and the REST API (/api/v1/)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from adminsite.api.errors import api_not_found, api_server_error
from adminsite.health import healthz, readyz
from adminsite.metrics import metrics_view
from adminsite.playground.views import playground
from botcore.slack.views import slack_events

# The admin's titles, sidebar and "View site" link (to "/") come from settings.UNFOLD.
urlpatterns = [
    # The admin is the only site: the root and the admin's "View site" lead to it.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/playground/", admin.site.admin_view(playground), name="playground"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("slack/events", slack_events, name="slack-events"),
    path("api/v1/", include("adminsite.api.urls")),
]
# JSON instead of HTML error pages under /api/.
handler404 = api_not_found
handler500 = api_server_error
