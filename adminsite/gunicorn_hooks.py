"""gunicorn server hooks (`--config python:adminsite.gunicorn_hooks`, set by
adminsite/web.py). Module-level names are what gunicorn reads as its settings."""

from __future__ import annotations

import os


def post_worker_init(worker) -> None:
    """A worker has loaded the app: it loads the local embedder beside serving, so its
    first question does not pay for the load (ragengine.services.warm_up)."""
    from ragengine.services.warm_up import embedder_warm_up_in_background

    embedder_warm_up_in_background(role="web")


def child_exit(server, worker) -> None:
    """A worker ended: drop its live gauges from the metrics sum (its counters and
    histograms stay, so totals never go backwards)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
