"""Evaluation in a real browser against `manage.py serve` (gunicorn + the django-q2
worker): create a set, import the example cases, start a run, watch its progress finish,
open the run page, run again and compare. Screenshots land in tests/browser/artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "evaluation" / "handbook.jsonl"
DOCS = ("employee-handbook.md", "politica-de-reembolso.md")
pytestmark = pytest.mark.slow


@pytest.fixture
def live_arandu(start_arandu, tmp_path):
    """`manage.py serve` on a fresh data dir with two handbook files ingested; a cases
    file made of the example set's cases about them. Yields (base URL, password, cases)."""
    cases = tmp_path / "handbook-cases.jsonl"
    cases.write_text(
        "".join(
            line + "\n"
            for line in EXAMPLE.read_text().splitlines()
            if any(f'"{name}"' in line for name in DOCS) or '"must_refuse": true' in line
        )
    )
    live = start_arandu("serve", handbook=DOCS)
    return live.base, live.password, cases


def start_run(page, base: str) -> str:
    """From the set's page: Start a run with the defaults (extractive, cache bypassed)."""
    page.get_by_role("link", name="Start a run").first.click()
    page.wait_for_url("**/evalrun/start_run/**")
    assert page.locator("input[name=targets][value=extractive]").is_checked()
    assert not page.locator("#id_use_cache").is_checked()
    page.locator("#run-start-form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/evalrun/\d+/change/$"))
    return page.url


def test_a_set_is_created_run_watched_and_compared(live_arandu, browser, screenshots):
    base, password, cases = live_arandu
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

    page.goto(base + "/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/admin/")
    sidebar = page.locator("#nav-sidebar-apps")
    assert "Evaluation" in sidebar.locator("h2").all_inner_texts()

    # A new set over the handbook's knowledge set.
    sidebar.get_by_role("link", name="Evaluation sets").click()
    page.goto(base + "/admin/ragengine/evalset/add/")
    page.fill("#id_name", "handbook")
    page.select_option("#id_knowledge_sets_from", label="handbook")
    page.click("#id_knowledge_sets_add")
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_url(re.compile(r".*/evalset/\d+/change/$"))
    set_url = page.url

    # Its cases from the example file.
    page.get_by_role("link", name="Import cases").click()
    page.set_input_files("#id_file", str(cases))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(set_url)
    imported = len(cases.read_text().splitlines())
    assert f"Imported {imported} case(s) into handbook." in page.content()
    page.screenshot(path=screenshots / "eval-01-set.png")
    page.get_by_role("link", name="Check expected documents").click()
    assert "Every expected document exists and is ready." in page.content()

    # A run, answered by the worker; the page reloads itself until it is done.
    page.goto(set_url)
    first = start_run(page, base)
    page.screenshot(path=screenshots / "eval-02-run-in-progress.png")
    page.wait_for_function(
        "document.querySelector('#run-progress')?.textContent.includes('(100%)')"
        " && !document.querySelector('meta[http-equiv=refresh]')",
        timeout=180_000,
    )
    assert "Done" in page.locator("#run-status").inner_text()
    benchmark = page.locator("#benchmark").inner_text()
    assert "Fact recall" in benchmark and "Latency p95" in benchmark
    assert page.locator("#cases tr.case").count() == imported
    page.screenshot(path=screenshots / "eval-03-run-page.png", full_page=True)
    page.locator("#failures-only").click()
    assert page.locator("#cases tr.case").count() < imported

    # Again, and compared with the first.
    page.goto(set_url)
    start_run(page, base)
    page.wait_for_function("!document.querySelector('meta[http-equiv=refresh]')", timeout=180_000)
    page.locator("#compare-previous").click()
    page.wait_for_url("**/evalrun/compare/**")
    assert page.locator("#case-changes tbody tr").count() == imported
    assert "unchanged" in page.locator("#case-changes").inner_text()
    page.screenshot(path=screenshots / "eval-04-compare.png", full_page=True)

    page.goto(first)
    page.get_by_role("link", name="model card").first.click()
    assert "# Model card: extractive" in page.locator("#model-card").inner_text()
    page.screenshot(path=screenshots / "eval-05-model-card.png")

    assert failed == []
    assert errors == []
