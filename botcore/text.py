"""Text helpers shared by the doors."""

from __future__ import annotations

from collections.abc import Callable

SEPARATORS = ("\n\n", "\n", " ")


def split_text(
    text: str, *, limit: int, hard_cut: Callable[[str, int], int] | None = None
) -> list[str]:
    """`text` in pieces of at most `limit` characters (platforms cap message sizes), cut
    at the last paragraph, line or word boundary in the second half of each window.
    Without one, `hard_cut(rest, limit)` picks the cut (e.g. to keep an escape whole),
    else the piece is cut at `limit`."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = next(
            (c for c in (rest.rfind(s, limit // 2, limit + 1) for s in SEPARATORS) if c > 0),
            hard_cut(rest, limit) if hard_cut else limit,
        )
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
