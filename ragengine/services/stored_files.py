"""Where an upload is kept, and reading it back, through Django's storage API only.

An upload is saved in the default storage as `<set slug>/<file name>`. Its documents are
named (their `source`) after the file: the file's absolute path when the storage keeps
files on this machine (as before, so existing rows keep their names), else
`upload:<set slug>/<file name>` (S3 and other storages without `path()`). Ingestion reads
the bytes back with `storage.open()`, so it never needs a local path.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from ragengine.retrieval.parsers.base import ParseError, too_large_error

UPLOAD_SCHEME = "upload:"
GONE = "The file is gone; upload it again."


def upload_source(*, name: str) -> str:
    """The `source` of the documents of the upload stored as `name`."""
    try:
        local = default_storage.path(name)
    except NotImplementedError:  # a storage without local files
        return f"{UPLOAD_SCHEME}{name}"
    return str(Path(local).resolve())


def stored_name(*, source: str) -> str | None:
    """The storage name of the upload behind a document's `source` (a record's too), or
    None for a file ingested from a folder on this machine."""
    file_source = source.split("#", 1)[0]
    if file_source.startswith(UPLOAD_SCHEME):
        return file_source.removeprefix(UPLOAD_SCHEME)
    media_root = Path(settings.MEDIA_ROOT).resolve()
    path = Path(file_source)
    if path.is_absolute() and path.is_relative_to(media_root):
        return path.relative_to(media_root).as_posix()
    return None


def stored_exists(*, name: str) -> bool:
    return default_storage.exists(name)


def stored_read(*, name: str, max_bytes: int) -> bytes:
    """The stored file's bytes (at most `max_bytes`, else a ParseError saying so)."""
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError as exc:
        raise ParseError(GONE) from exc
    except OSError as exc:
        raise ParseError(f"The stored file could not be read ({exc.strerror or exc}).") from exc
    with handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large_error(size=len(data), max_bytes=max_bytes)
    return data


def stored_delete(*, source: str) -> None:
    """Delete the stored upload behind `source`; a file from a folder is never touched."""
    name = stored_name(source=source)
    if name is not None and "#" not in source:
        default_storage.delete(name)
