"""Circuit changes written where every process can read them: a breaker lives in the
process that asks, while the alert evaluator and the dashboard run elsewhere."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from ragengine.models import ProviderCircuit

logger = logging.getLogger(__name__)


def circuit_change_record(name: str, state: str, failures: int) -> None:
    """Upsert the provider's row; called on open and close only, so rarely. In its own
    savepoint, so a failure here leaves the caller's transaction usable."""
    with transaction.atomic():
        ProviderCircuit.objects.update_or_create(
            name=name[:60],
            defaults={"state": state, "changed_at": timezone.now(), "failures": failures},
        )
    logger.info("circuit change recorded", extra={"provider": name, "circuit_state": state})
