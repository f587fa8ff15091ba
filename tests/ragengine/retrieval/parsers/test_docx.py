from __future__ import annotations

import io
import zipfile

import docx
import pytest

from ragengine.retrieval.parsers import ParseError, parse_file

MB = 1024 * 1024


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


# --- hostile documents (audit "Hardening" item 12) ----------------------------------------


def docx_with_paragraphs(count: int, *, styles: tuple[str | None, ...] = (None,)) -> bytes:
    """A small DOCX whose body holds `count` empty paragraphs (cycling through `styles`, by
    style id; None = no style, the default): 100,000 of them zip to about 40 KB."""
    base = io.BytesIO()
    docx.Document().save(base)
    marks = [
        b"<w:p/>"
        if style is None
        else f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr></w:p>'.encode()
        for style in styles
    ]
    body = b"".join(marks[i % len(marks)] for i in range(count))
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + body, 1)
            target.writestr(item.filename, data)
    return out.getvalue()


def test_a_44_kb_docx_with_100k_empty_paragraphs_is_refused_above_the_cap(parse_as):
    data = docx_with_paragraphs(100_000)
    assert len(data) < 60_000

    with pytest.raises(ParseError) as info:
        parse_as("bomb.docx", data)

    assert str(info.value) == (
        "The Word document has 100,000 paragraphs, above the 50,000 paragraph limit for one "
        "document; split it into smaller files."
    )


def test_paragraph_and_character_caps_are_configurable(tmp_path):
    from ragengine.retrieval.parsers import DocumentLimits

    path = tmp_path / "manual.docx"
    path.write_bytes(make_docx())
    with pytest.raises(ParseError, match=r"has 14 paragraphs, above the 5 paragraph limit"):
        parse_file(path, max_bytes=MB, limits=DocumentLimits(max_paragraphs=5, max_chars=10**6))
    with pytest.raises(ParseError) as info:
        parse_file(path, max_bytes=MB, limits=DocumentLimits(max_paragraphs=100, max_chars=40))
    assert str(info.value) == (
        "The document holds more than 40 characters of text, the limit for one document; "
        "split it into smaller files."
    )
    roomy = DocumentLimits(max_paragraphs=14, max_chars=10_000)
    assert parse_file(path, max_bytes=MB, limits=roomy).title == "Manual do Colaborador"


def test_styles_are_looked_up_once_per_style_id_not_per_paragraph(parse_as, monkeypatch):
    """python-docx's `paragraph.style` scans every style of the document on each call; the
    audit's 20,000-paragraph file spent 28 s there."""
    from docx.styles.styles import Styles

    lookups = []
    real_get_by_id = Styles.get_by_id

    def counting_get_by_id(self, style_id, style_type):
        lookups.append(style_id)
        return real_get_by_id(self, style_id, style_type)

    monkeypatch.setattr(Styles, "get_by_id", counting_get_by_id)
    data = docx_with_paragraphs(3_000, styles=(None, "ListBullet", "Heading1"))

    with pytest.raises(ParseError, match="No text could be extracted"):
        parse_as("many.docx", data)

    assert sorted(lookups, key=str) == sorted([None, "ListBullet", "Heading1"], key=str)


def test_a_docx_that_unpacks_to_a_huge_size_is_refused_before_it_is_unpacked(parse_as):
    """A zip bomb: the sizes its directory declares are checked before anything is inflated
    (zipfile never inflates a member past its declared size)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b" " * 1024)
        archive.filelist[-1].file_size = 300 * MB  # as 300 MB of spaces would declare
    with pytest.raises(ParseError) as info:
        parse_as("zip-bomb.docx", buffer.getvalue())
    assert str(info.value) == (
        "The Word document unpacks to 300.0 MB, above the 256 MB limit; it is not a normal "
        "document."
    )
