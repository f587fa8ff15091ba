from __future__ import annotations

import io
import zipfile

import docx
import pytest

from ragengine.retrieval.parsers import ParseError


def make_docx(*, core_title: str = "") -> bytes:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_heading("Manual do Colaborador", level=0)  # "Title" style
    document.add_paragraph("Introdução geral ao manual.")
    document.add_heading("Férias", level=1)
    document.add_paragraph("Trinta dias de férias por ano.")
    document.add_paragraph("Peça ao gestor", style="List Bullet")
    document.add_heading("Venda de férias", level=2)
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Tipo", "Dias", "Observação"), strict=True):
        cell.text = text
    row = table.rows[1].cells
    row[0].text = "Abono"
    row[1].merge(row[2]).text = "10 dias, pago em dinheiro"  # a merged cell counts once
    document.add_paragraph("Depois da tabela.")
    document.add_heading("Saúde", level=1)
    document.add_paragraph("Plano de saúde para você e família.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_headings_build_paths_and_tables_are_included(parse_as):
    doc = parse_as("manual.docx", make_docx())
    assert doc.title == "Manual do Colaborador"
    assert doc.mime_type.endswith("wordprocessingml.document")
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (("Manual do Colaborador",), "Introdução geral ao manual."),
        (("Manual do Colaborador", "Férias"), "Trinta dias de férias por ano.\n\n- Peça ao gestor"),
        (
            ("Manual do Colaborador", "Férias", "Venda de férias"),
            "Tipo | Dias | Observação\nAbono | 10 dias, pago em dinheiro\n\nDepois da tabela.",
        ),
        (("Manual do Colaborador", "Saúde"), "Plano de saúde para você e família."),
    ]
    assert all(s.page is None for s in doc.sections)


def test_title_prefers_title_paragraph_then_core_properties(parse_as):
    document = docx.Document()
    document.core_properties.title = "Política de TI"
    document.add_heading("Senhas", level=1)
    document.add_paragraph("Troque a cada 90 dias.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = parse_as("ti.docx", buffer.getvalue())
    assert doc.title == "Política de TI"
    assert doc.sections[0].heading_path == ("Senhas",)


def test_corrupt_docx(parse_as):
    data = make_docx()
    with pytest.raises(ParseError) as info:
        parse_as("broken.docx", data[: len(data) // 2])
    assert str(info.value) == (
        "The Word document is damaged and could not be read: it is not a valid .docx (zip) package."
    )


def test_zip_that_is_not_a_word_document(parse_as):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "olá")
    with pytest.raises(ParseError, match="^The Word document is damaged and could not be read: "):
        parse_as("not-word.docx", buffer.getvalue())


def test_legacy_doc_gets_a_hint(parse_as):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    with pytest.raises(ParseError, match=r"old-format Word \(\.doc\) file; save it as \.docx"):
        parse_as("old.docx", ole)


def test_document_without_text(parse_as):
    document = docx.Document()
    document.add_heading("Só um título", level=1)
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(ParseError, match="No text could be extracted from the Word document"):
        parse_as("empty.docx", buffer.getvalue())
