"""Run a command with the environment a docker-compose.yml service would get.

    python .ci/compose_env.py web -- python manage.py check --deploy --fail-level WARNING

Reads the service's `environment` from docker-compose.yml (anchors and merge keys
included), substitutes `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `${VAR:?message}`
from the current environment as docker-compose does, and runs the command with the result
on top of the current environment. The data directory is the container's (/data), so it
is replaced by a fresh temporary directory: nothing is written outside it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


class MissingVariable(Exception):
    pass


def substitute(value: str, environ: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = environ.get(name)
        unset_or_empty = not current
        if op == ":-":
            return arg if unset_or_empty else current
        if op == "-":
            return arg if current is None else current
        if op in (":?", "?") and (unset_or_empty if op == ":?" else current is None):
            raise MissingVariable(f"{name}: {arg or 'required'}")
        return current or ""

    return _VARIABLE.sub(replace, value)


def service_environment(service: str, environ: dict[str, str]) -> dict[str, str]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    declared = compose["services"][service].get("environment") or {}
    if isinstance(declared, list):
        declared = dict(item.split("=", 1) for item in declared)
    return {k: substitute("" if v is None else str(v), environ) for k, v in declared.items()}


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    service, command = argv[0], argv[2:]
    try:
        environment = service_environment(service, dict(os.environ))
    except MissingVariable as exc:
        print(f"docker-compose.yml needs {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="arandu-compose-") as data_dir:
        environment["ARANDU_DATA_DIR"] = data_dir
        return subprocess.run(command, env=os.environ | environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
