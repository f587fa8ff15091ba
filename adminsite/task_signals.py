"""django-q2 tasks, observed: each task's log lines carry a request id (the one of the
request that queued it, else the task's id), its outcome is counted in the metrics, a
failure goes to Sentry, and a worker process starting is a heartbeat (and loads the
local embedder).

Connected in `AdminsiteConfig.ready()`; the signals fire in the worker process, or
inline in sync mode (tests).
"""

from __future__ import annotations

import logging
from typing import Any

from ragengine import metrics
from ragengine.request_context import current_request_id, enter_request, leave_request

logger = logging.getLogger(__name__)

REQUEST_ID_KEY = "arandu_request_id"  # in the queued task: the request that queued it
_TOKEN_KEY = "_arandu_context_token"  # popped before the task leaves the worker process


def func_name(func: Any) -> str:
    if isinstance(func, str):
        return func
    module = getattr(func, "__module__", "") or ""
    name = getattr(func, "__qualname__", "") or getattr(func, "__name__", "") or repr(func)
    return f"{module}.{name}" if module else name


def on_pre_enqueue(sender: Any, task: dict, **kwargs: Any) -> None:
    if request_id := current_request_id():
        task[REQUEST_ID_KEY] = request_id


def on_pre_execute(sender: Any, func: Any, task: dict, **kwargs: Any) -> None:
    request_id = task.get(REQUEST_ID_KEY) or str(task.get("id") or "")
    task[_TOKEN_KEY] = enter_request(request_id, door="task")


def on_post_execute_in_worker(sender: Any, func: Any, task: dict, **kwargs: Any) -> None:
    token = task.pop(_TOKEN_KEY, None)
    try:
        success = bool(task.get("success", False))
        name = func_name(task.get("func"))
        metrics.record_task(func=name, success=success)
        if not success:
            _report_failure(name, task)
    finally:
        if token is not None:
            leave_request(token)


def _report_failure(name: str, task: dict) -> None:
    """To Sentry when it is on: the exception itself when it is still being handled
    (sync mode), else the traceback django-q2 kept as the task's result."""
    import sys

    import sentry_sdk

    if not sentry_sdk.is_initialized():
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("task", name)
        scope.set_tag("task_id", str(task.get("id") or ""))
        if sys.exc_info()[1] is not None:
            sentry_sdk.capture_exception()
            return
        scope.set_extra("traceback", str(task.get("result") or "")[-8000:])
        sentry_sdk.capture_message(f"background task failed: {name}", level="error")


def on_post_spawn(sender: Any, proc_name: str = "", **kwargs: Any) -> None:
    """A worker process started: the worker is alive (readiness needs no minute's wait),
    and it loads the local embedder beside its first tasks (ragengine.services.warm_up)."""
    from ragengine.services.warm_up import embedder_warm_up_in_background
    from ragengine.services.workers import worker_heartbeat

    try:
        worker_heartbeat()
    except Exception:
        logger.warning("worker heartbeat not recorded", exc_info=True)
    embedder_warm_up_in_background(role="worker")


def connect() -> None:
    from django_q.signals import post_execute_in_worker, post_spawn, pre_enqueue, pre_execute

    pre_enqueue.connect(on_pre_enqueue, dispatch_uid="arandu-pre-enqueue")
    pre_execute.connect(on_pre_execute, dispatch_uid="arandu-pre-execute")
    post_execute_in_worker.connect(on_post_execute_in_worker, dispatch_uid="arandu-post-execute")
    post_spawn.connect(on_post_spawn, dispatch_uid="arandu-post-spawn")
