"""Evaluation cases in and out: JSON Lines and CSV (plus the JSON list of
`examples/questions.json`).

JSONL, one case per line:
    {"question": "...", "language": "en", "expected_documents": ["employee-handbook.md"],
     "expected_facts": [["25 working days", "25 days"]], "reference_answer": "...",
     "must_refuse": false, "tags": ["leave"], "enabled": true}
CSV has the same columns; in a cell, documents are separated by ";", facts by ";" and
the alternative phrases of one fact by "|", tags by ",".

An import is all or nothing: any bad line is reported (with its line number) and nothing
is written, so a typo never leaves half a set behind.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from django.db import transaction
from django.db.models import Max

from ragengine.evaluation.metrics import normalize_text
from ragengine.models import CaseLanguage, CaseOrigin, EvalCase, EvalSet

logger = logging.getLogger(__name__)

COLUMNS = (
    "question",
    "language",
    "expected_documents",
    "expected_facts",
    "reference_answer",
    "must_refuse",
    "tags",
    "enabled",
)
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_QUESTION_CHARS = 2000
_TRUE = {"1", "true", "yes", "y", "sim", "x"}
_FALSE = {"", "0", "false", "no", "n", "não", "nao"}


class CaseImportError(ValueError):
    """The file can't be imported; `problems` says why, line by line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"Nothing was imported: {shown}{more}.")


@dataclass(slots=True)
class CaseData:
    question: str
    language: str = ""
    expected_documents: list[str] = field(default_factory=list)
    expected_facts: list[list[str]] = field(default_factory=list)
    reference_answer: str = ""
    must_refuse: bool = False
    tags: list[str] = field(default_factory=list)
    enabled: bool = True


# --- text forms shared with the admin's case form --------------------------------------------


def facts_from_text(text: str, *, group_sep: str = "\n") -> list[list[str]]:
    """'25 working days | 25 days' per fact (one per line, or per `group_sep`)."""
    groups = []
    for line in (text or "").split(group_sep):
        phrases = [p.strip() for p in line.split("|") if p.strip()]
        if phrases:
            groups.append(phrases)
    return groups


def facts_to_text(facts: Iterable[Iterable[str]], *, group_sep: str = "\n") -> str:
    return group_sep.join(" | ".join(group) for group in facts)


def split_list(text: str, sep: str) -> list[str]:
    return list(dict.fromkeys(p.strip() for p in (text or "").split(sep) if p.strip()))


# --- parsing ----------------------------------------------------------------------------------


