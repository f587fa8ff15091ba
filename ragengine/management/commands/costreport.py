"""`manage.py costreport --period day|month [--by member|tier|model] [--csv]`."""

from __future__ import annotations

import csv
from datetime import datetime

from django.core.management.base import CommandError, CommandParser

from ragengine.management.verbosity import LoggedCommand
from ragengine.selectors.usage_report import GROUPS, PERIODS, usage_report


class Command(LoggedCommand):
    help = "Questions, tokens and cost from the usage ledger for a day or a month."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", choices=PERIODS, default="day")
        parser.add_argument("--by", choices=GROUPS)
        parser.add_argument(
            "--include-evaluation",
            action="store_true",
            help="Count evaluation runs' spend too (left out by default).",
        )
        parser.add_argument("--date", help="A day inside the period (YYYY-MM-DD); default today.")
        parser.add_argument("--csv", action="store_true", help="CSV on stdout.")

    def handle(self, *args, period: str, by: str | None, date: str | None, **options) -> None:
        day = None
        if date:
            try:
                day = datetime.strptime(date, "%Y-%m-%d").date()
            except ValueError as exc:
                raise CommandError(f"--date must look like 2026-11-21, not {date!r}.") from exc
        report = usage_report(
            period=period, by=by, day=day, include_evaluation=options["include_evaluation"]
        )
        start, end, rows = report.start, report.end, report.rows
        header = [by or "scope", "questions", "tokens_in", "tokens_out", "cost", "cost_saved"]
        if options["csv"]:
            writer = csv.writer(self.stdout)
            writer.writerow(header)
            for row in rows:
                writer.writerow(
                    [
                        row.key,
                        row.questions,
                        row.tokens_in,
                        row.tokens_out,
                        row.cost,
                        row.cost_saved,
                    ]
                )
            return
        self.stdout.write(
            f"Usage from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({start.tzinfo})"
        )
        self.stdout.write(
            f"{header[0]:<32} {'questions':>9} {'tokens in':>10} {'tokens out':>10} "
            f"{'cost':>12} {'saved':>10}"
        )
        for row in rows:
            self.stdout.write(
                f"{str(row.key)[:32]:<32} {row.questions:>9} {row.tokens_in:>10} "
                f"{row.tokens_out:>10} {row.cost:>12.6f} {row.cost_saved:>10.6f}"
            )
