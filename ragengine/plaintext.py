"""Characters that have no business in text people type, and the one rule for them:
refused in what a person just typed (a question, a feedback comment), with a message
naming them; removed from what the engine only reads (thread history, display names).

Kept: tab, newline and carriage return, and every printable or formatting character
(emoji joiners, right-to-left marks). Not kept:
- the other C0 and C1 control characters and DEL (NUL, ESC, …): nobody types them,
  PostgreSQL refuses to store NUL, terminals and log viewers act on the others;
- lone UTF-16 surrogates (U+D800–U+DFFF; a client cut an emoji in half, or JSON carried
  a bare `\\ud83d`): no UTF-8 encoder, tokenizer or embedder accepts them.
"""

from __future__ import annotations

import re

_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
SHOWN = 3  # characters a message names


def unreadable_characters(text: str) -> list[str]:
    """The distinct characters of `text` the rule refuses, as "U+XXXX", first seen first."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in _UNREADABLE.findall(text)))


def unreadable_problem(text: str, *, what: str) -> str | None:
    """A readable refusal naming what `text` holds that can't be read, or None.
    `what` names the text for the person ("That question", "The comment")."""
    found = unreadable_characters(text)
    if not found:
        return None
    named = ", ".join(found[:SHOWN]) + (", …" if len(found) > SHOWN else "")
    kind = "characters" if len(found) > 1 else "a character"
    hint = " (half of an emoji?)" if _SURROGATE.search(text) else ""
    return (
        f"{what} contains {kind} that can't be read: {named}{hint}. Please retype it, or "
        "paste it as plain text."
    )


def readable(text: str) -> str:
    """`text` with the refused control characters removed and lone surrogates shown as
    U+FFFD, for text the engine reads but nobody can be asked to retype."""
    if not _UNREADABLE.search(text):
        return text
    return _UNREADABLE.sub(lambda m: REPLACEMENT if _SURROGATE.match(m[0]) else "", text)
