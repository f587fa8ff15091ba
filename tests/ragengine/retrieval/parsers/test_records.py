from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragengine.retrieval.parsers import (
    ParseError,
    is_record_format,
    parse_bytes,
    parse_records,
    parse_records_file,
)

GOOD = {
    "id": 17,
    "text": "Férias: trinta dias por ano.",
    "source": "handbook/ferias.md",
    "metadata": {"title": "Política de Férias", "page": 3, "lang": "pt"},
}


def jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_jsonl_with_bad_lines_keeps_good_records_and_reports_each_failure():
    data = jsonl(
        json.dumps(GOOD, ensure_ascii=False),
        '{"id": "b", "content": "Conteúdo do registro B.", "source": "faq.html"}',
        "{not json",
        "",
        '{"id": "d", "source": "x.md", "metadata": {}}',
        '{"id": "b", "text": "Outro com o mesmo id."}',
        '{"id": "f", "text": "   "}',
        '["not", "an", "object"]',
    )
    result = parse_records(data, filename="export.jsonl")
    assert [r.record_id for r in result.records] == ["17", "b"]
    first, second = result.records
    assert first.title == "Política de Férias"
    assert first.source == "handbook/ferias.md"
    assert first.metadata == GOOD["metadata"]
    assert first.document.sections[0].text == "Férias: trinta dias por ano."
    assert first.document.sections[0].page == 3
    assert second.title == "faq.html"  # no metadata title: the source
    assert result.failures == [
        ("line 3", "Line 3 is not valid JSON: Expecting property name enclosed in double quotes."),
        ("line 5", 'Line 5 has no "text" or "content" field.'),
        ("line 6", "Line 6 repeats id 'b' (first used on line 2)."),
        ("line 7", 'Line 7 has an empty "text" field.'),
        ("line 8", "Line 8 is not a JSON object."),
    ]


def test_json_list_and_single_object():
    listing = [GOOD, {"text": "Sem id nem fonte."}, {"id": 3}]
    result = parse_records(json.dumps(listing).encode(), filename="export.json")
    assert [r.record_id for r in result.records] == ["17", "record-2"]
    assert result.records[1].title == "record-2"
    assert result.failures == [("record 3", 'Record 3 has no "text" or "content" field.')]

    single = parse_records(json.dumps(GOOD).encode(), filename="one.json")
    assert [r.title for r in single.records] == ["Política de Férias"]
    assert single.failures == []


def test_invalid_json_file_is_a_whole_file_error():
    with pytest.raises(
        ParseError, match=r"^The file is not valid JSON: Extra data \(line 2, column 2\)\.$"
    ):
        parse_records(b'{"text": "a"\n}x', filename="bad.json")


def test_no_usable_record_is_a_whole_file_error():
    with pytest.raises(ParseError) as info:
        parse_records(jsonl('{"id": 1}', "oops"), filename="bad.ndjson")
    assert str(info.value) == (
        'None of the 2 records could be used. Line 1 has no "text" or "content" field. '
        "Line 2 is not valid JSON: Expecting value."
    )


def test_empty_and_wrong_shape():
    with pytest.raises(ParseError, match=r"^The file is empty\.$"):
        parse_records(b"\n\n", filename="empty.jsonl")
    with pytest.raises(ParseError, match="contains no records"):
        parse_records(b"[]", filename="empty.json")
    with pytest.raises(ParseError, match="must hold a record object or a list"):
        parse_records(b'"just a string"', filename="odd.json")


def test_record_files_through_parse_file_and_parse_bytes(tmp_path: Path):
    assert is_record_format("x.JSONL") and not is_record_format("x.md")
    path = tmp_path / "export.jsonl"
    path.write_bytes(jsonl(json.dumps(GOOD), '{"id": 2, "text": "Dois."}'))
    assert len(parse_records_file(path, max_bytes=10_000).records) == 2
    doc = parse_bytes(path.read_bytes(), filename="export.jsonl", max_bytes=10_000)
    assert doc.mime_type == "application/x-ndjson"
    assert [(s.heading_path, s.page) for s in doc.sections] == [
        (("Política de Férias",), 3),
        (("2",), None),
    ]
    with pytest.raises(ParseError, match=r"^1 of 2 records could not be used\. Line 2"):
        parse_bytes(jsonl(json.dumps(GOOD), "{"), filename="export.jsonl", max_bytes=10_000)


def test_nesting_deeper_than_the_limit_is_refused_without_recursing():
    """One record nested 100,000 levels deep used to abort ingestion with RecursionError."""
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ParseError) as info:
        parse_records(deep.encode(), filename="deep.json")
    assert str(info.value) == "The file is nested more than 100 levels deep (line 1, column 101)."

    lines = jsonl(
        json.dumps(GOOD),
        '{"id": "deep", "text": "x", "metadata": {"a": ' + deep + "}}",
        '{"id": "brackets", "text": "' + "[" * 500 + ' in a string are text, not nesting"}',
    )
    result = parse_records(lines, filename="export.jsonl")
    assert [r.record_id for r in result.records] == ["17", "brackets"]
    assert result.failures == [("line 2", "Line 2 is nested more than 100 levels deep.")]


def test_a_record_above_the_character_cap_fails_alone():
    from ragengine.retrieval.parsers import DocumentLimits

    data = jsonl(json.dumps(GOOD), json.dumps({"id": "big", "text": "palavra " * 100}))
    result = parse_records(
        data, filename="export.jsonl", limits=DocumentLimits(max_paragraphs=10, max_chars=500)
    )
    assert [r.record_id for r in result.records] == ["17"]
    assert result.failures == [
        ("line 2", "Line 2 holds more than 500 characters of text, the limit for one document.")
    ]


def test_more_records_than_the_cap_fail_the_whole_file_as_soon_as_it_is_passed():
    from ragengine.retrieval.parsers import DocumentLimits

    lines = [json.dumps({"id": i, "text": f"record {i}"}) for i in range(5)]
    limits = DocumentLimits(max_records=3)
    assert len(parse_records(jsonl(*lines[:3]), filename="a.jsonl", limits=limits).records) == 3
    with pytest.raises(ParseError, match="more than 3 records, the limit for one export"):
        parse_records(jsonl(*lines), filename="a.jsonl", limits=limits)
    with pytest.raises(ParseError, match="more than 3 records"):
        parse_records(json.dumps([json.loads(x) for x in lines]).encode(), filename="a.json",
                      limits=limits)  # fmt: skip
