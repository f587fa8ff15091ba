"""The lock files pin every requirement (and every dependency) to one version, with
hashes, inside the ranges requirements*.txt declare: `make install`, CI and the image
install them with --require-hashes. Edit a requirements file without `make lock` and this
fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "requirements-models.txt": "requirements-models.lock",
}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-\[\],]*)==(\S+?)(?:\s*;\s*(.+?))?\s*\\?$")


def declared(path: Path) -> list[Requirement]:
    requirements = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            requirements += declared(path.parent / line[3:].strip())
        elif line:
            requirements.append(Requirement(line))
    return requirements


def pinned(path: Path) -> dict[str, list[tuple[str, int]]]:
    """name → [(version, number of hashes)] (one name may be pinned per Python version)."""
    pins: dict[str, list[tuple[str, int]]] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := _PIN.match(line):
            name = canonicalize_name(re.sub(r"\[.*\]", "", match.group(1)))
            current = [match.group(2), 0]
            pins.setdefault(name, []).append(current)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            current[1] += 1
    return {name: [tuple(pin) for pin in pins_] for name, pins_ in pins.items()}


@pytest.mark.parametrize("source, lock", LOCKS.items())
def test_every_declared_requirement_is_locked_within_its_range(source, lock):
    pins = pinned(ROOT / lock)
    for requirement in declared(ROOT / source):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in {source} but not in {lock}: run `make lock`"
        for version, _ in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {name}=={version}, outside {source}'s {requirement}: run `make lock`"
            )


@pytest.mark.parametrize("lock", LOCKS.values())
def test_every_pin_has_hashes(lock):
    pins = pinned(ROOT / lock)
    assert pins
    unhashed = [name for name, versions in pins.items() if any(n == 0 for _, n in versions)]
    assert not unhashed


def test_the_image_lock_agrees_with_the_lock_ci_tests():
    runtime, dev = pinned(ROOT / "requirements.lock"), pinned(ROOT / "requirements-dev.lock")
    differing = {
        name: (versions, dev.get(name))
        for name, versions in runtime.items()
        if sorted(v for v, _ in versions) != sorted(v for v, _ in dev.get(name, []))
    }
    assert not differing


def test_packages_imported_directly_are_declared_directly():
    names = {canonicalize_name(r.name) for r in declared(ROOT / "requirements.txt")}
    assert {"httpx", "pydantic", "grpcio", "gunicorn"} <= names
