"""django-q2 tasks through the real worker code (sync mode): their log lines carry the
request id of whoever queued them (else the task's id), outcomes and failures are
counted, and the caller's own request id is back afterwards."""

from __future__ import annotations

import logging

import pytest
from django_q.tasks import async_task

from adminsite.logging import RequestIdFilter
from ragengine.request_context import current_request_id, request_scope
from tests.metrics_values import own_value

pytestmark = pytest.mark.django_db

logger = logging.getLogger("tests.task")
FAILING = "tests.adminsite.test_task_signals.failing_task"
LOGGING = "tests.adminsite.test_task_signals.logging_task"


def failing_task() -> None:
    logger.warning("about to fail")
    raise RuntimeError("the task broke")


def logging_task() -> str:
    logger.warning("task working")
    return current_request_id()


@pytest.fixture
def captured(caplog):
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        yield caplog


def test_a_task_queued_during_a_request_logs_with_that_requests_id(captured):
    with request_scope("queued-by-req1", door="api"):
        async_task(LOGGING, sync=True)
        assert current_request_id() == "queued-by-req1"  # restored after the task

    (line,) = [r for r in captured.records if r.getMessage() == "task working"]
    assert line.request_id == "queued-by-req1"
    assert line.door == "task"


def test_a_task_queued_outside_any_request_logs_with_its_task_id(captured):
    task_id = async_task(LOGGING, sync=True)
    (line,) = [r for r in captured.records if r.getMessage() == "task working"]
    assert line.request_id == task_id[:32]
    assert current_request_id() == ""


def test_task_outcomes_and_failures_are_counted(captured):
    failures = own_value("arandu_task_failures_total", func=FAILING)
    runs = own_value("arandu_tasks_total", func=LOGGING, outcome="success")

    with pytest.raises(RuntimeError):
        async_task(FAILING, sync=True)
    async_task(LOGGING, sync=True)

    assert own_value("arandu_task_failures_total", func=FAILING) - failures == 1
    assert own_value("arandu_tasks_total", func=LOGGING, outcome="success") - runs == 1
    assert current_request_id() == ""  # a failing task does not leave its id bound
