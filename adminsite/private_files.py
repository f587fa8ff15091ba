"""Files and directories only their owner may read, private from the moment they exist.

Writing a file and chmod-ing it afterwards leaves a window in which another local user can
open it (and keep the descriptor); these helpers create everything with its final mode.
Imported by the settings module, so nothing here may import Django.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """`path` (and missing parents) created 0700; an existing directory is left as it is."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def _private_temp_file(directory: Path, text: str) -> Path:
    """A new file in `directory` holding `text`, created 0600 (mkstemp's mode)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` with a 0600 file holding `text`, atomically: readers see the old file
    or the new one, never a partly written or readable-by-others one."""
    temp = _private_temp_file(path.parent, text)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def create_private_file_once(path: Path, text: str) -> str:
    """The content of `path`, creating it 0600 with `text` if it does not exist yet.

    Processes starting together all get the same content: the first to link its complete
    file wins, the others read the winner's (never an empty or half-written file)."""
    if not path.exists():
        temp = _private_temp_file(path.parent, text)
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: exclusive create instead
            _create_exclusive(path, text)
        finally:
            temp.unlink()
    return path.read_text(encoding="utf-8")


def _create_exclusive(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
