"""Dashboard: whether the models are up, per endpoint.

Circuit state, error rate over the last calls and the last error come from this
process's circuit breakers (the web process answers Slack, the API and the playground;
the Discord bot and the task worker keep their own). Answers and their share of the
period come from the ledger, which every process writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from ragengine.llm.circuit_breaker import BreakerSnapshot
from ragengine.llm.registry import circuit_breakers
from ragengine.models import ProviderEndpoint
from ragengine.selectors.dashboard import DashboardScope, ledger_in


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    endpoint: str
    kind: str
    enabled: bool
    state: str  # closed | open | half_open | unused (no call from this process yet)
    error_rate: float | None
    recent_calls: int
    consecutive_failures: int
    last_error: str
    last_error_at: datetime | None
    answers: int  # ledger rows answered by this endpoint in the period

    @property
    def healthy(self) -> bool:
        return self.state in ("closed", "unused") and not (self.error_rate or 0) >= 0.5


def provider_health(
    *, scope: DashboardScope, snapshots: dict[str, BreakerSnapshot] | None = None
) -> list[ProviderHealth]:
    """Every endpoint with its circuit and the period's answers (`snapshots` defaults
    to this process's breakers)."""
    if snapshots is None:
        snapshots = circuit_breakers().snapshots()
    answers = dict(
        ledger_in(scope)
        .filter(~Q(provider=""))
        .values_list("provider")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows = []
    for endpoint in ProviderEndpoint.objects.order_by("name"):
        snap = snapshots.get(endpoint.name)
        rows.append(
            ProviderHealth(
                endpoint=endpoint.name,
                kind=endpoint.get_kind_display(),
                enabled=endpoint.enabled,
                state=snap.state if snap else "unused",
                error_rate=snap.error_rate if snap else None,
                recent_calls=snap.recent_calls if snap else 0,
                consecutive_failures=snap.consecutive_failures if snap else 0,
                last_error=snap.last_error if snap else "",
                last_error_at=snap.last_error_at if snap else None,
                answers=answers.get(endpoint.name, 0),
            )
        )
    return rows
