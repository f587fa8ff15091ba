"""The dashboard's daily rollups: a closed day's figures, computed once, per view."""

from __future__ import annotations

from django.db import models


class DashboardDay(models.Model):
    """One closed day's dashboard figures for one view of the page.

    `view` is "" (people's doors, no filter), "door:<door>", "tier:<id>" or
    "set:<name>"; `figures` holds what the selectors need to rebuild every figure of
    that view exactly: counts, sums (decimals as strings), the people asking (their ids,
    so periods count distinct people), spend per person, and one latency histogram per
    stage. A day's row for view "" is written even when the day had no questions: it
    marks the day as rolled up. Rows are deleted when a late write touches their day
    (`ragengine.services.dashboard_rollups`) and rebuilt on the next read.
    """

    day = models.DateField()
    view = models.CharField(max_length=200, blank=True)
    figures = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "dashboard daily rollup"
        constraints = [
            models.UniqueConstraint(fields=["day", "view"], name="dashboard_day_view_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.view or '(every door)'}"
