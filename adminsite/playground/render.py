"""An answer as the doors show it, in HTML: paragraphs and bullet lists, **bold** and
`code`, citations [n] linked to the numbered sources below, notices apart.

Everything is escaped first; only the few marks above become tags."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`\n]+)`")
_CITATION = re.compile(r"\[(\d{1,3})\]")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def answer_html(text: str, *, prefix: str = "src") -> SafeString:
    """`text` as HTML; `prefix` keeps the source anchors of two answers on a page apart."""
    blocks: list[str] = []
    items: list[str] = []

    def close_list() -> None:
        if items:
            blocks.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for paragraph in re.split(r"\n\s*\n", text.strip()):
        lines = paragraph.splitlines()
        if lines and all(_BULLET.match(line) for line in lines):
            items.extend(_inline(_BULLET.sub("", line), prefix) for line in lines)
            continue
        close_list()
        blocks.append("<p>" + "<br>".join(_inline(line, prefix) for line in lines) + "</p>")
    close_list()
    return mark_safe("".join(blocks))  # noqa: S308 - built from escaped text only


def _inline(line: str, prefix: str) -> str:
    html = escape(line)
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return _CITATION.sub(rf'<a class="citation" href="#{prefix}-\1">[\1]</a>', html)
