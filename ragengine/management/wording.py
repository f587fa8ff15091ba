"""Counts as people write them: "1 chunk", "2 chunks", "0 chunks"."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str = "") -> str:
    """`count` and the noun that agrees with it (`plural_form` when adding "s" is wrong)."""
    noun = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {noun}"
