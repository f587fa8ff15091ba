"""Tasks that misbehave on purpose, for a test parser worker (`ParseWorker(task_modules=...)`)."""

from __future__ import annotations

import os
import signal
import time


def spin(args, data):
    give_up = time.monotonic() + 10  # bounded, so a missing budget fails instead of hanging
    while time.monotonic() < give_up:
        pass
    return "the budget did not stop the task"


def raise_error(args, data):
    raise {"RecursionError": RecursionError("maximum recursion depth exceeded"),
           "MemoryError": MemoryError()}[args["error"]]  # fmt: skip


def die(args, data):
    if args["how"] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(3)


def environment(args, data):
    return sorted(os.environ)


TASKS = {"spin": spin, "raise": raise_error, "die": die, "environment": environment}
