"""Dashboard: whether the models are up, per endpoint.

The circuit's state is the last change any process recorded (`ProviderCircuit`: the web
process, the Discord bot and the task worker each keep their own breakers, and each
writes its opens and closes there), so the page shows what the workers see; a provider
no process ever opened shows this process's breaker, or "unused". The error rate over
the last calls and the last error come from this process's breaker. Answers come from
the ledger, which every process writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from ragengine.llm.circuit_breaker import BreakerSnapshot
from ragengine.llm.registry import circuit_breakers
from ragengine.models import ProviderCircuit, ProviderEndpoint
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
    state_changed_at: datetime | None = None  # when a process last opened or closed it

    @property
    def healthy(self) -> bool:
        return self.state in ("closed", "unused") and not (self.error_rate or 0) >= 0.5


def provider_health(
    *,
    scope: DashboardScope,
    snapshots: dict[str, BreakerSnapshot] | None = None,
    answers: dict[str, int] | None = None,
) -> list[ProviderHealth]:
    """Every endpoint with its circuit and the period's answers (`snapshots` defaults
    to this process's breakers; `answers`, per provider, to a read of the ledger)."""
    if snapshots is None:
        snapshots = circuit_breakers().snapshots()
    if answers is None:
        answers = dict(
            ledger_in(scope)
            .filter(~Q(provider=""))
            .values_list("provider")
            .annotate(n=Count("pk"))
            .order_by()
        )
    shared = {c.name: c for c in ProviderCircuit.objects.all()}
    rows = []
    for endpoint in ProviderEndpoint.objects.order_by("name"):
        snap = snapshots.get(endpoint.name)
        circuit = shared.get(endpoint.name[:60])
        local = snap.state if snap else "unused"
        rows.append(
            ProviderHealth(
                endpoint=endpoint.name,
                kind=endpoint.get_kind_display(),
                enabled=endpoint.enabled,
                state=circuit.state if circuit else local,
                state_changed_at=circuit.changed_at if circuit else None,
                error_rate=snap.error_rate if snap else None,
                recent_calls=snap.recent_calls if snap else 0,
                consecutive_failures=snap.consecutive_failures if snap else 0,
                last_error=snap.last_error if snap else "",
                last_error_at=snap.last_error_at if snap else None,
                answers=answers.get(endpoint.name, 0),
            )
        )
    return rows
