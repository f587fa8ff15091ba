"""The "worker not running" alert rule, checked from outside the worker.

Every other alert rule is evaluated by a django-q2 schedule, which the worker runs: when
the worker is dead or wedged, the rule that should say so never runs. `manage.py serve`
(which supervises the worker) checks that one rule itself every `INTERVAL_S`; a
deployment that runs the worker elsewhere runs `manage.py alerts evaluate --kind
worker_down` from cron for the same effect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import close_old_connections, connection

from ragengine.alerts.evaluate import EvaluationSummary, alerts_evaluate
from ragengine.models import AlertKind

logger = logging.getLogger(__name__)

INTERVAL_S = 60.0  # as often as the worker's own schedule evaluates the rules


class WorkerWatch:
    """Evaluates the worker rule when `tick()` finds the interval passed. The first
    check waits one interval, so a worker that is still starting is not reported."""

    def __init__(
        self, *, interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.due_at = clock() + interval_s

    def tick(self) -> EvaluationSummary | None:
        if self.clock() < self.due_at:
            return None
        self.due_at = self.clock() + self.interval_s
        return worker_rule_check()


def worker_rule_check() -> EvaluationSummary | None:
    """Evaluate the enabled "worker not running" rules now; a failure (database down) is
    logged and the next tick tries again, the supervisor goes on."""
    _drop_broken_connections()
    try:
        summary = alerts_evaluate(kinds=[AlertKind.WORKER_DOWN])
    except Exception:
        logger.exception("worker alert rule could not be checked")
        return None
    finally:
        _drop_broken_connections()
    if summary.fired or summary.resolved:
        logger.info(
            "worker alert rule checked from the supervisor",
            extra={"fired": summary.fired, "resolved": summary.resolved},
        )
    return summary


def _drop_broken_connections() -> None:
    """A long-lived supervisor holds its connection between checks: drop it when the
    database went away, so the next check connects again (not inside a transaction,
    which only the tests hold around it)."""
    if not connection.in_atomic_block:
        close_old_connections()
