"""The admin in a real browser against the real web server (gunicorn + WhiteNoise, DEBUG
off, static files collected): styled, grouped, and nothing on the page fails to load.
Screenshots land in tests/browser/artifacts/ for a person to look at."""

from __future__ import annotations

import pytest

GROUPS = [
    "Knowledge",
    "People & tiers",
    "Models & prices",
    "Questions",
    "Cache",
    "Evaluation",
    "Alerts",
    "Chat doors",
    "System",
]
pytestmark = pytest.mark.slow


@pytest.fixture
def live_admin(start_arandu):
    """`manage.py runweb` (what the Docker image runs) on a fresh data dir with the
    example handbook's Markdown ingested and one question asked.
    Yields (base URL, user, password)."""
    live = start_arandu(
        "runweb",
        handbook=("employee-handbook.md", "politica-de-reembolso.md"),
        extra=("run('ask', 'How many vacation days do I get?')",),  # a row in the usage ledger
    )
    return live.base, live.user, live.password


def test_admin_is_styled_grouped_and_loads_everything(live_admin, browser, screenshots):
    base, user, password = live_admin
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(base + "/")  # the root leads to the admin login
    assert page.url.startswith(base + "/admin/login/")
    sheet = page.evaluate(
        "[...document.styleSheets].find(s => (s.href || '').includes('/unfold/css/styles.'))"
        "?.cssRules.length || 0"
    )
    assert sheet > 100, "unfold's stylesheet did not load"
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Inter" in font, font
    page.screenshot(path=screenshots / "01-login.png")

    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/admin/")
    sidebar = page.locator("#nav-sidebar-apps")
    assert sidebar.locator("h2").all_inner_texts() == GROUPS
    assert sidebar.get_by_role("link", name="Documents").is_visible()
    page.screenshot(path=screenshots / "02-home.png")

    sidebar.get_by_role("link", name="Documents").click()
    page.wait_for_url("**/admin/ragengine/document/")
    assert page.get_by_role("link", name="Acme Lda. Employee Handbook").count() >= 1
    page.screenshot(path=screenshots / "03-documents.png")

    page.get_by_role("link", name="Acme Lda. Employee Handbook").first.click()
    page.wait_for_url("**/change/")
    page.screenshot(path=screenshots / "04-document.png")

    page.goto(base + "/admin/ragengine/tier/")
    page.locator("#result_list tbody a").first.click()
    page.wait_for_url("**/change/")
    page.screenshot(path=screenshots / "05-tier.png")
    chain = page.locator("#chain-group")  # the ordered models: unfold's tabular inline
    chain.scroll_into_view_if_needed()
    assert chain.is_visible()
    page.screenshot(path=screenshots / "06-tier-models.png")

    page.goto(base + "/admin/ragengine/usagerecord/")
    assert "1 question ·" in page.locator("#usage-totals").inner_text()
    page.screenshot(path=screenshots / "07-usage.png")

    assert failed == []
    assert errors == []
