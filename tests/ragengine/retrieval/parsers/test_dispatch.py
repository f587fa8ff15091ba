from __future__ import annotations

import io
import os
from pathlib import Path

import docx
import pytest

from ragengine.retrieval.parsers import (
    SUPPORTED_EXTENSIONS,
    ParseError,
    parse_bytes,
    parse_file,
    parse_records_file,
)
from ragengine.retrieval.parsers.base import format_limit, format_size
from tests.ragengine.retrieval.parsers.test_pdf import make_pdf

MB = 1024 * 1024


def test_supported_extensions():
    assert {".md", ".txt", ".html", ".pdf", ".docx", ".json", ".jsonl"} <= SUPPORTED_EXTENSIONS


def test_oversize_file_is_refused_before_reading(tmp_path: Path, monkeypatch):
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:  # sparse: 31.2 MB on stat, nothing written
        handle.truncate(int(31.2 * MB))

    def no_reading(*args, **kwargs):
        raise AssertionError("the file must not be opened")

    monkeypatch.setattr(Path, "open", no_reading)
    with pytest.raises(ParseError) as info:
        parse_file(path, max_bytes=20 * MB)
    assert str(info.value) == "The file is 31.2 MB, above the 20 MB limit."
    with pytest.raises(ParseError, match="above the 20 MB limit"):
        parse_records_file(path, max_bytes=20 * MB)


def test_oversize_bytes_and_small_limits():
    with pytest.raises(ParseError, match=r"^The file is 2\.0 KB, above the 1 KB limit\.$"):
        parse_bytes(b"a" * 2048, filename="a.txt", max_bytes=1024)
    with pytest.raises(ParseError, match=r"^The file is 600 bytes, above the 500 bytes limit\.$"):
        parse_bytes(b"a" * 600, filename="a.txt", max_bytes=500)


def test_size_formatting_never_reads_as_equal_to_the_limit():
    assert format_size(20 * MB + 10, above=20 * MB) == "20.1 MB"
    assert format_limit(20 * MB) == "20 MB"
    assert format_limit(int(2.5 * MB)) == "2.5 MB"


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(ParseError, match=r"^The file could not be found\.$"):
        parse_file(tmp_path / "nope.txt", max_bytes=MB)
    with pytest.raises(ParseError, match="folder"):
        parse_file(tmp_path, max_bytes=MB)


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.docx"
    path.write_bytes(b"")
    with pytest.raises(ParseError, match=r"^The file is empty\.$"):
        parse_file(path, max_bytes=MB)


def test_unknown_extension_with_text_content_is_plain_text(tmp_path: Path):
    path = tmp_path / "LEIAME"
    path.write_text("Instruções de instalação.\n", encoding="utf-8")
    doc = parse_file(path, max_bytes=MB)
    assert doc.mime_type == "text/plain"
    assert doc.sections[0].text == "Instruções de instalação."


def test_unknown_extension_with_html_content(tmp_path: Path):
    path = tmp_path / "page.xhtml"
    path.write_text("<!DOCTYPE html><title>T</title><h1>A</h1><p>Olá.</p>", encoding="utf-8")
    doc = parse_file(path, max_bytes=MB)
    assert doc.mime_type == "text/html"
    assert doc.sections[0].heading_path == ("A",)


def test_unknown_extension_with_binary_content(tmp_path: Path):
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(1024) + b"\x00")
    with pytest.raises(ParseError) as info:
        parse_file(path, max_bytes=MB)
    assert str(info.value) == "Unsupported file type .bin: the content is not text."


def test_unknown_extension_sniffs_pdf_and_docx():
    pdf = parse_bytes(make_pdf([["Conteúdo do PDF."]]), filename="download", max_bytes=MB)
    assert (pdf.mime_type, pdf.sections[0].page) == ("application/pdf", 1)
    document = docx.Document()
    document.add_paragraph("Conteúdo do Word.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = parse_bytes(buffer.getvalue(), filename="upload", max_bytes=MB)
    assert doc.sections[0].text == "Conteúdo do Word."


def test_known_unsupported_format_gets_a_hint():
    with pytest.raises(ParseError, match=r"^Unsupported file type \.xlsx; export the sheets"):
        parse_bytes(b"PK\x03\x04whatever", filename="planilha.xlsx", max_bytes=MB)


def test_extension_is_case_insensitive(tmp_path: Path):
    path = tmp_path / "NOTES.MD"
    path.write_bytes(b"# T\n\nCorpo.\n")
    assert parse_file(path, max_bytes=MB).sections[0].heading_path == ("T",)


@pytest.mark.parametrize(
    "name, data",
    [
        ("long.txt", ("Uma frase comum. " * 20).encode()),
        ("long.md", ("# T\n\n" + "Uma frase comum. " * 20).encode()),
        ("long.html", ("<h1>T</h1><p>" + "Uma frase comum. " * 20 + "</p>").encode()),
        ("long.pdf", make_pdf([["Uma frase comum, repetida."]] * 20)),
    ],
)
def test_every_format_refuses_text_above_the_character_cap(name, data):
    from ragengine.retrieval.parsers import DocumentLimits

    limits = DocumentLimits(max_paragraphs=10, max_chars=100)
    with pytest.raises(ParseError) as info:
        parse_bytes(data, filename=name, max_bytes=MB, limits=limits)
    assert str(info.value) == (
        "The document holds more than 100 characters of text, the limit for one document; "
        "split it into smaller files."
    )
    assert parse_bytes(data, filename=name, max_bytes=MB).sections  # the default cap is roomy
