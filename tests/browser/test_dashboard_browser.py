"""The dashboard in a real browser against the real web server (gunicorn + WhiteNoise,
static files collected): a fresh install's empty state, then the seeded world's charts
drawn by Chart.js from our static files, with the numbers the page shows checked against
the world's hand-counted figures. Screenshots land in tests/browser/artifacts/."""

from __future__ import annotations

import json

import pytest

from tests.browser.web_server import prepare

pytestmark = pytest.mark.slow


@pytest.fixture
def live_dashboard(start_arandu):
    """`manage.py runweb` on a fresh data dir with no question asked yet. Yields (base
    URL, password, seed) where `seed()` adds the dashboard world around today."""
    live = start_arandu("runweb")

    def seed() -> None:
        prepare(
            live.env,
            [
                "from django.utils import timezone",
                "from tests.ragengine.selectors.dashboard_world import seed_world",
                "seed_world(today=timezone.now().date())",
            ],
        )

    return live.base, live.password, seed


def kpi(page, key: str) -> str:
    return page.locator(f'[data-figure="{key}"] .dash-kpi-value').inner_text().strip()


def test_dashboard_shows_an_empty_state_then_the_seeded_charts(
    live_dashboard, browser, screenshots
):
    base, password, seed = live_dashboard
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(90_000)  # a busy CI machine; nothing here waits on purpose
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((base, "data:")) else None,
    )

    page.goto(base + "/admin/")  # to the login page, which leads back here
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/admin/")
    page.screenshot(path=screenshots / "dashboard-00-login.png")

    # A fresh install: an intentional empty state, not empty charts.
    assert page.locator("#dashboard-empty").is_visible()
    assert kpi(page, "questions") == "0"
    assert page.locator("canvas[data-chart]").count() == 0
    page.screenshot(path=screenshots / "dashboard-01-empty.png", full_page=True)

    seed()
    page.goto(base + "/admin/")
    canvases = page.locator("canvas[data-chart]")
    page.wait_for_function(
        "[...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.drawn)"
    )
    assert canvases.count() == 9  # evaluation has no run: its chart is not on the page
    data = json.loads(page.locator("#dashboard-data").text_content())
    assert data["totals"]["questions"] == 8
    assert data["totals"]["cost"] == 1.8
    assert data["questions"]["generated"][-2:] == [1, 2]
    assert data["cost_by_model"]["openai:gpt-4o"][-2:] == [1.0, 0.5]
    # the numbers a person reads, and the charts drew what the JSON says
    assert kpi(page, "questions") == "8"
    assert kpi(page, "people") == "3"
    assert kpi(page, "cost") == "$1.80"
    assert kpi(page, "gaps") == "3"
    drawn = page.evaluate(
        "document.querySelector('canvas[data-chart=questions]').chart.data.datasets"
        ".map(d => [d.label, d.data.reduce((a, b) => a + b, 0)])"
    )
    assert dict(drawn) == {"generated": 3, "extractive": 2, "cached": 1, "refused": 1, "error": 1}
    assert page.locator("#dashboard-gaps tr[data-gap-count]").count() == 2
    page.screenshot(path=screenshots / "dashboard-02-seeded.png", full_page=True)

    # One tier, through the form as an admin would.
    page.select_option("select[name=tier]", label="exec")
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_url("**/admin/?*tier=*")
    data = json.loads(page.locator("#dashboard-data").text_content())
    assert data["totals"]["cost"] == 1.0 and data["totals"]["questions"] == 2
    assert kpi(page, "cost") == "$1.00"
    page.screenshot(path=screenshots / "dashboard-03-tier.png", full_page=True)

    # A custom period shows its day fields; a bad one says why and shows 7 days.
    page.goto(base + "/admin/")
    page.select_option("select[name=period]", "custom")
    assert page.locator("input[name=first_day]").is_visible()
    page.click("#dashboard-filters button[type=submit]")
    assert page.locator(".dash-error").is_visible()
    page.screenshot(path=screenshots / "dashboard-04-bad-period.png")

    assert failed == []
    assert errors == []
    assert outside == []  # no CDN: every script, style and font from this server
