"""Regenerate the binary files of the sample knowledge base.

Creates, from text defined in this file:

- examples/handbook/onboarding-guide.pdf  (3 pages, English, reportlab)
- examples/handbook/beneficios.docx       (Portuguese, python-docx)
- examples/broken/scanned-contract.pdf    (a deliberately truncated PDF)

The output is reproducible: the PDF is written in reportlab's "invariant" mode (fixed
creation date and document ID), and the DOCX gets fixed core properties and fixed
timestamps on its zip entries. Running the script twice gives byte-identical files.

Usage (from the repository root):

    .venv/bin/python examples/make_binary_examples.py
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from docx import Document
from docx.shared import Pt
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

EXAMPLES = Path(__file__).resolve().parent
HANDBOOK = EXAMPLES / "handbook"
BROKEN = EXAMPLES / "broken"

FIXED_DATE = dt.datetime(2026, 1, 15, 9, 0, 0)
ZIP_DATE = (2026, 1, 15, 9, 0, 0)

# --------------------------------------------------------------------------------------
# Onboarding guide (PDF)
# --------------------------------------------------------------------------------------

ONBOARDING_TITLE = "Welcome to Acme: Onboarding Guide"

# Each page: (heading, intro paragraphs, bullet items, closing paragraphs)
ONBOARDING_PAGES: list[dict] = [
    {
        "heading": "Your first-day checklist",
        "intro": [
            "Welcome to Acme Lda.! This guide covers your first day, the accounts and "
            "tools you will use, and who to ask when you get stuck. Keep it open during "
            "your first week.",
            "Your first day starts at 09:30 at the reception of your office. Your manager "
            "and your onboarding buddy will meet you there. Bring an identity document and "
            "the bank details for your salary.",
        ],
        "bullets": [
            "Collect your access badge from reception. The badge opens the building and "
            "releases your print jobs.",
            "Pick up your laptop at the IT desk. It arrives already encrypted and enrolled, "
            "so do not reinstall the operating system.",
            "With IT, set up KeyVault (the password manager) and multi-factor "
            "authentication before you open any other tool.",
            "Sign in to PeoplePortal and confirm your personal details, emergency contact "
            "and bank account.",
            "Meet your onboarding buddy, your first point of contact for everyday "
            "questions during your first 90 days.",
            "Have lunch with your team. Acme pays for the first-day lunch.",
            "Before the end of your first week: read the Employee Handbook and the IT "
            "Security Policy, and complete the online security training.",
        ],
        "outro": [
            "Do not worry about finishing everything on day one. Your buddy will check the "
            "list with you on Friday of your first week.",
        ],
    },
    {
        "heading": "Accounts and tools",
        "intro": [
            "Your Google Workspace account (email, calendar and documents) is created before "
            "you start. You sign in to every other tool with that account, using single "
            "sign-on, so you will only have one company password to remember.",
            "For any IT problem, such as a broken laptop, missing access or a software "
            "request, post in the #help-it Slack channel. The IT service desk answers "
            "there during office hours, usually within 30 minutes. When a request needs "
            "tracking, IT opens a Jira ticket for you in the IT Requests project.",
        ],
        "table": [
            ["Tool", "What it is for", "How you get access"],
            ["Slack", "Chat. Join #announcements, #help-it and #ask-people", "Ready on day one"],
            ["Jira", "Tickets for product work and IT requests", "Ready on day one"],
            ["GitHub", "Source code and code review", "Requested by your team lead"],
            ["PeoplePortal", "Leave, time tracking and payslips", "Ready on day one"],
            ["KeyVault", "Company password manager", "Set up with IT on day one"],
            ["Gastos", "Expense reports (São Paulo office)", "Ready on day one"],
        ],
        "outro": [
            "In Jira, product teams each have their own project; ask your manager which "
            "board your team uses. Never create personal accounts on external tools for "
            "company work without checking with IT first.",
        ],
    },
    {
        "heading": "Who to ask",
        "intro": [
            "Nobody expects you to know everything in your first months. Asking early is "
            "faster than guessing. Use this page to find the right person.",
        ],
        "bullets": [
            "Your manager: goals, priorities, feedback and approval of leave requests.",
            "Your onboarding buddy: how things really work, who is who, and any question "
            "you feel is too small to ask anyone else.",
            "IT service desk: laptops, accounts and software. Slack #help-it or it@acme.example.",
            "People Team: contracts, leave, benefits and payroll. Slack #ask-people or "
            "people@acme.example. Your People Partner is Inês Carvalho in Lisbon and "
            "Rafael Souza in São Paulo.",
            "Finance: expense reports and reimbursements. financeiro@acme.example.",
            "Office managers: desks, building access, visitors and parking. Marta "
            "Oliveira in Lisbon and Tiago Mendes in São Paulo.",
            "Security Team: anything that looks like a security incident. Follow the "
            "reporting steps in the IT Security Policy straight away.",
        ],
        "outro": [
            "After your first 90 days, you and your manager will have a short review of "
            "how onboarding went. Tell us what was missing from this guide so the next "
            "person has an easier start.",
        ],
    },
]


def _footer(canvas, doc) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    canvas.setFillColor(colors.grey)
    canvas.drawString(20 * mm, 12 * mm, "Acme Lda. - Onboarding Guide - Internal")
    canvas.drawRightString(190 * mm, 12 * mm, f"Page {doc.page} of {len(ONBOARDING_PAGES)}")
    canvas.restoreState()


def build_onboarding_pdf(path: Path) -> None:
    styles = getSampleStyleSheet()
    body = ParagraphStyle(
        "Body", parent=styles["BodyText"], fontSize=10.5, leading=14, alignment=TA_LEFT
    )
    cell = ParagraphStyle("Cell", parent=body, fontSize=9.5, leading=12)
    bullet = ParagraphStyle("Bullet", parent=body, leftIndent=14, bulletIndent=4, spaceBefore=2)

    story: list = [Paragraph(ONBOARDING_TITLE, styles["Title"])]
    for index, page in enumerate(ONBOARDING_PAGES):
        if index:
            story.append(PageBreak())
        story.append(Paragraph(page["heading"], styles["Heading1"]))
        for text in page["intro"]:
            story.append(Paragraph(text, body))
        if page.get("bullets"):
            story.extend(Paragraph(item, bullet, bulletText="-") for item in page["bullets"])
        if page.get("table"):
            rows = [[Paragraph(c, cell) for c in row] for row in page["table"]]
            table = Table(rows, colWidths=[30 * mm, 80 * mm, 55 * mm], hAlign="LEFT")
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.extend([Spacer(1, 4 * mm), table, Spacer(1, 4 * mm)])
        for text in page.get("outro", []):
            story.append(Paragraph(text, body))

    doc = BaseDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=22 * mm,
        title="Onboarding Guide",
        author="Acme Lda. People Team",
        subject="First day, accounts and tools, who to ask",
        creator="examples/make_binary_examples.py",
        invariant=1,  # fixed creation date and document ID -> reproducible bytes
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    # The footer is drawn at the end of each page so text extraction yields it last.
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=_footer)])
    doc.build(story)


# --------------------------------------------------------------------------------------
# Benefits (DOCX)
# --------------------------------------------------------------------------------------

BENEFICIOS_INTRO = (
    "Este documento resume os benefícios oferecidos pela Acme Lda. aos colaboradores "
    "contratados no escritório de São Paulo. Os benefícios começam a valer no primeiro dia "
    "de trabalho. Dúvidas podem ser enviadas ao People Team pelo canal #ask-people ou pelo "
    "e-mail people@acme.example."
)

BENEFICIOS_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "Plano de saúde",
        [
            "O plano de saúde é oferecido pela operadora SaúdeMais, com cobertura nacional, "
            "quarto privativo e sem carência para novos colaboradores.",
            "Os dependentes estão incluídos sem custo adicional: cônjuge ou companheiro(a) e "
            "filhos de até 24 anos. Para incluir um dependente, envie a certidão de "
            "casamento, a declaração de união estável ou a certidão de nascimento pelo "
            "PeoplePortal.",
            "Consultas e exames têm coparticipação de 10%, limitada a R$ 60 por "
            "procedimento. Internações e cirurgias não têm coparticipação.",
        ],
    ),
    (
        "Vale-refeição",
        [
            "Cada colaborador recebe R$ 45 por dia útil de vale-refeição, creditado no "
            "cartão de benefícios até o 5º dia útil de cada mês.",
            "O valor é calculado pelos dias úteis do mês e não é descontado em dias de "
            "trabalho remoto. Em férias e licenças, o crédito é proporcional aos dias "
            "trabalhados.",
        ],
    ),
    (
        "Auxílio home office",
        [
            "Para ajudar com internet, energia e conforto em casa, a Acme paga um auxílio "
            "home office de R$ 150 por mês, junto com o salário.",
            "O auxílio é pago a todos os colaboradores, inclusive no modelo híbrido, e não "
            "exige comprovação de gastos. Cadeiras e outros equipamentos de escritório "
            "seguem a política de equipamentos do Employee Handbook.",
        ],
    ),
    (
        "Seguro de vida",
        [
            "Todos os colaboradores têm seguro de vida em grupo, com indenização de 24 "
            "salários, sem custo para o colaborador. Os beneficiários podem ser indicados "
            "e alterados a qualquer momento no PeoplePortal.",
        ],
    ),
]

BENEFICIOS_TABLE = [
    ("Benefício", "Valor", "Quando é pago"),
    (
        "Plano de saúde (SaúdeMais)",
        "Sem mensalidade para titular e dependentes",
        "Ativo desde o 1º dia",
    ),
    ("Vale-refeição", "R$ 45 por dia útil", "Até o 5º dia útil do mês"),
    ("Auxílio home office", "R$ 150 por mês", "Junto com o salário"),
    ("Seguro de vida", "24 salários", "Ativo desde o 1º dia"),
]


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite a zip (DOCX) with fixed entry timestamps so the bytes are reproducible."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


def build_beneficios_docx(path: Path) -> None:
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)

    document.add_heading("Benefícios", level=1)
    document.add_paragraph(BENEFICIOS_INTRO)

    for heading, paragraphs in BENEFICIOS_SECTIONS:
        document.add_heading(heading, level=2)
        for text in paragraphs:
            document.add_paragraph(text)

    document.add_heading("Resumo dos benefícios", level=2)
    table = document.add_table(rows=0, cols=3)
    table.style = "Table Grid"
    for index, row in enumerate(BENEFICIOS_TABLE):
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
            if index == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True

    document.add_paragraph(
        "Valores válidos a partir de janeiro de 2026. Eles são revistos todo ano em março, "
        "junto com o reajuste salarial."
    )

    props = document.core_properties
    props.title = "Benefícios - Acme Lda."
    props.subject = "Benefícios do escritório de São Paulo"
    props.author = "Acme Lda. People Team"
    props.last_modified_by = "Acme Lda. People Team"
    props.language = "pt-BR"
    props.keywords = "benefícios, plano de saúde, vale-refeição, home office"
    props.comments = "Generated by examples/make_binary_examples.py"
    props.revision = 1
    props.created = FIXED_DATE
    props.modified = FIXED_DATE
    props.last_printed = FIXED_DATE

    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(_normalize_zip(buffer.getvalue()))


# --------------------------------------------------------------------------------------
# Broken example: a truncated PDF (the download stopped halfway through)
# --------------------------------------------------------------------------------------

TRUNCATED_PDF = (
    b"%PDF-1.4\n"
    b"%\xe2\xe3\xcf\xd3\n"
    b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]\n"
    b"   /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>\nendobj\n"
    b"4 0 obj\n<< /Type /XObject /Subtype /Image /Width 1240 /Height 1754\n"
    b"   /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length 48213 >>\n"
    b"stream\n"
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    # ... the file ends here: no rest of the image, no xref table, no trailer, no %%EOF
)


def build_truncated_pdf(path: Path) -> None:
    path.write_bytes(TRUNCATED_PDF)


def main() -> None:
    HANDBOOK.mkdir(parents=True, exist_ok=True)
    BROKEN.mkdir(parents=True, exist_ok=True)
    targets = [
        (HANDBOOK / "onboarding-guide.pdf", build_onboarding_pdf),
        (HANDBOOK / "beneficios.docx", build_beneficios_docx),
        (BROKEN / "scanned-contract.pdf", build_truncated_pdf),
    ]
    for path, build in targets:
        build(path)
        print(f"wrote {path.relative_to(EXAMPLES.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
