"""Which files an ingestion run reads, and reading each one without leaving its folder.

A folder being ingested may hold links. One whose target lies outside the folder
(`passwd.txt -> /etc/passwd`, the data directory's secret key) is refused with a reason and
never read. Links inside the folder are followed, but every file and folder is visited once,
so two names for one file ingest it once and a link back up the tree ends. Hidden files and
folders are skipped as before, and a link may not lead into one either.

A file named on its own is treated as a folder of one file, its own folder: `ingest
shared/*` (the shell names every file) must be as safe as `ingest shared`, so a named link
is read only when it points inside the folder it sits in. A named folder that is itself a
link is the operator's choice and is followed; the rule then applies inside its target.

Checking a path and reading it later is a race: a file, or a folder on its way, may be
swapped for a link in between. So `read_found` walks from the checked folder down to the
file one component at a time with O_NOFOLLOW, and fails the file if any of them has become
a link. Pipes and devices are never opened (opening a FIFO waits for a writer forever).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragengine.retrieval.parsers.base import ParseError, too_large_error

OUTSIDE = "This is a link that points outside the folder being ingested, so it was not read."
BROKEN = "This is a link to nothing (its target is missing, or the links go round in a loop)."
HIDDEN = "This is a link to a hidden file or folder, which ingestion skips."
SWAPPED = (
    "This file, or a folder on its way, was replaced by a link after it was listed, so it "
    "was not read."
)
NOT_REGULAR = "This is not a regular file (a pipe, socket or device), so it was not read."

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# O_NONBLOCK: a FIFO swapped in after the check must not block the open.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file to ingest at `path`, checked to lie inside `root` (both without links), or a
    link refused at `path` with a readable `refusal`."""

    path: Path
    root: Path
    refusal: str = ""


def find_files(paths: Sequence[Path]) -> list[FoundFile]:
    """The files under `paths`, folders walked recursively in name order, each file once."""
    walk = _Walk()
    for given in paths:
        if given.is_dir():
            walk.folder(Path(os.path.realpath(given)))
        else:
            walk.named_file(given)
    return walk.found


class _Walk:
    def __init__(self) -> None:
        self.found: list[FoundFile] = []
        self._files: set[Path] = set()  # resolved files already listed
        self._folders: set[Path] = set()  # resolved folders already walked

    def named_file(self, given: Path) -> None:
        root = Path(os.path.realpath(given.parent))
        path = root / given.name
        if path.is_symlink():
            self._link(path, root=root)
        else:
            self._file(path, root=root)

    def folder(self, root: Path) -> None:
        """Depth-first without recursion: a tree thousands of folders deep is still walked."""
        if root in self._folders:
            return
        self._folders.add(root)
        pending: list[Iterator[os.DirEntry[str]]] = [_entries(root)]
        while pending:
            entry = next(pending[-1], None)
            if entry is None:
                pending.pop()
                continue
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)  # the folder's resolved path + a name that is no link
            if entry.is_symlink():
                target = self._link(path, root=root)
                if target is not None:
                    pending.append(_entries(target))
            elif entry.is_dir(follow_symlinks=False):
                if path not in self._folders:
                    self._folders.add(path)
                    pending.append(_entries(path))
            elif entry.is_file(follow_symlinks=False):
                self._file(path, root=root)
            # pipes, sockets and devices inside a folder are skipped

    def _link(self, path: Path, *, root: Path) -> Path | None:
        """Refuse or list the link at `path`; a folder to walk next if it leads to one."""
        if not Path(os.path.realpath(path)).is_relative_to(root):
            self.found.append(FoundFile(path=path, root=root, refusal=OUTSIDE))
            return None
        try:
            target = Path(os.path.realpath(path, strict=True))
            info = target.stat()
        except OSError:
            self.found.append(FoundFile(path=path, root=root, refusal=BROKEN))
            return None
        if any(part.startswith(".") for part in target.relative_to(root).parts):
            self.found.append(FoundFile(path=path, root=root, refusal=HIDDEN))
            return None
        if stat.S_ISDIR(info.st_mode):
            if target in self._folders:
                return None  # walked already, or a loop back up the tree
            self._folders.add(target)
            return target
        if stat.S_ISREG(info.st_mode):
            self._file(target, root=root)
        return None

    def _file(self, path: Path, *, root: Path) -> None:
        if path not in self._files:
            self._files.add(path)
            self.found.append(FoundFile(path=path, root=root))


def _entries(folder: Path) -> Iterator[os.DirEntry[str]]:
    """A folder's entries by name; an unreadable folder has none (as `rglob` had it)."""
    try:
        with os.scandir(folder) as entries:
            return iter(sorted(entries, key=lambda entry: entry.name))
    except OSError:
        return iter(())


def read_found(found: FoundFile, *, max_bytes: int) -> bytes:
    """The file's bytes, reached from its root without following any link; else a
    ParseError (refused, swapped for a link, missing, not a regular file, too large)."""
    if found.refusal:
        raise ParseError(found.refusal)
    try:
        fd = _open_inside(found.root, found.path.relative_to(found.root))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ParseError(SWAPPED) from exc
        if exc.errno == errno.ENOENT:
            raise ParseError("The file could not be found.") from exc
        raise ParseError(f"The file could not be read: {exc.strerror or exc}.") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ParseError(NOT_REGULAR)
        if info.st_size > max_bytes:
            raise too_large_error(size=info.st_size, max_bytes=max_bytes)
        data = handle.read(max_bytes + 1)  # the file may have grown since fstat()
    if len(data) > max_bytes:
        raise too_large_error(size=len(data), max_bytes=max_bytes)
    return data


def _open_inside(root: Path, relative: Path) -> int:
    """Open `root/relative` for reading, refusing a link at every step below `root`.

    The file's type is checked without opening it first: opening a device can have side
    effects, and opening a FIFO blocks.
    """
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in relative.parts[:-1]:
            inner = os.open(part, _DIRECTORY_FLAGS, dir_fd=folder)
            os.close(folder)
            folder = inner
        name = relative.parts[-1]
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        if not stat.S_ISREG(info.st_mode):
            raise ParseError(NOT_REGULAR)
        return os.open(name, _FILE_FLAGS, dir_fd=folder)
    finally:
        os.close(folder)


def size_on_disk(path: Path) -> int:
    """The size of a regular file at `path` (not of what a link points to), else 0."""
    try:
        info = path.lstat()
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0
