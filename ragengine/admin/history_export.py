"""The question history as CSV: the change list's rows streamed in chunks, cells a
spreadsheet would run as a formula defused."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from ragengine.models import FeedbackValue

EXPORT_CHUNK = 500


CSV_COLUMNS = (
    "created_at",
    "request_id",
    "member",
    "door",
    "channel",
    "knowledge_sets",
    "question",
    "answer",
    "outcome",
    "not_found",
    "sources",
    "provider",
    "model",
    "cost",
    "total_ms",
    "feedback",
)


class _Echo:
    def write(self, value: str) -> str:
        return value


def history_csv_lines(rows: QuerySet) -> Iterator[str]:
    """CSV lines, fetched in chunks so a long history neither waits nor fills memory.
    Cells that a spreadsheet would run as a formula are prefixed with a quote."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row in rows.iterator(chunk_size=EXPORT_CHUNK):
        vote = getattr(row, "vote", None)
        yield writer.writerow(
            [
                _cell(v)
                for v in (
                    row.created_at.isoformat(),
                    row.request_id,
                    row.member.display_name if row.member else "",
                    row.door,
                    row.channel,
                    "; ".join(row.knowledge_sets),
                    row.question,
                    row.answer,
                    row.outcome,
                    "yes" if row.not_found else "no",
                    "; ".join(f"[{s.get('number')}] {s.get('title', '')}" for s in row.sources),
                    row.provider,
                    row.model,
                    f"{row.cost:.8f}",
                    f"{row.total_ms:.1f}",
                    {None: "", FeedbackValue.UP: "up", FeedbackValue.DOWN: "down"}.get(vote, ""),
                )
            ]
        )


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