def parse_cases(data: bytes, *, filename: str) -> list[CaseData]:
    """Cases from a .jsonl, .json or .csv file; CaseImportError lists every bad line."""
    if len(data) > MAX_IMPORT_BYTES:
        raise CaseImportError([f"the file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaseImportError(["the file is not UTF-8 text"]) from None
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        items = _jsonl_items(text)
    elif suffix == ".json":
        items = _json_items(text)
    elif suffix == ".csv":
        items = _csv_items(text)
    else:
        raise CaseImportError([f"{filename!r} is not a .jsonl, .json or .csv file"])
    cases: list[CaseData] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for where, item in items:
        if isinstance(item, str):  # a line that could not even be read
            problems.append(f"{where}: {item}")
            continue
        try:
            case = _case(item)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        key = normalize_text(case.question)
        if key in seen:
            problems.append(f"{where}: the same question as {seen[key]}")
            continue
        seen[key] = where
        cases.append(case)
    if problems:
        raise CaseImportError(problems)
    if not cases:
        raise CaseImportError(["the file has no cases"])
    return cases


def _jsonl_items(text: str) -> list[tuple[str, Any]]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            items.append((f"line {number}", f"not valid JSON ({exc.msg})"))
    return items


def _json_items(text: str) -> list[tuple[str, Any]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseImportError([f"not valid JSON ({exc.msg} at line {exc.lineno})"]) from None
    if isinstance(value, dict):
        value = value.get("cases", [value])
    if not isinstance(value, list):
        raise CaseImportError(["a .json file holds a list of cases"])
    return [(f"case {number}", item) for number, item in enumerate(value, start=1)]


def _csv_items(text: str) -> list[tuple[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "question" not in reader.fieldnames:
        raise CaseImportError(["the CSV needs a header row with at least a 'question' column"])
    unknown = [c for c in reader.fieldnames if c and c not in COLUMNS]
    if unknown:
        raise CaseImportError([f"unknown CSV column(s): {', '.join(unknown)}"])
    items: list[tuple[str, Any]] = []
    for row in reader:
        where = f"line {reader.line_num}"
        if None in row:
            items.append((where, "more cells than columns"))
            continue
        try:
            items.append(
                (
                    where,
                    {
                        "question": row.get("question") or "",
                        "language": row.get("language") or "",
                        "expected_documents": split_list(row.get("expected_documents", ""), ";"),
                        "expected_facts": facts_from_text(
                            row.get("expected_facts", ""), group_sep=";"
                        ),
                        "reference_answer": row.get("reference_answer") or "",
                        "must_refuse": _flag(row.get("must_refuse"), default=False),
                        "tags": split_list(row.get("tags", ""), ","),
                        "enabled": _flag(row.get("enabled"), default=True),
                    },
                )
            )
        except ValueError as exc:
            items.append((where, str(exc)))
    return items


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    folded = value.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes/no (true/false, 1/0)")


def _case(item: Any) -> CaseData:
    if not isinstance(item, dict):
        raise ValueError("a case is a JSON object")
    item = _from_questions_json(item)
    question = item.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' is missing or empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    language = item.get("language") or ""
    if language not in CaseLanguage.values and language != "":
        raise ValueError(f"language {language!r} is not one of {', '.join(CaseLanguage.values)}")
    documents = _strings(item.get("expected_documents", []), "expected_documents")
    facts_value = item.get("expected_facts", [])
    if not isinstance(facts_value, list):
        raise ValueError("'expected_facts' is a list of facts")
    facts = []
    for group in facts_value:
        phrases = [group] if isinstance(group, str) else group
        phrases = _strings(phrases, "each fact in 'expected_facts'")
        if phrases:
            facts.append(phrases)
    must_refuse = _bool(item.get("must_refuse", False), "must_refuse")
    if must_refuse and (facts or documents):
        raise ValueError("a 'must_refuse' case expects no facts and no documents")
    reference = item.get("reference_answer") or ""
    if not isinstance(reference, str):
        raise ValueError("'reference_answer' is text")
    enabled = _bool(item.get("enabled", True), "enabled")
    if enabled and not must_refuse and not (facts or documents or reference.strip()):
        raise ValueError(
            "an enabled case needs expected facts, documents or a reference answer (or must_refuse)"
        )
    return CaseData(
        question=question.strip(),
        language=language,
        expected_documents=documents,
        expected_facts=facts,
        reference_answer=reference.strip(),
        must_refuse=must_refuse,
        tags=_strings(item.get("tags", []), "tags"),
        enabled=enabled,
    )


def _from_questions_json(item: dict[str, Any]) -> dict[str, Any]:
    """examples/questions.json's shape: expected_source / expected_phrase (null for a
    question the documents don't answer)."""
    if "expected_source" not in item and "expected_phrase" not in item:
        return item
    converted = {k: v for k, v in item.items() if k not in ("expected_source", "expected_phrase")}
    source, phrase = item.get("expected_source"), item.get("expected_phrase")
    if source is None and phrase is None:
        converted.setdefault("must_refuse", True)
    converted.setdefault("expected_documents", [source] if source else [])
    converted.setdefault("expected_facts", [[phrase]] if phrase else [])
    return converted


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name!r} is a list of strings")
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name!r} is true or false")
    return value


# --- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    skipped: int  # questions the set already had
    removed: int  # cases replaced


def eval_cases_import(
    *,
    eval_set: EvalSet,
    cases: Sequence[CaseData],
    replace: bool = False,
    origin: str = CaseOrigin.IMPORT,
) -> ImportReport:
    """Add `cases` to the set (a question it already has is skipped), or with `replace`
    swap its cases for these; in one transaction. Finished runs keep their copies."""
    with transaction.atomic():
        removed = 0
        if replace:
            removed, _ = eval_set.cases.all().delete()
        existing = {normalize_text(q) for q in eval_set.cases.values_list("question", flat=True)}
        start = (eval_set.cases.aggregate(top=Max("position"))["top"] or 0) + 1
        new = []
        for case in cases:
            key = normalize_text(case.question)
            if key in existing:
                continue
            existing.add(key)
            new.append(
                EvalCase(
                    eval_set=eval_set, position=start + len(new), origin=origin, **asdict(case)
                )
            )
        EvalCase.objects.bulk_create(new)
    report = ImportReport(created=len(new), skipped=len(cases) - len(new), removed=removed)
    logger.info(
        "evaluation cases imported",
        extra={
            "eval_set": eval_set.name,
            "cases_created": report.created,
            "cases_skipped": report.skipped,
        },
    )
    return report


def _case_dict(case: EvalCase) -> dict[str, Any]:
    return {
        "question": case.question,
        "language": case.language,
        "expected_documents": list(case.expected_documents),
        "expected_facts": [list(g) for g in case.expected_facts],
        "reference_answer": case.reference_answer,
        "must_refuse": case.must_refuse,
        "tags": list(case.tags),
        "enabled": case.enabled,
    }


def eval_cases_jsonl(*, eval_set: EvalSet) -> str:
    """The set's cases as JSON Lines, in order (what `parse_cases` reads back)."""
    return "".join(
        json.dumps(_case_dict(case), ensure_ascii=False) + "\n"
        for case in eval_set.cases.order_by("position", "pk")
    )


def eval_cases_csv(*, eval_set: EvalSet) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for case in eval_set.cases.order_by("position", "pk"):
        row = _case_dict(case)
        writer.writerow(
            row
            | {
                "expected_documents": ";".join(row["expected_documents"]),
                "expected_facts": facts_to_text(row["expected_facts"], group_sep=";"),
                "tags": ",".join(row["tags"]),
                "must_refuse": "yes" if row["must_refuse"] else "no",
                "enabled": "yes" if row["enabled"] else "no",
            }
        )
    return out.getvalue()
