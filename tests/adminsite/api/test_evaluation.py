"""/api/v1/evaluation/runs: a service account starts a run of a set within its knowledge
sets (the admin's `run_start`, run by the worker — here in-process) and reads its
summary and per-case results; member tokens, other sets and bad input are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ragengine.evaluation.cases_io import eval_cases_import
from ragengine.models import ApiTokenKind, EvalRun, EvalSet
from tests.adminsite.api.conftest import client_for
from tests.factories import KnowledgeSetFactory
from tests.ragengine.evaluation.conftest import example_cases

RUNS = "/api/v1/evaluation/runs"


@pytest.fixture(autouse=True)
def _one_question_at_a_time(settings):
    """Tasks run inline here: the runner's other threads could not see this test's
    uncommitted rows."""
    settings.ARANDU_EVAL_CONCURRENCY = 1


@pytest.fixture
def service(issue, handbook):
    return issue(kind=ApiTokenKind.SERVICE, sets=[handbook], scopes=["evaluation"])


def start(issued, **body):
    return client_for(issued).post(RUNS, body, format="json")


def test_a_service_account_starts_a_run_and_reads_its_results(service, eval_set):
    response = start(service, eval_set="handbook", targets=["extractive"])
    assert response.status_code == 202, response.json()
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["eval_set"] == "handbook"
    assert [t["spec"] for t in body["targets"]] == ["extractive"]
    assert body["cases_total"] == len(example_cases())
    run = EvalRun.objects.get(pk=body["id"])
    assert run.created_by == service.token.created_by

    # tasks run synchronously here: the run has finished when the start returns
    detail = client_for(service).get(body["url"]).json()
    assert detail["status"] == "done", detail["error"]
    assert detail["cases_done"] == detail["cases_total"]
    extractive = detail["summary"]["targets"]["extractive"]
    assert extractive["metrics"]["fact_recall"]["n"] > 0

    page = client_for(service).get(body["results_url"], {"limit": 2}).json()
    assert page["count"] == len(example_cases()) and len(page["results"]) == 2
    first = page["results"][0]
    assert first["target"] == "extractive" and first["question"] and "metrics" in first
    rest = client_for(service).get(body["results_url"], {"offset": 2, "limit": 200}).json()
    questions = [r["question"] for r in page["results"] + rest["results"]]
    assert sorted(questions) == sorted(c.question for c in example_cases())
    failures = client_for(service).get(body["results_url"], {"failures": "true"}).json()
    assert failures["count"] <= page["count"]


def test_member_tokens_may_not_start_or_read_runs(issue, handbook, eval_set, service):
    member = issue(sets=[handbook], scopes=["ask", "reports", "evaluation"])
    response = start(member, eval_set="handbook", targets=["extractive"])
    assert response.status_code == 403
    assert response.json()["error"] == "service_account_required"
    assert not EvalRun.objects.exists()

    started = start(service, eval_set="handbook", targets=["extractive"]).json()
    read = client_for(member).get(started["url"])
    assert read.status_code == 403 and read.json()["error"] == "service_account_required"


def test_the_evaluation_scope_is_needed(issue, handbook, eval_set):
    other = issue(kind=ApiTokenKind.SERVICE, sets=[handbook], scopes=["ask", "reports"])
    response = start(other, eval_set="handbook", targets=["extractive"])
    assert response.status_code == 403 and response.json()["error"] == "scope_missing"


def test_sets_and_runs_beyond_the_tokens_knowledge_sets_are_out_of_reach(
    issue, handbook, eval_set, service
):
    secret = KnowledgeSetFactory(name="secret")
    hidden = EvalSet.objects.create(name="salaries")
    hidden.knowledge_sets.set([secret])
    eval_cases_import(eval_set=hidden, cases=example_cases()[:1])
    mixed = EvalSet.objects.create(name="mixed")
    mixed.knowledge_sets.set([handbook, secret])
    eval_cases_import(eval_set=mixed, cases=example_cases()[:1])

    for name in ("salaries", "mixed", "no-such-set"):
        response = start(service, eval_set=name, targets=["extractive"])
        assert response.status_code == 400, name
        assert response.json()["fields"]["eval_set"] == [
            f"No evaluation set {name!r} on the knowledge sets of this token."
        ]
    assert not EvalRun.objects.exists()

    # a run someone else started on the secret set: not found, like a missing one
    insider = issue(kind=ApiTokenKind.SERVICE, sets=[secret], scopes=["evaluation"])
    run = start(insider, eval_set="salaries", targets=["extractive"]).json()
    for path in (f"{RUNS}/{run['id']}", f"{RUNS}/{run['id']}/results", f"{RUNS}/999999"):
        response = client_for(service).get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
    assert client_for(service).get(f"{RUNS}/{2**63}").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"targets": ["extractive"]}, "eval_set"),
        ({"eval_set": "handbook"}, "targets"),
        ({"eval_set": "handbook", "targets": []}, "targets"),
        ({"eval_set": "handbook", "targets": ["extractive"] * 9}, "targets"),
        ({"eval_set": "handbook", "targets": ["extractive"], "concurrency": 0}, "concurrency"),
        (
            {"eval_set": "handbook", "targets": ["extractive"], "budget_cap": "-1"},
            "budget_cap",
        ),
        ({"eval_set": "hand\x00book", "targets": ["extractive"]}, "eval_set"),
    ],
)
def test_bad_input_is_a_400_per_field(service, eval_set, body, field):
    response = start(service, **body)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not EvalRun.objects.exists()


def test_a_budget_cap_above_the_servers_is_refused(service, eval_set, settings):
    settings.ARANDU_EVAL_BUDGET_CAP = Decimal("0.50")
    response = start(service, eval_set="handbook", targets=["extractive"], budget_cap="5")
    assert response.status_code == 400
    assert "ARANDU_EVAL_BUDGET_CAP" in response.json()["fields"]["budget_cap"][0]


def test_targets_the_service_refuses_are_a_400_saying_why(service, eval_set):
    for target, words in (("tier:Nope", "no tier named"), ("gpt", "is not a target")):
        response = start(service, eval_set="handbook", targets=[target])
        assert response.status_code == 400
        assert words in response.json()["detail"], response.json()
    assert not EvalRun.objects.exists()


def test_results_paging_is_validated(service, eval_set):
    run = start(service, eval_set="handbook", targets=["extractive"]).json()
    for query in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"failures": "maybe"}):
        response = client_for(service).get(run["results_url"], query)
        assert response.status_code == 400, query
