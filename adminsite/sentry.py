"""Sentry: which release and environment an error came from, the request id and door it
belongs to, and no personal data.

Questions and answers are what people typed and what the company's documents say: they
leave the process only when ARANDU_SENTRY_SEND_QUESTIONS=true. `scrub_event` removes
them from request bodies, local variables, breadcrumbs and `extra` fields before an event
is sent; user fields are never sent (`send_default_pii=False`).
"""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from ragengine.request_context import current_door, current_request_id

SCRUBBED = "[scrubbed]"
# Keys whose values are a question, an answer or a passage of a document, wherever they
# appear in an event (request data, frame variables, extra fields, breadcrumb data).
PRIVATE_KEYS = frozenset(
    {
        "question",
        "questions",
        "text",
        "answer",
        "history",
        "prompt",
        "messages",
        "content",
        "snippet",
        "passages",
        "body",
        "data",
        "query",
        "search_text",
        "text_so_far",
        "comment",
        "expected_answer",
    }
)


def release_name(*, base_dir: Path) -> str:
    """The git commit of the checkout when git can tell, else the package version (as
    installed, else as pyproject.toml declares it)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=base_dir,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    if commit:
        return f"arandu@{commit}"
    try:
        return f"arandu@{metadata.version('arandu')}"
    except metadata.PackageNotFoundError:
        pass
    try:  # a checkout without git (a Docker image): the version it declares
        project = tomllib.loads((base_dir / "pyproject.toml").read_text())["project"]
        return f"arandu@{project['version']}"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "arandu@unknown"


def _scrub(value: Any, *, depth: int = 0) -> Any:
    if depth > 12:
        return value
    if isinstance(value, Mapping):
        return {
            k: SCRUBBED if str(k).lower() in PRIVATE_KEYS else _scrub(v, depth=depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, depth=depth + 1) for v in value]
    return value


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event without questions, answers or document text (see PRIVATE_KEYS); the
    request's body is dropped whole, the log message of a breadcrumb kept, and a command
    line keeps its command only (`manage.py ask` takes the question as an argument)."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "query_string", "cookies"):
            if key in request:
                request[key] = SCRUBBED
    for key in ("extra", "contexts"):
        if isinstance(event.get(key), dict):
            event[key] = _scrub(event[key])
    argv = (event.get("extra") or {}).get("sys.argv")
    if isinstance(argv, list) and argv:  # `manage.py ask "the question"`
        kept = 2 if str(argv[0]).endswith("manage.py") else 1
        event["extra"]["sys.argv"] = [*argv[:kept], *([SCRUBBED] if len(argv) > kept else [])]
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            if isinstance(frame.get("vars"), dict):
                frame["vars"] = _scrub(frame["vars"])
    crumbs = event.get("breadcrumbs")
    for crumb in (crumbs.get("values") if isinstance(crumbs, dict) else crumbs) or []:
        if isinstance(crumb.get("data"), dict):
            crumb["data"] = _scrub(crumb["data"])
    return event


def _tag_and_scrub(*, send_questions: bool):
    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        tags = event.setdefault("tags", {})
        if isinstance(tags, dict):
            if request_id := current_request_id():
                tags.setdefault("request_id", request_id)
            if door := current_door():
                tags.setdefault("door", door)
        return event if send_questions else scrub_event(event)

    return before_send


def sentry_start(*, dsn: str, release: str, environment: str, send_questions: bool) -> None:
    """Initialise the SDK once per process (from settings)."""
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment,
        send_default_pii=False,
        include_local_variables=send_questions,
        max_request_body_size="never" if not send_questions else "medium",
        traces_sample_rate=0.0,
        before_send=_tag_and_scrub(send_questions=send_questions),
    )
