"""How far a run has got: answers done of total, time elapsed and an estimate of the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from ragengine.models import EvalRun


@dataclass(frozen=True, slots=True)
class RunProgress:
    status: str
    done: int
    total: int
    elapsed_s: float | None
    remaining_s: float | None  # None until there is a rate to estimate from

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    def describe(self) -> str:
        parts = [f"{self.done} / {self.total} ({self.percent}%)"]
        if self.elapsed_s is not None:
            parts.append(f"{_clock(self.elapsed_s)} elapsed")
        if self.remaining_s is not None:
            parts.append(f"~{_clock(self.remaining_s)} left")
        return " · ".join(parts)


def run_progress(*, run: EvalRun, now: datetime | None = None) -> RunProgress:
    now = now or timezone.now()
    elapsed = None
    if run.started_at:
        elapsed = ((run.finished_at or now) - run.started_at).total_seconds()
    remaining = None
    if run.status == "running" and elapsed and run.cases_done:
        remaining = elapsed / run.cases_done * max(run.cases_total - run.cases_done, 0)
    return RunProgress(run.status, run.cases_done, run.cases_total, elapsed, remaining)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
