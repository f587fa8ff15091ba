"""The Python client's evaluation calls against a live server on loopback."""

from __future__ import annotations

from decimal import Decimal

import pytest
from arandu_client import AranduClient, AranduError

from ragengine.models import ApiTokenKind
from tests.ragengine.evaluation.conftest import example_cases

pytestmark = pytest.mark.django_db(transaction=True)


def test_start_a_run_follow_it_and_page_its_results(
    live_server,
    issue,
    handbook,
    eval_set,
):
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[handbook], scopes=["evaluation"])

    with AranduClient(live_server.url, issued.plain, timeout_s=120) as arandu:
        started = arandu.start_evaluation_run(
            eval_set="handbook", targets=["extractive"], budget_cap="0.10", concurrency=1
        )
        run = arandu.evaluation_run(started.id)
        first = arandu.evaluation_results(run.id, limit=4)
        second = arandu.evaluation_results(run.id, offset=4, limit=4)
        with pytest.raises(AranduError) as refused:
            arandu.start_evaluation_run(eval_set="handbook", targets=["tier:Nope"])
        with pytest.raises(AranduError) as missing:
            arandu.evaluation_run(run.id + 1000)

    assert started.budget_cap == Decimal("0.10") and started.targets == ["extractive"]
    assert started.url.startswith(live_server.url)
    assert run.finished and run.status == "done" and run.cases_done == len(example_cases())
    assert run.summary["targets"]["extractive"]["metrics"]["fact_recall"]["n"] > 0
    assert first.count == len(example_cases()) and len(first.results) == 4
    assert {r.target for r in first.results} == {"extractive"}
    assert len(first.results) + len(second.results) == first.count
    assert all(isinstance(r.cost, Decimal) for r in first.results)
    assert refused.value.status == 400 and "no tier named" in refused.value.detail
    assert missing.value.status == 404 and missing.value.code == "not_found"
