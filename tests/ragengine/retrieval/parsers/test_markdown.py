from __future__ import annotations

import pytest

from ragengine.retrieval.parsers import ParseError

HANDBOOK = """# Handbook

Welcome to **Arandu**. Read the [policies](https://intranet/policies) carefully.

## Leave

General rules.

### Vacation

- Thirty *days* per year
- Ask your manager
  1. in writing

```python
def days():
    return 30
```

| Tipo | Dias |
|------|------|
| Férias | 30 |

### Sick leave

Bring a certificate. ![scan](scan.png)

## Benefícios

Vale-refeição e plano de saúde para você & família.
"""


def test_headings_build_paths_and_title_is_first_h1(parse_as):
    doc = parse_as("handbook.md", HANDBOOK.encode())
    assert doc.title == "Handbook"
    assert doc.mime_type == "text/markdown"
    paths = [s.heading_path for s in doc.sections]
    assert paths == [
        ("Handbook",),
        ("Handbook", "Leave"),
        ("Handbook", "Leave", "Vacation"),
        ("Handbook", "Leave", "Sick leave"),
        ("Handbook", "Benefícios"),
    ]
    assert all(s.page is None for s in doc.sections)


def test_text_is_plain_without_markup_noise(parse_as):
    doc = parse_as("handbook.md", HANDBOOK.encode())
    by_path = {s.heading_path[-1]: s.text for s in doc.sections}
    assert by_path["Handbook"] == "Welcome to Arandu. Read the policies carefully."
    vacation = by_path["Vacation"]
    assert "- Thirty days per year\n- Ask your manager\n  1. in writing" in vacation
    assert "def days():\n    return 30" in vacation  # code kept verbatim
    assert "Tipo | Dias\nFérias | 30" in vacation
    assert by_path["Sick leave"] == "Bring a certificate. scan"
    assert by_path["Benefícios"] == "Vale-refeição e plano de saúde para você & família."
    joined = "\n".join(by_path.values())
    for noise in ("**", "](", "```", "https://", "|---"):
        assert noise not in joined


def test_front_matter_title_and_no_h1(parse_as):
    data = b'---\ntitle: "Guia de Integra\xc3\xa7\xc3\xa3o"\nauthor: rh\n---\n\nTexto inicial.\n'
    doc = parse_as("guia.markdown", data)
    assert doc.title == "Guia de Integração"
    assert [s.text for s in doc.sections] == ["Texto inicial."]
    assert doc.sections[0].heading_path == ()


def test_title_falls_back_to_file_stem(parse_as):
    doc = parse_as("faq-ti.md", b"## Senha\n\nTroque a cada 90 dias.\n")
    assert doc.title == "faq-ti"
    assert doc.sections[0].heading_path == ("Senha",)


def test_headings_without_text_give_a_readable_error(parse_as):
    with pytest.raises(ParseError, match="No text could be extracted from the Markdown file"):
        parse_as("only-headings.md", b"# Title\n\n## Sub\n")


def test_empty_markdown(parse_as):
    with pytest.raises(ParseError, match=r"^The file is empty\.$"):
        parse_as("empty.md", b"\n\n")
