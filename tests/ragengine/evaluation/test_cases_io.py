"""Evaluation cases in and out of files: JSONL, CSV and the JSON list of
examples/questions.json; every bad line reported, nothing half-imported."""

from __future__ import annotations

import json

import pytest

from ragengine.evaluation.cases_io import (
    CaseData,
    CaseImportError,
    eval_cases_csv,
    eval_cases_import,
    eval_cases_jsonl,
    parse_cases,
)
from ragengine.models import EvalCase, EvalSet


def jsonl(*items) -> bytes:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()


GOOD = {
    "question": "How many vacation days do I get?",
    "language": "en",
    "expected_documents": ["employee-handbook.md"],
    "expected_facts": [["25 working days", "25 days"], "March 31"],
    "reference_answer": "25 working days.",
    "tags": ["leave"],
}


def test_jsonl_cases_parse_with_any_of_fact_groups():
    (case,) = parse_cases(jsonl(GOOD), filename="set.jsonl")
    assert case.question == "How many vacation days do I get?"
    assert case.expected_facts == [["25 working days", "25 days"], ["March 31"]]
    assert case.expected_documents == ["employee-handbook.md"]
    assert (case.must_refuse, case.enabled, case.tags) == (False, True, ["leave"])


def test_questions_json_shape_is_read_including_unanswerable_questions():
    data = json.dumps(
        [
            {"question": "Qual é o limite?", "language": "pt",
             "expected_source": "politica-de-reembolso.md", "expected_phrase": "R$ 120"},
            {"question": "What is the CEO's favourite colour?", "language": "en",
             "expected_source": None, "expected_phrase": None},
        ]
    ).encode()  # fmt: skip
    answerable, unanswerable = parse_cases(data, filename="questions.json")
    assert answerable.expected_documents == ["politica-de-reembolso.md"]
    assert answerable.expected_facts == [["R$ 120"]]
    assert unanswerable.must_refuse and not unanswerable.expected_facts


def test_every_bad_line_is_reported_with_its_number():
    data = jsonl(GOOD, {"question": ""}, {**GOOD, "question": "Other?", "must_refuse": True})
    data += b"{not json\n" + jsonl({**GOOD, "question": "how many VACATION days do I get"})
    with pytest.raises(CaseImportError) as caught:
        parse_cases(data, filename="set.jsonl")
    problems = caught.value.problems
    assert problems[0].startswith("line 2: 'question' is missing")
    assert problems[1].startswith("line 3: a 'must_refuse' case expects no facts")
    assert problems[2].startswith("line 4: not valid JSON")
    assert problems[3] == "line 5: the same question as line 1"
    assert "Nothing was imported" in str(caught.value)


@pytest.mark.parametrize(
    "item, message",
    [
        ({"question": "Q?", "expected_facts": "25 days"}, "'expected_facts' is a list"),
        ({"question": "Q?", "language": "de", "expected_facts": ["x"]}, "language 'de'"),
        ({"question": "Q?", "enabled": "yes", "expected_facts": ["x"]}, "'enabled' is true"),
        ({"question": "Q?"}, "needs expected facts, documents or a reference answer"),
        ({"question": "Q?", "tags": "leave", "expected_facts": ["x"]}, "'tags' is a list"),
        (["Q?"], "a case is a JSON object"),
    ],
)
def test_wrong_shapes_get_readable_reasons(item, message):
    with pytest.raises(CaseImportError) as caught:
        parse_cases(jsonl(item), filename="set.jsonl")
    assert message in caught.value.problems[0]


def test_a_draft_without_expectations_may_be_imported_disabled():
    (case,) = parse_cases(jsonl({"question": "Why?", "enabled": False}), filename="d.jsonl")
    assert not case.enabled


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (b"\xff\xfe\x00bad", "set.jsonl", "not UTF-8"),
        (b"", "set.jsonl", "no cases"),
        (b"question\n", "set.csv", "no cases"),
        (b"q,answer\nx,y\n", "set.csv", "'question' column"),
        (b"question,colour\nx,y\n", "set.csv", "unknown CSV column(s): colour"),
        (b"{}", "set.txt", "not a .jsonl, .json or .csv file"),
        (b"[1,", "set.json", "not valid JSON"),
    ],
)
def test_unreadable_files_are_refused_whole(data, filename, message):
    with pytest.raises(CaseImportError) as caught:
        parse_cases(data, filename=filename)
    assert message in str(caught.value)


def test_csv_cells_hold_lists_with_separators():
    data = (
        "question,language,expected_documents,expected_facts,must_refuse,tags,enabled\n"
        'Quanto é o vale?,pt,beneficios.docx;faq.jsonl#faq-1,"R$ 45 | 45 reais; dia útil",no,'
        '"benefits, pt",yes\n'
        "Who is the CEO's cat?,en,,,yes,unanswerable,\n"
    ).encode()
    first, second = parse_cases(data, filename="set.csv")
    assert first.expected_documents == ["beneficios.docx", "faq.jsonl#faq-1"]
    assert first.expected_facts == [["R$ 45", "45 reais"], ["dia útil"]]
    assert first.tags == ["benefits", "pt"]
    assert second.must_refuse and second.enabled


def test_csv_yes_no_cell_must_be_a_yes_or_no():
    data = b"question,expected_facts,must_refuse\nQ?,x,maybe\n"
    with pytest.raises(CaseImportError) as caught:
        parse_cases(data, filename="set.csv")
    assert caught.value.problems == ["line 2: 'maybe' is not yes/no (true/false, 1/0)"]


@pytest.mark.django_db
def test_import_appends_new_questions_and_skips_ones_the_set_has():
    eval_set = EvalSet.objects.create(name="handbook")
    eval_cases_import(
        eval_set=eval_set, cases=[CaseData("Vacation days?", expected_facts=[["25"]])]
    )
    report = eval_cases_import(
        eval_set=eval_set,
        cases=[
            CaseData("vacation DAYS", expected_facts=[["25"]]),
            CaseData("Core hours?", expected_facts=[["10:00"]]),
        ],
    )
    assert (report.created, report.skipped, report.removed) == (1, 1, 0)
    assert list(eval_set.cases.values_list("question", "position")) == [
        ("Vacation days?", 1),
        ("Core hours?", 2),
    ]


@pytest.mark.django_db
def test_replace_swaps_the_cases():
    eval_set = EvalSet.objects.create(name="handbook")
    eval_cases_import(eval_set=eval_set, cases=[CaseData("Old?", expected_facts=[["x"]])])
    report = eval_cases_import(
        eval_set=eval_set, cases=[CaseData("New?", expected_facts=[["y"]])], replace=True
    )
    assert (report.created, report.removed) == (1, 1)
    assert list(EvalCase.objects.values_list("question", flat=True)) == ["New?"]


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_reads_back_as_the_same_cases(fmt):
    eval_set = EvalSet.objects.create(name="handbook")
    cases = [
        CaseData(
            "Quanto é o vale-refeição?",
            language="pt",
            expected_documents=["beneficios.docx"],
            expected_facts=[["R$ 45", "45 reais"], ["dia útil"]],
            reference_answer="R$ 45, por dia útil.",
            tags=["benefits", "pt"],
        ),
        CaseData("Who is the CEO's cat?", language="en", must_refuse=True, tags=["unanswerable"]),
        CaseData("Draft?", enabled=False),
    ]
    eval_cases_import(eval_set=eval_set, cases=cases)
    text = (eval_cases_jsonl if fmt == "jsonl" else eval_cases_csv)(eval_set=eval_set)
    assert parse_cases(text.encode(), filename=f"out.{fmt}") == cases
