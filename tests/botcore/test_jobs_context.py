"""A door's background job runs with the request id its event was bound to."""

from __future__ import annotations

from botcore.jobs import BackgroundJobs
from ragengine.request_context import current_request_id, request_scope


def test_a_job_on_a_worker_thread_sees_the_submitters_request_id():
    jobs = BackgroundJobs(workers=1, name="test")
    try:
        with request_scope("event-42", door="slack"):
            future = jobs.submit(current_request_id)
        later = jobs.submit(current_request_id)  # submitted outside: none
        assert future.result(timeout=5) == "event-42"
        assert later.result(timeout=5) == ""
    finally:
        jobs.shutdown()
