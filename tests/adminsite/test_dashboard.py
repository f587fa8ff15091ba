"""The admin home renders the dashboard's figures: the JSON the charts draw from and the
visible totals, per filter; bad filters show an error and lose nothing else; a fresh
install shows an intentional empty state."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth import get_user_model
from django.urls import reverse

from ragengine.models import DashboardDay
from ragengine.services.dashboard_rollups import rollups_fill
from tests.factories import QuestionRecordFactory, UsageRecordFactory
from tests.ragengine.selectors.dashboard_world import NOW, seed_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr("adminsite.dashboard.current_time", lambda: NOW)


def home(client, **query):
    response = client.get(reverse("admin:index"), query)
    assert response.status_code == 200
    page = BeautifulSoup(response.content, "html.parser")
    data = json.loads(page.select_one("#dashboard-data").string)
    return page, data


def figure(page, key: str) -> str:
    return page.select_one(f'[data-figure="{key}"] .dash-kpi-value').get_text(strip=True)


@pytest.mark.parametrize("rolled_up", [False, True], ids=["rows", "rollups"])
def test_charts_and_totals_match_the_ledger(admin_client, rolled_up):
    seed_world()
    if rolled_up:  # as the hourly task leaves it; else more days are missing than the
        rollups_fill(now=NOW)  # page rolls up itself, and it reads the rows
    page, data = home(admin_client)
    assert DashboardDay.objects.exists() == rolled_up
    assert data["days"][-2:] == ["2026-03-09", "2026-03-10"]
    assert data["questions"]["generated"][-2:] == [1, 2]
    assert data["questions"]["refused"][-2:] == [1, 0]
    assert data["cost_by_model"]["openai:gpt-4o"][-2:] == [1.0, 0.5]
    assert data["cost_by_tier"]["staff"][-1] == 0.8
    assert data["cache"]["hit_rate"][-2:] == [0.0, 0.25]
    assert data["cache"]["saved"][-1] == 0.2
    assert data["latency"]["total"]["p50"][-2:] == [325.0, 120.0]
    assert data["stages"]["total"] == {"p50": 120.0, "p95": 560.0}
    assert data["feedback"] == {"up": [0] * 5 + [1, 1], "down": [0] * 5 + [1, 0]}
    assert data["sets"][0] == ["handbook", 5]
    assert data["totals"]["questions"] == 8 and data["totals"]["cost"] == 1.8
    # what a person reads
    assert figure(page, "questions") == "8"
    assert figure(page, "people") == "3"
    assert figure(page, "cost") == "$1.80"
    assert figure(page, "hit_rate") == "17%"
    assert figure(page, "p95") == "0.6 s"  # 560 ms
    assert figure(page, "satisfaction") == "67%"
    assert figure(page, "gaps") == "3"
    gaps = page.select("#dashboard-gaps tr[data-gap-count]")
    assert [g["data-gap-count"] for g in gaps] == ["2", "1"]
    assert "Can I expense taxi rides?" in gaps[0].get_text()
    spenders = page.select("#dashboard-spenders tr[data-member]")
    assert [s["data-member"] for s in spenders] == ["Carla", "Ana"]
    assert "(90%)" in spenders[1].get_text()
    staff = page.select_one('#dashboard-budgets tr[data-tier="staff"]').get_text(" ", strip=True)
    assert "$0.90 in all" in staff and "top person 90% of $1.00" in staff
    comments = page.select_one("#dashboard-comments").get_text(" ", strip=True)
    assert "Spot on" in comments and "No answer at all" in comments
    assert page.select_one("#dashboard-empty") is None


def test_filters_narrow_every_chart(admin_client):
    world = seed_world()
    page, data = home(admin_client, period="7d", tier=world.exec.pk)
    assert data["totals"]["cost"] == 1.0 and data["totals"]["questions"] == 2
    assert list(data["cost_by_tier"]) == ["exec"]
    assert "tier exec" in page.select_one("#dashboard-scope").get_text()
    page, data = home(admin_client, door="slack", knowledge_set="it")
    assert data["totals"]["questions"] == 2  # laptop, VPN
    assert data["totals"]["cost"] == 0.5
    page, data = home(admin_client, period="custom", first_day="2026-03-02", last_day="2026-03-02")
    assert data["days"] == ["2026-03-02"] and data["totals"]["cost"] == 2.0
    page, data = home(admin_client, door="tests")
    assert data["totals"]["cost"] == 5.0


@pytest.mark.parametrize(
    "query",
    [
        {"period": "custom"},
        {"period": "custom", "first_day": "2026-03-09", "last_day": "2026-03-01"},
        {"period": "decade"},
        {"tier": "999999"},
        {"tier": "not-a-number"},
        {"door": "telegram"},
        {"knowledge_set": "nobody's set"},
        {"first_day": "yesterday", "period": "custom", "last_day": "2026-03-10"},
    ],
)
def test_bad_filters_show_an_error_and_fall_back_to_seven_days(admin_client, query):
    seed_world()
    page, data = home(admin_client, **query)
    assert page.select_one(".dash-error[role=alert]") is not None
    assert len(data["days"]) == 7 and data["totals"]["questions"] == 8


def test_a_fresh_install_shows_an_intentional_empty_state(admin_client):
    page, data = home(admin_client)
    assert page.select_one("#dashboard-empty") is not None
    assert figure(page, "questions") == "0"
    assert figure(page, "cost") == "$0"
    assert figure(page, "hit_rate") == "—"
    assert "No finished evaluation run yet" in page.select_one("#dashboard-evaluation").get_text()
    assert page.select("canvas[data-chart]") == []


def test_charts_are_drawn_from_static_files_never_a_cdn(admin_client):
    seed_world()
    response = admin_client.get(reverse("admin:index"))
    text = response.content.decode()
    page = BeautifulSoup(text, "html.parser")
    sources = [s["src"] for s in page.select("script[src]")]
    assert any(s.endswith("adminsite/dashboard.js") for s in sources)
    assert any("unfold/js/chart/chart.js" in s for s in sources)
    assert all(s.startswith("/static/") for s in sources), sources


def test_the_dashboard_needs_a_staff_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    get_user_model().objects.create_user("someone", password="pw", is_staff=False)
    client.login(username="someone", password="pw")
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_period_without_spending_says_so_instead_of_empty_cost_charts(admin_client):
    UsageRecordFactory(mode="extractive", provider="extractive", model="", created_at=NOW)
    QuestionRecordFactory(outcome="extractive", created_at=NOW)
    page, data = home(admin_client)
    assert data["totals"]["cost"] == 0.0
    assert page.select("canvas[data-chart^=cost_by]") == []
    assert len(page.select(".dash-nothing-spent")) == 2
    assert page.select_one('canvas[data-chart="questions"]') is not None
