"""Documents in a real browser against `manage.py serve` (gunicorn + the django-q2
worker): upload three files (one corrupt, one a JSONL export) through the admin form, watch
one become ready, the other failed with its reason and the export ready with its records
without reloading, open the export's records, ask the CLI a question the new file
answers, look at the knowledge set's page, re-ingest, delete. Screenshots land in
tests/browser/artifacts/."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.slow

BIKES = (
    "# Bicycle parking\n\n"
    "Bicycles are parked in the basement rack B7, which opens with the blue visitor badge.\n\n"
    "## Showers\n\nShowers for cyclists are on level -1 next to the lockers.\n"
)
SETUP = (
    "from ragengine.services.knowledge import knowledge_set_get_or_create",
    "from ragengine.models import ChannelBinding",
    "ks = knowledge_set_get_or_create(name='handbook')",
    "ChannelBinding.objects.create(platform='slack', channel_id='C0PEOPLE', name='#people')"
    ".knowledge_sets.add(ks)",
)
VISITOR_FAQ = (
    '{"id": "badges", "text": "Visitors collect a blue badge at the front desk.", '
    '"metadata": {"title": "Visitor badges"}}\n'
    '{"id": "wifi", "text": "The guest wifi password is printed on the visitor badge.", '
    '"metadata": {"title": "Guest wifi"}}\n'
    "{this line was cut off\n"
)
WAIT_MS = 120_000


def run_action(page, action: str, *titles: str) -> None:
    """Tick the rows with these titles and run the action, as an admin does."""
    for title in titles:
        row = page.locator("#result_list tbody tr", has_text=title)
        row.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    with page.expect_navigation():  # the next page, not the one being left, is read after
        page.locator("button[name=index]").click()


def test_upload_watch_ask_reingest_delete(start_arandu, browser, screenshots, tmp_path):
    live = start_arandu("serve", extra=SETUP)
    good = tmp_path / "bicycle-parking.md"
    good.write_text(BIKES)
    corrupt = tmp_path / "scanned-contract.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n%\xe2\xe3 this file was cut off in transfer")
    export = tmp_path / "visitor-faq.jsonl"
    export.write_text(VISITOR_FAQ)

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    bad_responses: list[str] = []
    page.on(
        "response",
        lambda r: bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    live.login(page)

    # "Add document" is the upload page.
    page.goto(live.base + "/admin/ragengine/document/add/")
    page.wait_for_url("**/admin/ragengine/document/upload/")
    assert "20 MB each" in page.inner_text("#upload-form")
    page.select_option("#id_knowledge_set", label="handbook")
    page.set_input_files("#id_files", [str(good), str(corrupt), str(export)])
    assert page.locator("#upload-chosen li").count() == 3
    page.screenshot(path=screenshots / "documents-01-upload.png", full_page=True)
    page.locator("#upload-form button[type=submit]").click()

    # Back on the set's documents at once; the statuses change without a manual reload.
    page.wait_for_url(re.compile(r".*/admin/ragengine/document/\?knowledge_set__id__exact=\d+$"))
    assert "Queued 3 files for ingestion" in page.inner_text("body")
    page.wait_for_selector(
        "#result_list tr:has-text('scanned') [data-state=failed]", timeout=WAIT_MS
    )
    page.wait_for_selector(
        "#result_list tr:has-text('Bicycle parking') [data-state=ready]", timeout=WAIT_MS
    )
    failed_row = page.locator("#result_list tbody tr", has_text="scanned")
    assert "PDF" in failed_row.inner_text()
    ready_row = page.locator("#result_list tbody tr", has_text="Bicycle parking")
    assert "admin" in ready_row.inner_text()
    assert ready_row.locator("[data-document-ingested]").inner_text() != "-"  # polled in
    # The export: ready with its records counted and the cut-off line reported.
    page.wait_for_selector(
        "#result_list [data-state=ready]:has-text('2 records, 1 skipped')", timeout=WAIT_MS
    )
    export_row = page.locator("#result_list tbody tr", has_text="2 records, 1 skipped")
    assert "Line 3 is not valid JSON" in export_row.inner_text()
    page.screenshot(path=screenshots / "documents-02-list.png", full_page=True)

    # Its records are documents of their own, listed from the export's row.
    export_row.get_by_role("link", name="records").click()  # "2 records" once reloaded
    page.wait_for_url(re.compile(r".*\?parent__id__exact=\d+$"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "Guest wifi" in rows.nth(0).inner_text() and "Visitor badges" in rows.nth(1).inner_text()
    assert page.locator("#result_list [data-state=ready]").count() == 2
    page.screenshot(path=screenshots / "documents-02b-export-records.png", full_page=True)

    # The CLI answers from the uploaded file.
    asked = live.manage(
        "ask", "Where are bicycles parked?", "--knowledge-set", "handbook", "--json"
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "B7" in answer["answer"]
    assert any("Bicycle parking" in s["title"] for s in answer["sources"])

    # The knowledge set's page sums it up.
    page.goto(live.base + "/admin/ragengine/knowledgeset/")
    page.get_by_role("link", name="handbook").first.click()
    page.wait_for_url("**/change/")
    summary = page.locator("#knowledge-set-summary")
    # ready: the Markdown file and the export's two records (an export counts through them)
    assert summary.locator("[data-count=ready]").inner_text().strip() == "3"
    assert summary.locator("[data-count=failed]").inner_text().strip() == "1"
    assert "#people" in summary.inner_text() and "local:" in summary.inner_text()
    summary.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "documents-03-knowledge-set.png", full_page=True)

    # Re-ingest: queued again, then ready again on its own.
    page.goto(live.base + "/admin/ragengine/document/")
    run_action(page, "reingest", "Bicycle parking")
    assert "Queued 1 document for re-ingestion." in page.inner_text("body")
    page.wait_for_selector(
        "#result_list tr:has-text('Bicycle parking') [data-state=ready]", timeout=WAIT_MS
    )

    # Delete: a confirmation first, then gone with its chunks.
    run_action(page, "delete_documents", "Bicycle parking")
    assert "leave the vector store" in page.inner_text("#consequence")
    page.locator("#confirm-action [type=submit]").first.click()
    page.wait_for_url("**/admin/ragengine/document/")
    assert "Deleted 1 document" in page.inner_text("body")
    assert page.locator("#result_list tbody tr", has_text="Bicycle parking").count() == 0
    asked = live.manage(
        "ask", "Where are bicycles parked?", "--knowledge-set", "handbook", "--json"
    )
    assert "B7" not in json.loads(asked.stdout)["answer"]

    assert bad_responses == []
    assert errors == []
