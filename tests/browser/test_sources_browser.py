"""Folder sources in a real browser against the real web server (`manage.py runweb`,
django-q2 in sync mode so "Sync now" runs in the request): an admin registers a folder,
is told when a path breaks the rules, syncs it now and reads the run's counts and failed
files. Screenshots land in tests/browser/artifacts/ (sources-*.png)."""

from __future__ import annotations

import secrets

import pytest

from tests.browser.web_server import prepare, served, server_env

pytestmark = pytest.mark.slow


@pytest.fixture
def live_sources(tmp_path):
    """The web server on a fresh data dir whose source root holds one folder of two
    Markdown files and a broken PDF. Yields (base URL, password, folder)."""
    password = secrets.token_urlsafe(12)
    folder = tmp_path / "sources" / "policies"
    folder.mkdir(parents=True)
    (folder / "leave.md").write_text("# Leave\n\nYou get 25 days of vacation a year.\n")
    (folder / "travel.md").write_text("# Travel\n\nHotels up to R$ 450 a night.\n")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    env = server_env(
        ARANDU_DATA_DIR=str(tmp_path / "data"),
        ARANDU_ADMIN_PASSWORD=password,
        ARANDU_SOURCE_ROOTS=str(tmp_path / "sources"),
        ARANDU_Q_SYNC="true",
    )
    prepare(
        env,
        [
            "run('migrate', interactive=False, verbosity=0)",
            "run('ensure_admin')",
            "run('collectstatic', interactive=False, verbosity=0)",
            "from ragengine.models import KnowledgeSet",
            "KnowledgeSet.objects.create(name='handbook')",
        ],
    )
    with served(env, log=tmp_path / "web.log") as base:
        yield base, password, folder


def test_an_admin_registers_syncs_and_reads_a_folder_source(live_sources, browser, screenshots):
    base, password, folder = live_sources
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(base + "/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")

    page.goto(base + "/admin/ragengine/source/add/")
    page.fill("#id_name", "Policies share")
    page.select_option("#id_knowledge_set", label="handbook")
    page.fill("#id_path", "/etc")
    with page.expect_navigation():
        page.click("button[name=_save]")
    assert "is outside the folders sources may scan" in page.content()
    page.screenshot(path=screenshots / "sources-1-refused.png", full_page=True)

    page.fill("#id_path", str(folder))
    page.click("button[name=_save]")
    page.wait_for_url("**/admin/ragengine/source/")
    assert "Policies share" in page.content()

    page.locator("#result_list tbody input[type=checkbox]").first.check()
    page.select_option("select[name=action]", "sync_now")
    with page.expect_navigation():
        page.locator("button[type=submit][name=index], button:has-text('Run')").first.click()
    assert "Queued a sync of" in page.content()
    assert "2 added, 1 failed" in page.content()
    page.screenshot(path=screenshots / "sources-2-list.png", full_page=True)

    with page.expect_navigation():
        page.get_by_role("link", name="Policies share").first.click()
    assert "Finished with failed files" in page.content()
    page.screenshot(path=screenshots / "sources-3-source.png", full_page=True)

    page.goto(base + "/admin/ragengine/syncrun/")
    with page.expect_navigation():
        page.locator("#result_list tbody a").first.click()
    assert "scan.pdf" in page.content()
    page.screenshot(path=screenshots / "sources-4-run.png", full_page=True)
