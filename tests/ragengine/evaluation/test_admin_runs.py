"""Runs in the admin: started from a form, watched, cancelled (after a confirmation),
read on the run page, compared, pinned as a baseline, summed up in a model card."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse

from ragengine.evaluation.runs import run_start
from ragengine.models import EvalRun, EvalSet

pytestmark = pytest.mark.django_db


def soup(response) -> BeautifulSoup:
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.content, "html.parser")


def run_url(run) -> str:
    return reverse("admin:ragengine_evalrun_change", args=[run.pk])


def test_start_page_runs_the_set_and_leads_to_its_run_page(admin_client, eval_set):
    url = reverse("admin:ragengine_evalrun_start_run")
    form = soup(admin_client.get(f"{url}?eval_set={eval_set.pk}"))
    assert form.select_one("#id_eval_set option[selected]")["value"] == str(eval_set.pk)
    assert form.select_one("input[name=targets][value=extractive]").has_attr("checked")
    assert not form.select_one("#id_use_cache").has_attr("checked")  # bypassed by default

    response = admin_client.post(
        url,
        {"eval_set": eval_set.pk, "targets": ["extractive"], "budget_cap": "1", "concurrency": 1},
    )
    run = EvalRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run_url(run)
    assert (run.status, run.use_cache, run.created_by.username) == ("done", False, "admin")

    page = soup(admin_client.get(run_url(run)))
    assert "6 / 6 (100%)" in page.select_one("#run-progress").get_text()
    benchmark = {
        tr.th.get_text(strip=True): [td.get_text(strip=True) for td in tr.select("td")]
        for tr in page.select("#benchmark tbody tr")
    }
    assert benchmark["Refusal accuracy"][0].endswith("%")
    assert "Latency p95" in benchmark and "Cost / case" in benchmark
    assert not re.search(r"\bnan\b", page.get_text(), re.IGNORECASE)
    assert len(page.select("#cases tr.case")) == 6
    assert page.select_one("#tags") is not None
    assert page.select_one('meta[http-equiv="refresh"]') is None  # finished: no reloading

    failures = soup(admin_client.get(run_url(run) + "?failures=1"))
    assert len(failures.select("#cases tr.case")) < 6


def test_start_refuses_a_set_without_knowledge_sets_with_the_reason(admin_client, eval_set):
    eval_set.knowledge_sets.clear()
    response = admin_client.post(
        reverse("admin:ragengine_evalrun_start_run"),
        {"eval_set": eval_set.pk, "targets": ["extractive"], "budget_cap": "1", "concurrency": 1},
    )
    assert "has no knowledge sets" in response.content.decode()
    assert not EvalRun.objects.exists()


def test_a_running_run_page_reloads_itself_and_offers_cancel(admin_client, eval_set):
    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    page = soup(admin_client.get(run_url(run)))
    assert page.select_one('meta[http-equiv="refresh"]') is not None
    cancel = reverse("admin:ragengine_evalrun_cancel", args=[run.pk])
    assert page.select_one(f'a[href="{cancel}"]') is not None

    confirm = soup(admin_client.get(cancel))
    assert "Yes, cancel" in confirm.get_text()
    run.refresh_from_db()
    assert run.status == "queued"  # a GET only asks

    admin_client.post(cancel)
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_cancel_action_asks_before_it_cancels(admin_client, eval_set):
    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    url = reverse("admin:ragengine_evalrun_changelist")
    data = {"action": "cancel_runs", "_selected_action": [run.pk]}
    assert "Yes, cancel" in admin_client.post(url, data).content.decode()
    run.refresh_from_db()
    assert run.status == "queued"
    admin_client.post(url, data | {"post": "yes"})
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_a_viewer_can_read_runs_but_not_start_or_cancel_them(client, eval_set):
    from django.contrib.auth.models import Permission, User

    run = run_start(eval_set=eval_set, specs=["extractive"], enqueue=False)
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_evalrun"))
    client.force_login(user)
    assert client.get(run_url(run)).status_code == 200
    assert client.post(reverse("admin:ragengine_evalrun_cancel", args=[run.pk])).status_code == 403
    start = reverse("admin:ragengine_evalrun_start_run")
    assert (
        client.post(start, {"eval_set": eval_set.pk, "targets": ["extractive"]}).status_code == 403
    )
    run.refresh_from_db()
    assert run.status == "queued" and EvalRun.objects.count() == 1


def test_compare_shows_per_metric_and_per_case_regressions(admin_client, eval_set):
    first = run_start(eval_set=eval_set, specs=["extractive"])
    # The next run expects a fact no answer states: that case (and fact recall) regresses.
    case = eval_set.cases.get(question="What is the minimum length for a password?")
    case.expected_facts = [["a fact no document states"]]
    case.save()
    second = run_start(eval_set=eval_set, specs=["extractive"])
    second.refresh_from_db()
    assert second.flagged  # a regression beyond the threshold flags the run
    assert second.summary["comparison"]["against"] == first.pk

    url = reverse("admin:ragengine_evalrun_compare") + f"?a={second.pk}&b={first.pk}"
    page = soup(admin_client.get(url))
    assert f"Run {first.pk} → run {second.pk}" in page.get_text()
    regressed = [tr for tr in page.select("tr.verdict-regressed") if "fact_recall" in tr.get_text()]
    assert regressed
    rows = [
        [td.get_text(strip=True) for td in tr.select("td")]
        for tr in page.select("#case-changes tr")[1:]
    ]
    changed = [r for r in rows if r[-1] != "unchanged"]
    assert changed == [[case.question, "extractive", changed[0][2], changed[0][3], "regressed"]]

    only = soup(admin_client.get(url + "&verdict=regressed"))
    assert len(only.select("#case-changes tbody tr")) == 1

    via_action = admin_client.post(
        reverse("admin:ragengine_evalrun_changelist"),
        {"action": "compare_two", "_selected_action": [first.pk, second.pk]},
    )
    assert via_action["Location"].endswith(f"?a={first.pk}&b={second.pk}")


def test_model_card_sums_up_a_target_and_downloads_as_markdown(admin_client, eval_set):
    run_start(eval_set=eval_set, specs=["extractive"])
    url = reverse("admin:ragengine_evalrun_model_card") + "?target=extractive"
    page = soup(admin_client.get(url))
    text = page.select_one("#model-card").get_text()
    assert "# Model card: extractive" in text and "| handbook |" in text
    assert "Cost per 1000 questions" in text and "$0.000000" in text
    download = admin_client.get(url + "&format=md")
    assert download["Content-Disposition"] == 'attachment; filename="model-card-extractive.md"'
    assert download.content.decode().startswith("# Model card: extractive")

    unknown = admin_client.get(reverse("admin:ragengine_evalrun_model_card") + "?target=gpt")
    assert unknown.status_code == 302


def test_pinning_a_baseline_makes_later_runs_report_drift(admin_client, eval_set):
    baseline = run_start(eval_set=eval_set, specs=["extractive"])
    admin_client.post(
        reverse("admin:ragengine_evalrun_changelist"),
        {"action": "pin_as_baseline", "_selected_action": [baseline.pk]},
    )
    assert EvalSet.objects.get(pk=eval_set.pk).baseline_run == baseline

    later = run_start(eval_set=eval_set, specs=["extractive"])
    later.refresh_from_db()
    drift = later.summary["drift"]
    assert drift["baseline"] == baseline.pk
    latency = drift["targets"]["extractive"]["latency"]
    assert latency["statistic"] is not None and 0 <= latency["p_value"] <= 1
    assert "Drift from the baseline" in admin_client.get(run_url(later)).content.decode()
