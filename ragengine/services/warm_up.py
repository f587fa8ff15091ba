"""Loading the configured local embedder when a serving process starts.

Local embedders load lazily (USE-multilingual takes about a second), so without this the
first question a web or background worker gets after a start pays for the load. The
serving processes call `embedder_warm_up_in_background` as they start (gunicorn's
`post_worker_init`, django-q2's `post_spawn`); no other command does, so `migrate`,
`check` and the tests never load a model they don't use. It runs beside the process's
own start: a question arriving meanwhile waits for the same load (the embedders load
under a lock), never for a second one.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from ragengine.retrieval import registry

logger = logging.getLogger(__name__)


def embedder_warm_up(*, role: str) -> bool:
    """Load the configured embedder now if it is local; True when it is loaded. `role`
    names the serving process in the log ("web", "worker").

    A remote embedder has nothing to load (and a call would cost a request), so it is
    skipped. A failure (a missing or corrupted model file) is logged, never raised: the
    process serves anyway, and questions meet the same error as they would have."""
    if settings.ARANDU_EMBEDDER != "local":
        logger.info(
            "embedder warm-up skipped",
            extra={"role": role, "embedder_kind": settings.ARANDU_EMBEDDER},
        )
        return False
    started = time.perf_counter()
    try:
        embedder = registry.get_embedder()
        embedder.embed_query("warm-up")  # the model, its tokenizer and a first inference
    except Exception:
        logger.warning(
            "embedder not loaded at start; questions will load it",
            exc_info=True,
            extra={"role": role},
        )
        return False
    logger.info(
        "embedder loaded at start",
        extra={
            "role": role,
            "embedder": embedder.name,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    return True


def embedder_warm_up_in_background(*, role: str) -> threading.Thread | None:
    """`embedder_warm_up` in a daemon thread, so the process starts serving at once;
    None (logged) when no thread could be started: the process serves all the same."""
    thread = threading.Thread(
        target=embedder_warm_up,
        kwargs={"role": role},
        name="embedder-warm-up",
        daemon=True,
    )
    try:
        thread.start()
    except RuntimeError:  # no thread to be had (a process or thread limit)
        logger.warning("embedder warm-up not started", exc_info=True, extra={"role": role})
        return None
    return thread
