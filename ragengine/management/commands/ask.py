"""`manage.py ask "question" [--knowledge-set NAME] [--json]`."""

from __future__ import annotations

import json

from django.core.management.base import CommandParser

from ragengine.ask_types import Answer, AnswerMode, Channel
from ragengine.management.verbosity import LoggedCommand
from ragengine.services.ask import ask
from ragengine.services.members import member_for_cli


def format_answer(answer: Answer) -> str:
    """Plain-text rendering shared by `ask` and `chat`, labelled in the question's
    language (the engine's `Answer.labels`: "Fontes" for a Portuguese question)."""
    labels = answer.labels
    lines = [answer.text]
    if answer.sources:
        lines += ["", f"{labels.get('sources', 'Sources')}:"]
        for source in answer.sources:
            where = f" — {source.location}" if source.location else ""
            link = f" <{source.link}>" if source.link else ""
            lines.append(f"  [{source.number}] {source.title}{where}{link}")
    if answer.notices:
        lines += ["", f"{labels.get('notes', 'Notes')}:"]
        lines += [f"  {notice}" for notice in answer.notices]
    return "\n".join(lines)


class Command(LoggedCommand):
    help = "Ask a question and print the answer with its sources."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument(
            "--knowledge-set", "-k", action="append", help="Limit to this set (repeatable)."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, question: str, knowledge_set: list[str] | None, **options):
        channel = Channel.cli(knowledge_set)
        answer = ask(member=member_for_cli(), question=question, channel=channel)
        if options["json"]:
            self.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False))
        else:
            self.stdout.write(format_answer(answer))
        if answer.mode == AnswerMode.REFUSED:
            # Still a clean exit for --json consumers; humans see the reason above.
            self.stderr.write(self.style.WARNING("(question not answered)"))
