"""The example set shipped for examples/handbook: big enough, both languages, with
unanswerable questions, and every expectation true of the documents as ingested."""

from __future__ import annotations

from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from ragengine.blocked_patterns import check_question
from ragengine.evaluation.cases_io import parse_cases
from ragengine.evaluation.documents import DocumentIndex, expected_documents_check
from ragengine.evaluation.metrics import fact_check
from ragengine.models import Chunk, EvalSet
from ragengine.selectors.blocked_patterns import active_blocked_patterns

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "evaluation" / "handbook.jsonl"


def test_example_set_has_40_cases_in_both_languages_with_unanswerable_ones():
    cases = parse_cases(EXAMPLE.read_bytes(), filename=EXAMPLE.name)
    languages = Counter(c.language for c in cases)
    assert len(cases) >= 40
    assert languages["en"] >= 15 and languages["pt"] >= 15
    unanswerable = [c for c in cases if c.must_refuse]
    assert {c.language for c in unanswerable} == {"en", "pt"} and len(unanswerable) >= 5
    assert all(c.expected_facts and c.expected_documents for c in cases if not c.must_refuse)


@pytest.mark.django_db
def test_example_set_expectations_hold_on_the_ingested_handbook(handbook):
    out = StringIO()
    call_command(
        "import_evalset", str(EXAMPLE), set_name="handbook", knowledge_set=["handbook"], stdout=out
    )
    assert "Created evaluation set 'handbook'" in out.getvalue()
    eval_set = EvalSet.objects.get(name="handbook")
    assert expected_documents_check(eval_set=eval_set) == []

    index = DocumentIndex.for_sets([handbook.pk])
    missing = []
    for case in eval_set.cases.filter(must_refuse=False):
        text = " ".join(
            Chunk.objects.filter(document_id__in=index.ids(case.expected_documents)).values_list(
                "text", flat=True
            )
        )
        check = fact_check(text, case.expected_facts)
        missing += [(case.question, fact) for fact in check.missed]
    assert missing == []  # each fact is stated in its expected document

    patterns = active_blocked_patterns()
    blocked = [
        c.question for c in eval_set.cases.all() if check_question(c.question, patterns=patterns)
    ]
    assert blocked == []


@pytest.mark.django_db
def test_import_command_leaves_an_existing_set_alone_with_if_missing():
    EvalSet.objects.create(name="handbook")
    out = StringIO()
    call_command("import_evalset", str(EXAMPLE), set_name="handbook", if_missing=True, stdout=out)
    assert "exists already" in out.getvalue()
    assert not EvalSet.objects.get(name="handbook").cases.exists()
