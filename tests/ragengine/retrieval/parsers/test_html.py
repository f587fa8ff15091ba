from __future__ import annotations

import pytest

from ragengine.retrieval.parsers import ParseError

PAGE = """<!DOCTYPE html>
<html lang="pt-BR">
<head><meta charset="utf-8"><title>Portal do Colaborador</title>
<style>body { color: red }</style><script>var tracking = "segredo";</script></head>
<body>
<header><a href="/">Logo</a> Menu principal</header>
<nav><ul><li>Início</li><li>Contato</li></ul></nav>
<main>
  <h1>Manual</h1>
  <p>Bem-vindo ao <b>manual</b> do colaborador.<br>Leia com atenção.</p>
  <h2>Férias</h2>
  <p>Trinta dias por ano.</p>
  <ul><li>Peça ao gestor</li><li>Com 30 dias de antecedência</li></ul>
  <h3>Venda</h3>
  <table><tr><th>Tipo</th><th>Dias</th></tr><tr><td>Abono</td><td>10</td></tr></table>
  <h2>Saúde</h2>
  <!-- comentário escondido -->
  <pre>  horário:
    08h-17h</pre>
</main>
<footer>© Empresa — todos os direitos reservados</footer>
</body></html>
"""


def test_headings_paths_title_and_chrome_removed(parse_as):
    doc = parse_as("portal.html", PAGE.encode())
    assert doc.title == "Portal do Colaborador"
    assert doc.mime_type == "text/html"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (("Manual",), "Bem-vindo ao manual do colaborador.\nLeia com atenção."),
        (
            ("Manual", "Férias"),
            "Trinta dias por ano.\n\n- Peça ao gestor\n- Com 30 dias de antecedência",
        ),
        (("Manual", "Férias", "Venda"), "Tipo | Dias\nAbono | 10"),
        (("Manual", "Saúde"), "  horário:\n    08h-17h"),
    ]
    everything = doc.text
    for dropped in ("segredo", "color", "Menu principal", "Início", "direitos", "comentário"):
        assert dropped not in everything


def test_title_falls_back_to_first_h1_then_stem(parse_as):
    doc = parse_as("page.htm", b"<body><h1>Pol\xc3\xadtica</h1><p>Texto.</p></body>")
    assert doc.title == "Política"
    doc = parse_as("sem-titulo.htm", b"<body><p>Texto solto.</p></body>")
    assert doc.title == "sem-titulo"
    assert doc.sections[0].heading_path == ()


def test_declared_latin1_charset_is_honoured(parse_as):
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Ação e férias</p></body>'
    doc = parse_as("legacy.html", html.encode("latin-1"))
    assert doc.sections[0].text == "Ação e férias"


def test_article_header_is_kept(parse_as):
    html = b"<body><article><header><h1>Not\xc3\xadcia</h1></header><p>Corpo.</p></article></body>"
    doc = parse_as("news.html", html)
    assert doc.sections[0].heading_path == ("Notícia",)
    assert doc.sections[0].text == "Corpo."


def test_page_without_text(parse_as):
    with pytest.raises(ParseError, match="No text could be extracted from the HTML page"):
        parse_as("empty.html", b"<html><body><script>x()</script></body></html>")
