"""The engine's rooms import downwards only (ragengine/README.md, "The engine's rooms").

Every `import` and `from ... import` in ragengine/ (migrations aside) is read from the
source, mapped to the room it leaves and the room it enters, and checked against the
floors below: a room may import rooms on lower floors only, never one on its own floor
or above. A new upward import fails here, not in a review months later.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import ragengine

ENGINE = Path(ragengine.__file__).parent

# Top to bottom; each line is one floor. Mirrors the table in ragengine/README.md.
FLOORS: tuple[frozenset[str], ...] = tuple(
    frozenset(floor.split())
    for floor in (
        "admin management apps tasks",  # the engine's own doors and entry points
        "evaluation alerts",
        "services",
        "selectors",
        "composition",
        "cache",
        "retrieval",
        "llm",
        "models",
        "metrics blocked_patterns",
        "ask_types text_analysis trace plaintext transactions key_policy request_context",
    )
)
FLOOR_OF = {room: level for level, floor in enumerate(FLOORS) for room in floor}


def _room(module: str) -> str | None:
    """'ragengine.services.ask' -> 'services'; None outside the engine or for the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "ragengine" and len(parts) > 1 else None


def _upward(source: str, target: str) -> bool:
    """Whether an import from room `source` into room `target` breaks the floors."""
    return source != target and FLOOR_OF[target] <= FLOOR_OF[source]


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every absolute import in `path`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ragengine":  # from ragengine import metrics
                yield from ((f"ragengine.{a.name}", node.lineno) for a in node.names)
            else:
                yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names)


def _engine_modules() -> list[Path]:
    return sorted(
        p for p in ENGINE.rglob("*.py") if "migrations" not in p.relative_to(ENGINE).parts
    )


def test_every_room_of_the_engine_is_on_a_floor() -> None:
    rooms = {p.relative_to(ENGINE).parts[0].removesuffix(".py") for p in _engine_modules()}

    assert rooms - {"__init__"} <= set(FLOOR_OF), sorted(rooms - set(FLOOR_OF))


def test_every_import_points_down() -> None:
    upward = []
    for path in _engine_modules():
        source = _room("ragengine." + ".".join(path.relative_to(ENGINE).with_suffix("").parts))
        if source is None or source == "__init__":
            continue
        for module, line in _imports(path):
            target = _room(module)
            if target is not None and _upward(source, target):
                upward.append(f"{path.relative_to(ENGINE.parent)}:{line} {source} -> {target}")

    assert upward == []


@pytest.mark.parametrize(
    ("source", "module", "upward"),
    [
        ("ragengine.services.budgets", "ragengine.services.spending", False),  # same room
        ("ragengine.services.ask", "ragengine.cache", False),
        ("ragengine.cache.lookup", "ragengine.services.ask", True),
        ("ragengine.retrieval.registry", "ragengine.composition.extractive", True),
        ("ragengine.models.knowledge", "ragengine.cache", True),
        ("ragengine.evaluation.runner", "ragengine.alerts.webhooks", True),  # same floor
    ],
)
def test_the_check_tells_up_from_down(source: str, module: str, upward: bool) -> None:
    assert _upward(_room(source), _room(module)) is upward


# The doors (Slack, Discord, their shared conversation code) reach the engine through its
# services and selectors (the `ask` seam first), its plain types and its models; never
# through the rooms that do the answering.
ENGINE_INTERNALS = frozenset({"cache", "composition", "retrieval", "llm", "tasks", "admin"})


def test_the_doors_never_import_the_engines_internals() -> None:
    import botcore

    doors = Path(botcore.__file__).parent
    inside = [
        f"{path.relative_to(doors.parent)}:{line} -> {module}"
        for path in sorted(doors.rglob("*.py"))
        for module, line in _imports(path)
        if _room(module) in ENGINE_INTERNALS
    ]

    assert inside == []
