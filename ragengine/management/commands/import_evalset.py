"""`manage.py import_evalset FILE --set NAME [--knowledge-set NAME ...]
[--replace | --if-missing]`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from ragengine.evaluation.cases_io import CaseImportError, eval_cases_import, parse_cases
from ragengine.management.verbosity import LoggedCommand
from ragengine.management.wording import plural
from ragengine.models import EvalSet, KnowledgeSet


class Command(LoggedCommand):
    help = "Import evaluation cases (JSONL, CSV or a JSON list) into a set, creating it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--set", dest="set_name", required=True, help="Evaluation set name.")
        parser.add_argument(
            "--knowledge-set",
            action="append",
            default=[],
            help="Knowledge set the cases are asked against (repeatable; new sets only "
            "unless given).",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--replace", action="store_true", help="Swap the set's cases.")
        mode.add_argument(
            "--if-missing", action="store_true", help="Do nothing when the set already exists."
        )

    def handle(self, *args, file: str, set_name: str, knowledge_set: list[str], **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        if options["if_missing"] and EvalSet.objects.filter(name=set_name).exists():
            self.stdout.write(f"Evaluation set {set_name!r} exists already: left as it is.")
            return
        try:
            cases = parse_cases(path.read_bytes(), filename=path.name)
        except CaseImportError as exc:
            raise CommandError("\n".join([str(exc).split(":")[0] + ":", *exc.problems])) from exc
        sets = list(KnowledgeSet.objects.filter(name__in=knowledge_set))
        unknown = sorted(set(knowledge_set) - {s.name for s in sets})
        if unknown:
            raise CommandError(f"Unknown knowledge set: {', '.join(unknown)}.")
        with transaction.atomic():
            eval_set, created = EvalSet.objects.get_or_create(name=set_name)
            if sets:
                eval_set.knowledge_sets.set(sets)
            report = eval_cases_import(eval_set=eval_set, cases=cases, replace=options["replace"])
        self.stdout.write(
            f"{'Created' if created else 'Updated'} evaluation set {set_name!r}: "
            f"{plural(report.created, 'case')} added, {report.skipped} already there"
            + (f", {report.removed} replaced" if report.removed else "")
            + "."
        )
        if not eval_set.knowledge_sets.exists():
            self.stdout.write(
                "It has no knowledge sets yet: runs are refused until you give it some "
                "(--knowledge-set, or in the admin)."
            )
