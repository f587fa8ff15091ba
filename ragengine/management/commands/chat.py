"""`manage.py chat`: a terminal conversation with Arandu, history kept per session."""

from __future__ import annotations

from django.core.management.base import CommandParser

from ragengine.ask_types import Channel, Turn
from ragengine.management.commands.ask import format_answer
from ragengine.management.verbosity import LoggedCommand
from ragengine.services.ask import ask
from ragengine.services.members import member_for_cli

HISTORY_TURNS = 10


class Command(LoggedCommand):
    help = "Chat with Arandu in the terminal (Ctrl-D or 'exit' to leave)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--knowledge-set", "-k", action="append")

    def handle(self, *args, knowledge_set: list[str] | None, **options):
        channel = Channel.cli(knowledge_set)
        member = member_for_cli()
        history: list[Turn] = []
        self.stdout.write("Arandu — ask about your company's documents. 'exit' to leave.")
        while True:
            try:
                question = input("\nyou> ")
            except (EOFError, KeyboardInterrupt):
                self.stdout.write("")
                return
            if question.strip().lower() in {"exit", "quit", ":q"}:
                return
            answer = ask(member=member, question=question, channel=channel, history=history)
            self.stdout.write("\narandu> " + format_answer(answer))
            history += [Turn("user", question), Turn("assistant", answer.text)]
            history = history[-HISTORY_TURNS:]
