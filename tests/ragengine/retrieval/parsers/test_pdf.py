from __future__ import annotations

import io

import pypdf
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ragengine.retrieval.parsers import ParseError
from ragengine.retrieval.parsers.pdf import reflow


def make_pdf(pages: list[list[str]], *, title: str | None = None) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    if title:
        pdf.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


PAGES = [
    ["Política de férias: cada colaborador tem direito a trinta", "dias por ano."],
    ["Página dois: solicitação com antecedência."],
    [],  # a blank page is skipped, the numbering is not
    ["Página quatro."],
]


def test_one_section_per_page_with_page_numbers(parse_as):
    doc = parse_as("manual.pdf", make_pdf(PAGES, title="Manual de Férias"))
    assert doc.title == "Manual de Férias"
    assert doc.mime_type == "application/pdf"
    assert [(s.page, s.text) for s in doc.sections] == [
        (1, "Política de férias: cada colaborador tem direito a trinta dias por ano."),
        (2, "Página dois: solicitação com antecedência."),
        (4, "Página quatro."),
    ]
    assert all(s.heading_path == () for s in doc.sections)


def test_title_falls_back_to_file_name(parse_as):
    doc = parse_as("relatorio-anual.pdf", make_pdf([["Texto."]]))
    assert doc.title == "relatorio-anual"


def test_truncated_pdf(parse_as):
    data = make_pdf(PAGES)
    with pytest.raises(ParseError) as info:
        parse_as("broken.pdf", data[: len(data) // 2])
    message = str(info.value)
    assert message.startswith("The PDF is damaged and could not be read: ")
    assert message.endswith(".")


def test_garbage_with_pdf_extension(parse_as):
    with pytest.raises(ParseError, match=r"^The file has a \.pdf name but is not a PDF\.$"):
        parse_as("fake.pdf", b"this is not a pdf at all\n" * 20)


def test_pdf_header_with_garbage_body(parse_as):
    with pytest.raises(ParseError, match="^The PDF is damaged and could not be read: "):
        parse_as("fake.pdf", b"%PDF-1.7\n" + b"\x13\x37 garbage" * 100)


def _encrypt(data: bytes, *, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_password_protected_pdf(parse_as):
    data = _encrypt(make_pdf(PAGES), user_password="segredo")
    with pytest.raises(ParseError, match="password-protected"):
        parse_as("locked.pdf", data)


def test_pdf_encrypted_only_against_editing_is_read(parse_as):
    data = _encrypt(make_pdf([["Permissões restritas."]]), user_password="")
    doc = parse_as("restricted.pdf", data)
    assert doc.sections[0].text == "Permissões restritas."


def test_pdf_without_text(parse_as):
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.rect(100, 100, 200, 200, fill=1)  # a "scanned" page: drawing, no text
    pdf.showPage()
    pdf.save()
    with pytest.raises(ParseError, match="No text could be extracted from the PDF"):
        parse_as("scan.pdf", buffer.getvalue())


def test_empty_pdf_file(parse_as):
    with pytest.raises(ParseError, match=r"^The file is empty\.$"):
        parse_as("empty.pdf", b"")


def test_reflow_joins_wrapped_lines_and_keeps_structure():
    raw = (
        "Primeira linha que continua\nna segunda. Nova frase\naqui.\n"
        "- item um\n- item dois\n\nsegunda-\nfeira"
    )
    assert reflow(raw) == (
        "Primeira linha que continua na segunda. Nova frase aqui.\n- item um\n- item dois"
        "\n\nsegunda-feira"
    )


def test_reflow_keeps_breaks_after_short_lines_such_as_headings():
    raw = (
        "Política de viagens\n"
        "Esta é uma linha longa de texto que foi quebrada pelo layout da\n"
        "página no meio da frase e continua aqui.\n"
        "Tipo\nDias\n"
    )
    assert reflow(raw) == (
        "Política de viagens\n"
        "Esta é uma linha longa de texto que foi quebrada pelo layout da página no meio da "
        "frase e continua aqui.\nTipo\nDias"
    )
