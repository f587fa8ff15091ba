"""Folder sources in a real browser: an admin registers a folder, is told when a path
breaks the rules, syncs it now and reads the run's counts and failed files. Screenshots
land in tests/browser/artifacts/ (sources-*.png)."""

from __future__ import annotations

import pytest

from ragengine.models import Source, SyncRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """Playwright's sync API keeps an event loop in this thread; the test's own ORM
    calls are plain synchronous ones, so Django's guard against async use is lifted."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def folder(settings, tmp_path):
    root = tmp_path / "sources"
    folder = root / "policies"
    folder.mkdir(parents=True)
    settings.ARANDU_SOURCE_ROOTS = [root]
    (folder / "leave.md").write_text("# Leave\n\nYou get 25 days of vacation a year.\n")
    (folder / "travel.md").write_text("# Travel\n\nHotels up to R$ 450 a night.\n")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    return folder


def test_an_admin_registers_syncs_and_reads_a_folder_source(
    live_server, admin_user, embedder, folder, monkeypatch, browser, screenshots
):
    from django_q.conf import Conf

    from ragengine.services.knowledge import knowledge_set_get_or_create

    monkeypatch.setattr(Conf, "SYNC", True)  # "Sync now" runs in the server thread
    knowledge_set_get_or_create(name="handbook")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("#login-form button[type=submit]")

    page.goto(live_server.url + "/admin/ragengine/source/add/")
    page.fill("#id_name", "Policies share")
    page.select_option("#id_knowledge_set", label="handbook")
    page.fill("#id_path", "/etc")
    page.click("button[name=_save]")
    assert "is outside the folders sources may scan" in page.content()
    page.screenshot(path=screenshots / "sources-1-refused.png", full_page=True)

    page.fill("#id_path", str(folder))
    page.click("button[name=_save]")
    page.wait_for_url("**/admin/ragengine/source/")
    assert Source.objects.get().q_schedule is not None

    page.locator("#result_list tbody input[type=checkbox]").first.check()
    page.select_option("select[name=action]", "sync_now")
    page.locator("button[type=submit][name=index], button:has-text('Run')").first.click()
    page.wait_for_load_state()
    assert "Queued a sync of" in page.content()
    assert "2 added, 1 failed" in page.content()
    page.screenshot(path=screenshots / "sources-2-list.png", full_page=True)

    page.get_by_role("link", name="Policies share").first.click()
    page.wait_for_load_state()
    page.screenshot(path=screenshots / "sources-3-source.png", full_page=True)

    run = SyncRun.objects.get()
    page.goto(live_server.url + f"/admin/ragengine/syncrun/{run.pk}/change/")
    assert "scan.pdf" in page.content()
    page.screenshot(path=screenshots / "sources-4-run.png", full_page=True)
