"""The commands' logging follows `-v`, so log lines never mix with what a command prints.

A command's own output (answers, progress, summaries) goes to stdout; log records go to
the console handler, which writes to stderr (settings.LOGGING). Within a command the
level comes from `--verbosity`: 0 → ERROR, 1 (the default) → WARNING, 2 → INFO,
3 → DEBUG, whatever ARANDU_LOG_LEVEL says for the server. The format is the logging
configuration's business; this only sets levels for the command's duration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand

LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}


def log_level_for(verbosity: int) -> int:
    """The log level a command run with `-v verbosity` shows."""
    return LEVELS.get(verbosity, logging.DEBUG if verbosity > 2 else logging.ERROR)


@contextmanager
def command_logging(verbosity: int) -> Iterator[None]:
    """Set the root logger and its handlers to `-v`'s level, and put them back after."""
    level = log_level_for(verbosity)
    root = logging.getLogger()
    saved = (root.level, [(handler, handler.level) for handler in root.handlers])
    root.setLevel(level)
    for handler in root.handlers:
        handler.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(saved[0])
        for handler, handler_level in saved[1]:
            handler.setLevel(handler_level)


class LoggedCommand(BaseCommand):
    """A management command whose log level follows its `--verbosity`."""

    def execute(self, *args, **options):
        with command_logging(int(options.get("verbosity", 1))):
            return super().execute(*args, **options)
