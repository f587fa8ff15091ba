"""The playground and the question history in a real browser against the real web
server: ask as a member (extractive), compare with a tier answered by a local
OpenAI-compatible stub, then find the questions in the history and export them as CSV.
Screenshots land in tests/browser/artifacts/ for a person to look at."""

from __future__ import annotations

import csv
import io

import pytest

from bench.stub_openai import start_stub

pytestmark = pytest.mark.slow
QUESTION = "How many vacation days do I get per year?"


@pytest.fixture
def stub_model():
    server = start_stub(port=0, delay_s=0.05)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def live_admin(start_arandu, stub_model):
    setup = [
        "from ragengine.models import *",
        "from decimal import Decimal as D",
        f"e = ProviderEndpoint.objects.create(name='stub', kind='openai', base_url={stub_model!r},"
        " api_key_env='STUB_API_KEY', max_retries=0, timeout_s=10)",
        "ModelPrice.objects.create(provider_kind='openai', model='stub-model',"
        " input_per_million=D('0.5'), output_per_million=D('1.5'))",
        "t = Tier.objects.create(name='Pro', daily_budget=D('5'))",
        "TierModel.objects.create(tier=t, position=0, endpoint=e, model='stub-model')",
        "ana = Member.objects.create(display_name='Ana Souza')",
        "ana.knowledge_sets.set(KnowledgeSet.objects.filter(name='handbook'))",
        "from ragengine.services.ask import ask",
        "from ragengine.ask_types import Channel",
        "ch = Channel('slack', 'C1', ('handbook',))",
        "ask(member=ana, question='Who approves my expense report?', channel=ch)",
        "ask(member=ana, question='Can I carry vacation days over?', channel=ch)",
    ]
    live = start_arandu(
        "runweb",
        handbook=("employee-handbook.md", "politica-de-reembolso.md"),
        extra=setup,
        env={"STUB_API_KEY": "sk-fake"},
    )
    return live.base, live.password


def test_playground_answers_with_a_trace_and_history_finds_and_exports(
    live_admin, browser, screenshots
):
    base, password = live_admin
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    page.goto(base + "/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/admin/")

    # The playground, from the sidebar: ask as Ana (her tier: the default, extractive).
    page.locator("#nav-sidebar-apps").get_by_role("link", name="Playground").click()
    page.wait_for_url("**/admin/playground/")
    page.fill("#id_question", QUESTION)
    page.select_option("#id_member", label="Ana Souza")
    page.locator("#playground-form button[type=submit]").click()
    page.wait_for_selector(".playground-column")
    column = page.locator(".playground-column").first
    assert "25" in column.locator(".pg-answer").inner_text()
    assert column.locator(".pg-sources li").count() >= 1
    assert column.locator(".retrieval-hits tbody tr").count() >= 1
    assert "direct message from Ana Souza" in column.locator(".trace-route").inner_text()
    page.screenshot(path=screenshots / "playground-1-extractive.png", full_page=True)

    # Compare: extractive against the Pro tier, whose stub model answers.
    page.fill("#id_question", QUESTION)
    page.select_option("#id_target", value="extractive")
    page.select_option("#id_compare", value="tier:Pro")
    page.locator("#id_use_cache").uncheck(force=True)  # the first answer is cached now
    page.locator("#playground-form button[type=submit]").click()
    page.wait_for_selector(".playground-column >> nth=1")
    columns = page.locator(".playground-column")
    assert columns.nth(0).locator(".pg-badge").first.inner_text() == "extractive"
    assert "off for this question" in columns.nth(0).locator(".trace-cache").inner_text()
    pro = columns.nth(1)
    assert pro.locator(".pg-badge").first.inner_text() == "generated"
    assert "Answer ONLY from the numbered sources" in pro.locator(".trace-prompt").inner_text()
    assert "stub:stub-model" in pro.locator(".trace-models").inner_text()
    page.screenshot(path=screenshots / "playground-2-compare.png", full_page=True)

    # The history finds the questions (the playground's too) and exports what it shows.
    page.locator("#nav-sidebar-apps").get_by_role("link", name="Question history").click()
    page.wait_for_url("**/questionrecord/")
    assert page.locator("#result_list tbody tr").count() == 5  # 2 asked in Slack + 3 here
    assert page.locator("#result_list td.field-door").all_inner_texts().count("playground") == 3
    page.fill("#searchbar", "vacation")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=vacation**")
    shown = page.locator("#result_list .field-short_question").all_inner_texts()
    assert sorted(set(shown)) == ["Can I carry vacation days over?", QUESTION]
    page.screenshot(path=screenshots / "history-1-search.png", full_page=True)
    with page.expect_download() as download:
        page.locator("#history-export").click()
    text = download.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(shown) and {r["question"] for r in rows} == set(shown)
    assert {r["door"] for r in rows} == {"slack", "playground"}

    page.locator("#result_list .field-short_question a").first.click()
    page.wait_for_url("**/change/**")
    assert "Acme Lda. Employee Handbook" in page.locator("#content-main").inner_text()
    page.screenshot(path=screenshots / "history-2-detail.png", full_page=True)
    assert errors == [] and failed == []
