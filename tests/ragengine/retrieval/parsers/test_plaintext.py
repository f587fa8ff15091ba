from __future__ import annotations

import random
import unicodedata

import pytest

from ragengine.retrieval.parsers import ParseError
from ragengine.retrieval.parsers.encoding import decode_text

PT = (
    "Política de férias: cada colaborador tem direito a trinta dias de férias após doze "
    "meses de trabalho. A solicitação deve ser feita com antecedência ao gestor, que avaliará "
    "a programação da equipe. Não é permitido vender mais de um terço."
)


def test_utf8_portuguese_survives_intact(parse_as):
    doc = parse_as("politica.txt", f"{PT}\n\nSegundo parágrafo: ação, coração.\n".encode())
    assert doc.title == "politica"
    assert doc.mime_type == "text/plain"
    assert [s.text for s in doc.sections] == [f"{PT}\n\nSegundo parágrafo: ação, coração."]
    assert doc.sections[0].heading_path == ()
    assert doc.sections[0].page is None


def test_utf8_bom_and_crlf_and_decomposed_accents_are_normalised(parse_as):
    decomposed = unicodedata.normalize("NFD", "Férias\r\nação")
    doc = parse_as("notes.text", b"\xef\xbb\xbf" + decomposed.encode())
    assert doc.sections[0].text == "Férias\nação"


def test_utf16_with_bom(parse_as):
    doc = parse_as("utf16.txt", "Olá, férias!".encode("utf-16"))
    assert doc.sections[0].text == "Olá, férias!"


@pytest.mark.parametrize("text", [PT, "Férias e ação.", "Olá, não sei."])
def test_latin1_is_decoded_via_detection(parse_as, text):
    doc = parse_as("legacy.txt", text.encode("latin-1"))
    assert doc.sections[0].text == text


def test_rst_is_treated_as_text(parse_as):
    doc = parse_as("guide.rst", b"Guide\n=====\n\nSome *text*.\n")
    assert doc.sections[0].text == "Guide\n=====\n\nSome *text*."


def test_empty_file(parse_as):
    with pytest.raises(ParseError, match=r"^The file is empty\.$"):
        parse_as("empty.txt", b"")


def test_whitespace_only_file_is_empty(parse_as):
    with pytest.raises(ParseError, match=r"^The file is empty\.$"):
        parse_as("blank.txt", b"  \n\t\r\n ")


def test_binary_file_with_txt_extension(parse_as):
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(4096))
    with pytest.raises(ParseError, match=r"^This looks like a binary file, not text\.$"):
        parse_as("photo.txt", data)


def test_control_characters_without_nul_are_binary(parse_as):
    data = b"abc\x01\x02\x03\x04\x05\x06\x07\x08" * 50
    with pytest.raises(ParseError, match="binary file"):
        parse_as("weird.txt", data)


def test_undecodable_garbage(parse_as):
    rng = random.Random(1)
    alphabet = [*range(0x20, 0x7F), *range(0x80, 0x100)]
    data = bytes(rng.choice(alphabet) for _ in range(600))
    with pytest.raises(ParseError) as info:
        parse_as("garbage.txt", data)
    assert str(info.value) == "The text is not valid UTF-8 or a known encoding."


def test_decode_text_rejects_broken_bom_text():
    with pytest.raises(ParseError, match="not valid UTF-8"):
        decode_text(b"\xff\xfe\x00")


def test_a_text_file_in_markdown_gets_heading_paths(parse_as) -> None:
    data = (
        b"# Travel policy\n\nIntro line.\n\n## Hotels\n\nUp to EUR 120 a night.\n\n"
        b"## Meals\n\nUp to EUR 40 a day.\n"
    )

    parsed = parse_as("travel.txt", data)

    assert parsed.title == "Travel policy"
    assert parsed.mime_type == "text/plain"
    by_heading = {s.heading_path: s.text for s in parsed.sections}
    assert "Up to EUR 120 a night." in by_heading[("Travel policy", "Hotels")]
    assert "Up to EUR 40 a day." in by_heading[("Travel policy", "Meals")]


@pytest.mark.parametrize(
    "text",
    [
        "Notes from Monday.\n\n# not really a heading, a comment\n\nMore notes.\n",
        "#hashtag is not a heading\n\n#another\n",
        "Plain text with no structure at all.\n",
    ],
)
def test_plain_text_that_is_not_markdown_stays_one_section(parse_as, text: str) -> None:
    parsed = parse_as("notes.txt", text.encode())

    assert len(parsed.sections) == 1
    assert parsed.sections[0].heading_path == ()
    assert parsed.sections[0].text == text.strip()
