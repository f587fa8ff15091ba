"""Cut a retrieved passage into evidence units: the pieces an extractive answer may quote.

Prose is split into sentences, lists into items, but code, configuration and tables are
not prose: splitting `CACHE_TTL = {"factual_queries": 86400,  # 24h ...}` at sentence
ends glues every line into one unreadable "sentence" that is then trimmed away from the
value the user asked for. So a paragraph whose lines look like code or configuration
gives one unit per line, carrying the keys it is nested under (YAML parents, the dict it
belongs to, the INI section) and the sentence that introduced the block; a table gives
one unit per row, shown labelled by the header. Units keep the text verbatim; `quote` is
how the answer shows it (code in backticks with its keys, a row as "header: cell" pairs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["prose", "item", "heading", "code", "key", "row", "header"]
# Units that only give their topic to the units below them; quoted only as a last resort.
CONTEXT_KINDS: Final = frozenset({"heading", "key", "header"})


@dataclass(frozen=True, slots=True)
class Unit:
    """One quotable piece of a passage. `context` is text that gives it its topic without
    being part of it: a table's header, the keys a configuration line sits under, the
    sentence that introduced a code block."""

    text: str
    kind: Kind
    quote: str
    context: str = ""
    key: str = ""  # what a code line sets or a table row is about (its first cell)

    @property
    def is_heading(self) -> bool:
        return self.kind in CONTEXT_KINDS


# --- sentence splitting -------------------------------------------------------------------

# Abbreviations (lower-case, final dot removed) after which a dot does not end a sentence.
_ABBREVIATIONS: Final = frozenset(
    {
        # English
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "inc", "ltd", "co", "corp",
        "dept", "approx", "est", "cf", "al", "ca", "resp",
        # Portuguese
        "sra", "srta", "dra", "profa", "eng", "enga", "arq", "av", "ex", "exmo", "exma",
        "ilmo", "ilma", "ltda", "cia", "depto", "aprox", "obs", "tel", "cel", "sto", "sta",
    }
)  # fmt: skip
# Abbreviations that only precede a number ("No. 5", "art. 7", "p. 12").
_NUMBER_ABBREVIATIONS: Final = frozenset(
    {
        "no", "nº", "n", "nr", "num", "art", "arts", "p", "pp", "pg", "pag", "pág", "págs",
        "cap", "ch", "fig", "sec", "vol", "item", "min", "max", "máx", "jan", "feb", "fev",
        "mar", "apr", "abr", "jun", "jul", "aug", "ago", "sep", "set", "oct", "out", "nov",
        "dec", "dez",
    }
)  # fmt: skip
# Dotted abbreviations and acronyms: e.g, i.e, p.ex, U.S, n.º (final dot already removed).
_DOTTED: Final = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")
_BOUNDARY: Final = re.compile(r"([.!?…]+)[\"'”\u2019»)\]]*\s+")
_BULLET: Final = re.compile(r"(?:[-*+•◦▪‣\u2013—]|\d{1,3}[.)]|[a-z][.)]|[A-Z]\)|\(\w{1,3}\))\s+")
_INLINE_BULLET: Final = re.compile(r"\s+[•◦▪‣]\s+")
_HEADING: Final = re.compile(r"#{1,6}\s+")
# "| a | b |" (Markdown source) or "a | b" (a parsed table row).
_TABLE_ROW: Final = re.compile(r"\|.*\||[^|]+(?:\s\|\s[^|]*)+")
_TABLE_SEPARATOR: Final = re.compile(r"\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?")
_OPENERS: Final = "([{\"'“\u2018«"
_TERMINAL: Final = ".!?…:;,"
_MAX_TITLE_WORDS: Final = 8
_WHOLE_ITEM_CHARS: Final = 160

# --- code and configuration ---------------------------------------------------------------

_CODE_LINE: Final = re.compile(
    r"""(?:
        [A-Za-z_][\w.]*(?:\[[^\]]*\])*\s*[-+*/|]?=\s*\S.*       # NAME = value, a["b"] = 1
      | ["'][^"'\n]{1,80}["']\s*:\s*\S.*                         # "key": value
      | [a-z_][a-z0-9_.-]*:(?:\s+\S.*)?                          # yaml_key: value, key:
      | -\s+[a-z_][\w.-]*:\s*\S.*                                # - key: value
      | -\s+["'\[{].*                                            # - "list value"
      | [\[\]{}()]+[,;]?                                         # brackets
      | \[[\w .:-]+\]                                            # [ini section]
      | \$?\s*(?:make|curl|docker|git|pip|python3?|kubectl|npm|npx|export|ssh|psql|sudo
                |systemctl|orbita)\s+\S.*                        # a command
      | (?:def|class|import|return)\s+\S.*                       # python statements
    )""",
    re.VERBOSE,
)
_COMMENT_LINE: Final = re.compile(r"(?:#|//)\s*\S.*")
_LINE_KEY: Final = re.compile(r"""-?\s*["']?([A-Za-z_][\w.-]*)["']?\s*[-+*/|]?[:=]""")
_INI_SECTION: Final = re.compile(r"\[([\w .:-]+)\]")
_BRACKETS_ONLY: Final = re.compile(r"[\[\]{}()]+[,;]?")
# A line that opens a nested block: "key:", "NAME = {", "key: [", "services:".
_OPENER_KEY: Final = re.compile(
    r"""["']?(?P<key>[A-Za-z_][\w.-]*)["']?\s*(?::|=)\s*[\[{(]?\s*""", re.VERBOSE
)


def split_sentences(text: str) -> list[str]:
    """Sentences, list items, headings, table rows and code lines of `text`, in order.

    Handbook chunks mix prose, bullets, numbered steps, headings, tables and code, and
    each of those is a separate statement a user may need quoted, so list items, headings
    and rows are split off before prose is split at sentence ends. Dots of abbreviations
    ("e.g.", "Sr.", "Dr.", "art. 5") and decimals ("2.5") do not end a sentence.
    """
    return [unit.text for unit in units(text)]


def units(text: str) -> list[Unit]:
    """The evidence units of `text`, in order (see the module docstring)."""
    out: list[Unit] = []
    # The paragraph before a code block, table or list usually says what it is about
    # ("O algoritmo de assinatura é definido em settings.py"): its words are context.
    lead = ""
    for lines in _paragraphs(text):
        kind = _paragraph_kind(lines)
        if kind == "table":
            out.extend(_table_units(lines, lead))
            continue
        if kind == "code":
            out.extend(_code_units(lines, lead))
            continue
        previous = ""
        for block, block_kind in _blocks("\n".join(lines)):
            if block_kind in ("heading", "row"):
                out.append(Unit(text=block, kind=block_kind, quote=block))
                continue
            context = (previous or lead) if block_kind == "item" else ""
            for part in _INLINE_BULLET.split(block):
                # A short list item is one statement even with two sentences
                # ("Office managers: desks, visitors. Marta Oliveira in Lisbon.").
                whole = block_kind == "item" and len(part) <= _WHOLE_ITEM_CHARS
                for sentence in [part] if whole else _split_prose(part):
                    out.append(
                        Unit(text=sentence, kind=block_kind, quote=sentence, context=context)
                    )
            if block_kind == "prose":
                previous = block
        lead = previous or lead
    return out


def _paragraphs(text: str) -> list[list[str]]:
    """Runs of non-blank lines, each line with its indentation (code needs it)."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _paragraph_kind(lines: Sequence[str]) -> Literal["table", "code", "prose"]:
    stripped = [line.strip() for line in lines]
    if len(stripped) >= 2 and all(_TABLE_ROW.fullmatch(line) for line in stripped):
        return "table"
    strong = sum(1 for line in stripped if _CODE_LINE.fullmatch(line))
    if not strong:
        return "prose"
    weak = sum(
        1
        for raw, line in zip(lines, stripped, strict=True)
        if not _CODE_LINE.fullmatch(line)
        and (_COMMENT_LINE.fullmatch(line) or raw.startswith(("  ", "\t")))
    )
    bullets = sum(1 for line in stripped if _BULLET.match(line) and not line.startswith("- "))
    return "code" if (strong + weak) * 2 >= len(lines) and not bullets else "prose"


def _code_units(lines: Sequence[str], lead: str) -> list[Unit]:
    """One unit per line; a line that opens a block ("rate_limits:", "CACHE_TTL = {")
    becomes a key that the lines nested under it carry."""
    out: list[Unit] = []
    stack: list[tuple[int, str]] = []
    section = ""
    note = ""  # a comment line above, e.g. the file name "# orbita/settings.py"
    for raw in lines:
        line = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if _BRACKETS_ONLY.fullmatch(line):
            continue
        if match := _INI_SECTION.fullmatch(line):
            section, stack = match.group(1), []
            out.append(Unit(text=line, kind="key", quote=line, context=lead))
            continue
        if _COMMENT_LINE.fullmatch(line) and not _CODE_LINE.fullmatch(line):
            note = line.lstrip("#/ ")
            out.append(Unit(text=line, kind="key", quote=line, context=lead))
            continue
        parents = [section] if section else []
        parents += [key for _, key in stack]
        context = " ".join(part for part in (lead, note, *parents) if part)
        if key := _opened_key(line):
            stack.append((indent, key))
            out.append(Unit(text=line, kind="key", quote=line, context=context))
            continue
        code = f"`{line}`" if "`" not in line else line
        quote = f"{code} ({' › '.join(parents)})" if parents else code
        key = match.group(1) if (match := _LINE_KEY.match(line)) else ""
        out.append(Unit(text=line, kind="code", quote=quote, context=context, key=key))
    return out


def _opened_key(line: str) -> str | None:
    """The key a line opens a nested block with, or None for a line that holds a value."""
    if not line.endswith((":", "{", "[", "(")):
        return None
    match = _OPENER_KEY.match(line)
    return match.group("key") if match and match.end() >= len(line) - 1 else None


def _table_units(lines: Sequence[str], lead: str) -> list[Unit]:
    """One unit per row, shown as "header: cell" pairs when the header is known. The
    first row is the header when a separator follows it or, in a parsed table (no
    separator), when it holds no digit (a chunk cut mid-table starts with a data row)."""
    rows: list[list[str]] = []
    separated = False
    for line in lines:
        line = line.strip()
        if _TABLE_SEPARATOR.fullmatch(line):
            separated = separated or len(rows) == 1
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if any(cell for cell in cells):
            rows.append(cells)
    if not rows:
        return []
    first = rows[0]
    has_header = len(rows) > 1 and (separated or not any(ch.isdigit() for ch in "".join(first)))
    header = first if has_header else None
    out: list[Unit] = []
    if header is not None:
        text = " | ".join(cell for cell in header if cell)
        out.append(Unit(text=text, kind="header", quote=text, context=lead))
    context = " ".join(part for part in (lead, *(header or ())) if part)
    for row in rows[1:] if header is not None else rows:
        text = " | ".join(cell for cell in row if cell)
        if header is not None and len(header) == len(row):
            quote = " · ".join(
                f"{h}: {c}" if h else c for h, c in zip(header, row, strict=True) if c
            )
        else:
            quote = text
        key = next((cell for cell in row if cell), "")
        out.append(Unit(text=text, kind="row", quote=quote, context=context, key=key))
    return out


# --- prose ----------------------------------------------------------------------------------


def _blocks(text: str) -> list[tuple[str, Kind]]:
    """(block, kind) for paragraphs, list items, headings and table rows, with wrapped
    lines re-joined."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    blocks: list[tuple[str, Kind]] = []
    current: list[str] = []
    current_kind: list[Kind] = ["prose"]

    def flush() -> None:
        if current:
            blocks.append((" ".join(current), current_kind[0]))
            current.clear()
        current_kind[0] = "prose"

    for index, line in enumerate(lines):
        if not line:
            flush()
            continue
        if heading := _HEADING.match(line):
            flush()
            blocks.append((line[heading.end() :].strip("#: "), "heading"))
            continue
        if _TABLE_ROW.fullmatch(line):
            flush()
            if _TABLE_SEPARATOR.fullmatch(line):
                continue
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            blocks.append((" | ".join(cell for cell in cells if cell), "row"))
            continue
        if bullet := _BULLET.match(line):
            flush()
            current.append(line[bullet.end() :])
            current_kind[0] = "item"
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not current and _looks_like_title(line, following):
            blocks.append((line, "heading"))
            continue
        current.append(line)
    flush()
    return [(block, kind) for block, kind in blocks if any(ch.isalnum() for ch in block)]


def _looks_like_title(line: str, following: str) -> bool:
    """A short unpunctuated line followed by a capitalised one is a heading, not the
    start of a wrapped sentence (which would then read "Vacation policy Employees get")."""
    return (
        bool(following)
        and line[-1] not in _TERMINAL
        and len(line.split()) <= _MAX_TITLE_WORDS
        and (line[0].isupper() or line[0].isdigit())
        and (following[0].isupper() or following[0].isdigit() or bool(_BULLET.match(following)))
    )


def _split_prose(block: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(block):
        if _ends_sentence(block, match, start):
            sentences.append(block[start : match.end()].strip())
            start = match.end()
    tail = block[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if any(ch.isalnum() for ch in s)]


def _ends_sentence(block: str, match: re.Match[str], start: int) -> bool:
    following = block[match.end() : match.end() + 1]
    if not following:
        return True
    if following.islower():
        # "e.g. the", "aprox. dois": a real sentence would start with a capital.
        return False
    if match.group(1) != ".":
        return True  # "?", "!", "…", "..."
    before = block[start : match.start()].split()
    if not before:
        return True
    token = before[-1].lstrip(_OPENERS)
    lowered = token.lower()
    if lowered in _ABBREVIATIONS or _DOTTED.fullmatch(token):
        return False
    if len(token) == 1 and token.isalpha() and token.isupper():
        return False  # an initial: "J. Silva"
    if following.isdigit() and lowered in _NUMBER_ABBREVIATIONS:
        return False
    # "Steps: 1. Open the portal": an inline list number, not a sentence ending in "1".
    return not (token.isdigit() and len(token) <= 3 and (len(before) == 1 or before[-2][-1] == ":"))
