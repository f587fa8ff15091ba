"""`manage.py evaluate SET [--target SPEC ...] [--json] [--fail-under METRIC=VALUE ...]`.

Runs the set in this process (no worker needed, so it fits a CI pipeline), prints the
summary per target and exits 1 when a target is under a bar; the run is recorded like any
other (admin → Evaluation runs).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ragengine.evaluation.run_page import fmt
from ragengine.evaluation.runner import run_execute
from ragengine.evaluation.runs import RunError, run_start
from ragengine.evaluation.scoring import ANSWER_METRICS, JUDGE_METRICS, RETRIEVAL_METRICS
from ragengine.management.verbosity import LoggedCommand
from ragengine.management.wording import plural
from ragengine.models import EvalSet

BAR_METRICS = (*ANSWER_METRICS, *RETRIEVAL_METRICS, *JUDGE_METRICS)
SHOWN = ("fact_recall", "hit_at_k", "mrr_at_k", "citation_precision", "refusal_accuracy")


def parse_bar(text: str) -> tuple[str, float]:
    """ "fact_recall=0.8" or "fact_recall=80%" → ("fact_recall", 0.8)."""
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    if not sep or metric not in BAR_METRICS:
        raise CommandError(
            f"--fail-under {text!r}: use METRIC=VALUE with METRIC one of {', '.join(BAR_METRICS)}.",
            returncode=2,
        )
    value = value.strip()
    try:
        number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise CommandError(
            f"--fail-under {text!r}: {value!r} is not a number.", returncode=2
        ) from None
    if not 0 <= number <= 1:
        raise CommandError(
            f"--fail-under {text!r}: a bar is between 0 and 1 (or 0–100%).", returncode=2
        )
    return metric, number


class Command(LoggedCommand):
    help = "Run an evaluation set now and print the summary per target (for CI pipelines)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("set_name", metavar="SET", help="Evaluation set name.")
        parser.add_argument(
            "--target",
            action="append",
            dest="targets",
            default=[],
            help="extractive (default), tier:NAME or model:ENDPOINT:MODEL; repeatable.",
        )
        parser.add_argument("--json", action="store_true", help="The summary as JSON.")
        parser.add_argument(
            "--fail-under",
            action="append",
            default=[],
            metavar="METRIC=VALUE",
            help="Exit 1 when a target's METRIC is under VALUE (0.8 or 80%%); repeatable.",
        )
        parser.add_argument("--use-cache", action="store_true", help="Don't bypass the cache.")
        parser.add_argument("--budget-cap", help="Most each target may spend (default setting).")
        parser.add_argument("--concurrency", type=int, help="Questions asked at once.")

    def handle(self, *args, set_name: str, targets: list[str], **options: Any) -> None:
        bars = [parse_bar(b) for b in options["fail_under"]]
        eval_set = EvalSet.objects.filter(name=set_name).first()
        if eval_set is None:
            raise CommandError(f"No evaluation set named {set_name!r}.", returncode=2)
        try:
            cap = Decimal(options["budget_cap"]) if options["budget_cap"] else None
        except InvalidOperation:
            raise CommandError("--budget-cap must be a number.", returncode=2) from None
        try:
            run = run_start(
                eval_set=eval_set,
                specs=targets or ["extractive"],
                use_cache=options["use_cache"],
                budget_cap=cap,
                concurrency=options["concurrency"],
                enqueue=False,
            )
        except RunError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        run = run_execute(run_id=run.pk) or run
        failures = self._under_bars(run.summary.get("targets", {}), bars)
        if options["json"]:
            self.stdout.write(json.dumps(self._as_json(run, bars, failures), indent=2))
        else:
            self._print(run)
        if run.status != "done":
            raise CommandError(f"Run {run.pk} {run.status}: {run.error or 'cancelled'}")
        if failures:
            raise CommandError("Under the bar: " + "; ".join(failures))

    @staticmethod
    def _under_bars(targets: dict[str, Any], bars: list[tuple[str, float]]) -> list[str]:
        failures = []
        for spec, summary in targets.items():
            for metric, bar in bars:
                value = summary.get("metrics", {}).get(metric, {}).get("value")
                if value is None:
                    failures.append(f"{spec} {metric} was not measured (bar {bar:.3f})")
                elif value < bar:
                    failures.append(f"{spec} {metric} {value:.3f} < {bar:.3f}")
        return failures

    @staticmethod
    def _as_json(run, bars, failures) -> dict[str, Any]:
        return {
            "run": run.pk,
            "eval_set": run.eval_set.name,
            "status": run.status,
            "error": run.error,
            "targets": run.summary.get("targets", {}),
            "tags": run.summary.get("tags", {}),
            "comparison": run.summary.get("comparison"),
            "bars": {metric: bar for metric, bar in bars},
            "under_bar": failures,
        }

    def _print(self, run) -> None:
        self.stdout.write(
            f"Run {run.pk} of {run.eval_set.name}: {run.status}, {plural(run.cases_done, 'answer')}"
        )
        header = f"{'target':<36} " + " ".join(f"{m[:14]:>14}" for m in SHOWN)
        self.stdout.write(header + f" {'failed':>7} {'p95':>10} {'cost':>12}")
        for spec, summary in run.summary.get("targets", {}).items():
            metrics = summary.get("metrics", {})
            cells = " ".join(f"{fmt(metrics.get(m, {}).get('value'), 'share'):>14}" for m in SHOWN)
            p95 = summary.get("latency_ms", {}).get("total", {}).get("p95")
            self.stdout.write(
                f"{spec[:36]:<36} {cells} {summary.get('failed', 0):>7} "
                f"{fmt(p95, 'ms'):>10} {fmt(summary.get('cost'), 'money'):>12}"
            )
