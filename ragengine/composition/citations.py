"""The [n] citation contract between the prompt, the answer and the sources list."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragengine.ask_types import Source
from ragengine.retrieval.types import SearchHit

# "[2]" or "[1, 3]": what the system prompt asks for and the answer is renumbered by.
CITATION_GROUP = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Inline code first, so that a marker-like "[10, 60]" inside it is skipped whole.
_CODE_OR_MARKER = re.compile(
    r"(?P<code>`[^`\n]*`)|(?P<space>[ \t]*)\[(?P<numbers>\d+(?:\s*,\s*\d+)*)\]"
)
SNIPPET_CHARS = 280


def renumber_citations(text: str, *, source_count: int) -> tuple[str, list[int]]:
    """Renumber an answer's [n] markers 1..m in order of first citation.

    Returns the new text and the original (1-based) numbers in their new order, so
    `used_hits[old - 1]` is the source shown as number `i + 1`. Markers naming no source
    (a model inventing [7] when it saw 3) are removed rather than left pointing at nothing;
    "[1, 3]" becomes "[1][2]". Brackets inside inline code (`ports = [80, 443]`, a quoted
    configuration line) are text, not markers, and are left alone.
    """
    order: dict[int, int] = {}

    def replace(match: re.Match[str]) -> str:
        if match["code"]:
            return match["code"]
        out = []
        for part in match["numbers"].split(","):
            old = int(part)
            if not 1 <= old <= source_count:
                continue
            if old not in order:
                order[old] = len(order) + 1
            out.append(f"[{order[old]}]")
        # A removed marker takes its leading space along: "fact [9]." -> "fact."
        return match["space"] + "".join(out) if out else ""

    renumbered = _CODE_OR_MARKER.sub(replace, text)
    return renumbered, list(order)


def cited_sources(text: str, hits: Sequence[SearchHit]) -> tuple[str, list[Source]]:
    """The answer with its markers renumbered 1..n in order of first citation, and the
    cited passages as that numbered sources list (uncited passages are not listed)."""
    renumbered, order = renumber_citations(text, source_count=len(hits))
    sources = []
    for number, old in enumerate(order, start=1):
        hit = hits[old - 1]
        sources.append(
            Source(
                number=number,
                title=str(hit.metadata.get("title", "")),
                location=str(hit.metadata.get("location", "")),
                snippet=_snippet(hit.text),
                score=round(float(hit.score), 4),
                document_id=int(hit.document_id),
                link=_link(str(hit.metadata.get("source", ""))),
            )
        )
    return renumbered, sources


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"


def _link(source: str) -> str:
    return source if source.startswith(("http://", "https://")) else ""
