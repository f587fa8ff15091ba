"""The extractive answerer: the no-model default and last fallback of every tier.

Everything here is real (splitting, analysis, scoring) except one injected `embed`
function, a tiny deterministic stand-in used only to show the embedding signal is wired in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from ragengine.composition.evidence import units as evidence_units
from ragengine.composition.extractive import (
    FRAMING,
    NOT_FOUND,
    ExtractiveAnswer,
    Passage,
    answer_extractively,
    split_sentences,
)
from ragengine.composition.stored_sentences import StoredSentenceEmbed, sentence_embed
from ragengine.retrieval.similarity_scale import MINILM_SCALE, USE_SCALE, SimilarityScale
from ragengine.retrieval.types import SentenceVectors, sentence_key

TIME_OFF_EN = """# Time off
Employees get 25 vacation days per year. Vacation days accrue monthly, at about 2.08 days \
per month.
Sick leave is separate: you may take up to 10 paid sick days per year, e.g. for a flu or a \
doctor's appointment.
Unused vacation days can be carried over until March 31 of the following year."""

REQUESTS_EN = """Requesting time off
- Submit the request in the HR portal at least two weeks in advance.
- Your manager approves or declines within 3 business days.
- For absences longer than 2.5 weeks, Dr. Smith from HR must also sign off."""

EQUIPMENT_EN = """Laptops are replaced every three years. Broken equipment is reported to the \
IT helpdesk, which answers within one business day."""

FERIAS_PT = """## Férias
Os colaboradores têm direito a 30 dias de férias por ano, que podem ser divididos em até \
três períodos.
A licença médica exige atestado, e.g. emitido pelo Dr. Souza ou outro médico, entregue em \
até 48 horas.
O pedido de férias deve ser feito com 30 dias de antecedência ao Sr. Almeida, do RH."""

REEMBOLSO_PT = """Reembolso de despesas
1. Guarde a nota fiscal de cada despesa.
2. Envie as notas pelo portal até o dia 5 do mês seguinte.
3. O limite para refeições é de R$ 2.500,00 por mês, aprox. R$ 80,00 por dia."""

BULLET = re.compile(r"^- (?P<sentence>.+) \[(?P<number>\d+)\]$")


def en_passages() -> list[Passage]:
    return [
        Passage(number=1, text=TIME_OFF_EN, score=0.91, similarity=0.72),
        Passage(number=2, text=REQUESTS_EN, score=0.64, similarity=0.55),
        Passage(number=3, text=EQUIPMENT_EN, score=0.20, similarity=0.31),
    ]


def pt_passages() -> list[Passage]:
    return [
        Passage(number=1, text=FERIAS_PT, score=0.88, similarity=0.70),
        Passage(number=2, text=REEMBOLSO_PT, score=0.52, similarity=0.44),
    ]


def bullets(answer: ExtractiveAnswer) -> list[tuple[str, int]]:
    """(quoted sentence, source number) for every bullet; fails on a malformed line."""
    framing, _, body = answer.text.partition("\n\n")
    assert framing in FRAMING.values()
    out = []
    for line in body.splitlines():
        match = BULLET.match(line)
        assert match, f"malformed line: {line!r}"
        out.append((match["sentence"], int(match["number"])))
    return out


# --- picking the right sentence --------------------------------------------------------------


def test_vacation_question_quotes_the_days_sentence_first_and_not_sick_leave() -> None:
    answer = answer_extractively(
        question="How many vacation days do employees get per year?", passages=en_passages()
    )

    assert answer.found
    assert answer.language == "en"
    quoted = bullets(answer)
    assert quoted[0] == ("Employees get 25 vacation days per year.", 1)
    assert not any("Sick leave" in sentence for sentence, _ in quoted)


def test_portuguese_question_gets_portuguese_framing_and_the_right_sentence() -> None:
    answer = answer_extractively(
        question="Quantos dias de férias eu tenho por ano?", passages=pt_passages()
    )

    assert answer.found
    assert answer.language == "pt"
    assert answer.text.startswith(FRAMING["pt"])
    first_sentence, first_number = bullets(answer)[0]
    assert first_number == 1
    assert "30 dias de férias por ano" in first_sentence
    assert not any("licença médica" in sentence for sentence, _ in bullets(answer))


def test_markers_match_passage_numbers_and_used_numbers() -> None:
    passages = en_passages()
    answer = answer_extractively(
        question="How do I request vacation days off?", passages=passages, max_sentences=3
    )

    quoted = bullets(answer)
    by_number = {p.number: p.text for p in passages}
    assert answer.used_numbers == tuple(sorted({number for _, number in quoted}))
    for sentence, number in quoted:
        # Each quote is verbatim from the passage its marker points to (whitespace aside).
        assert sentence in " ".join(by_number[number].split())


def test_sources_other_than_the_first_are_cited_with_their_own_number() -> None:
    answer = answer_extractively(
        question="Who approves my time off request?", passages=en_passages(), max_sentences=1
    )

    assert bullets(answer) == [("Your manager approves or declines within 3 business days.", 2)]
    assert answer.used_numbers == (2,)


def test_heading_gives_context_to_the_steps_below_it() -> None:
    # The steps never say "reembolso"; their heading does.
    passages = [
        Passage(number=1, text=REEMBOLSO_PT, score=0.9, similarity=0.6),
        Passage(number=2, text=FERIAS_PT, score=0.3, similarity=0.2),
    ]
    answer = answer_extractively(
        question="Como funciona o reembolso de despesas?", passages=passages
    )

    quoted = bullets(answer)
    assert {number for _, number in quoted} == {1}
    assert quoted[0][0] == "Guarde a nota fiscal de cada despesa."
    assert "Reembolso de despesas" not in [s for s, _ in quoted]  # headings are not answers


def test_faq_question_line_is_not_quoted_as_the_answer() -> None:
    faq = "How many vacation days do I get?\nEmployees get 25 vacation days per year."
    answer = answer_extractively(
        question="How many vacation days do I get?",
        passages=[Passage(number=1, text=faq, score=1.0, similarity=0.8)],
        max_sentences=1,
    )

    assert bullets(answer) == [("Employees get 25 vacation days per year.", 1)]


# --- disclosure, language and the not-found path ---------------------------------------------


def test_answer_says_it_is_extractive_in_both_languages() -> None:
    en = answer_extractively(question="How many vacation days do I get?", passages=en_passages())
    pt = answer_extractively(question="Quantos dias de férias eu tenho?", passages=pt_passages())

    assert en.text.startswith(FRAMING["en"])
    assert "extractive answer, no AI model was used" in en.text
    assert "resposta extrativa, sem modelo de IA" in pt.text


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("What is the policy for parking at the office?", "en"),
        ("Qual é a política de estacionamento do escritório?", "pt"),
    ],
)
def test_not_found_when_nothing_matches(question: str, language: str) -> None:
    passages = en_passages() + [
        Passage(number=4 + i, text=p.text, score=p.score / 2, similarity=p.similarity)
        for i, p in enumerate(pt_passages())
    ]
    answer = answer_extractively(question=question, passages=passages)

    assert answer == ExtractiveAnswer(
        text=NOT_FOUND[language], used_numbers=(), language=language, found=False
    )
    assert "[" not in answer.text


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("How many vacation days do I get?", "en"),
        ("Quantos dias de férias eu tenho por ano?", "pt"),
    ],
)
def test_empty_passages_give_not_found_in_the_question_language(
    question: str, language: str
) -> None:
    answer = answer_extractively(question=question, passages=[])

    assert not answer.found
    assert answer.text == NOT_FOUND[language]
    assert answer.used_numbers == ()


def test_not_found_messages_are_the_product_wording() -> None:
    assert NOT_FOUND["en"].startswith("I couldn't find this in the documents I have access to.")
    assert NOT_FOUND["pt"].startswith("Não encontrei isso nos documentos a que tenho acesso.")


def test_thin_question_takes_the_language_of_the_top_passage() -> None:
    pt_first = answer_extractively(question="férias?", passages=pt_passages())
    en_first = answer_extractively(question="vacation", passages=en_passages())
    nothing = answer_extractively(question="ok", passages=[])

    assert (pt_first.language, pt_first.found) == ("pt", True)
    assert pt_first.text.startswith(FRAMING["pt"])
    assert (en_first.language, en_first.found) == ("en", True)
    assert nothing.language == "en"


# --- shape of the answer -------------------------------------------------------------------


def test_overlapping_chunks_do_not_repeat_a_sentence() -> None:
    # Chunkers overlap neighbouring chunks, so the same sentence arrives twice.
    # This one starts mid-sentence, where the chunk boundary cut it.
    overlap = "vacation days can be carried over until March 31 of the following year. "
    passages = [
        Passage(number=1, text=TIME_OFF_EN, score=0.9, similarity=0.7),
        Passage(
            number=2, text=overlap + "Carry-over needs no approval.", score=0.8, similarity=0.6
        ),
    ]
    answer = answer_extractively(
        question="Can unused vacation days be carried over?", passages=passages, max_sentences=3
    )

    sentences = [sentence for sentence, _ in bullets(answer)]
    assert len(sentences) == len(set(sentences))
    assert sum("carried over until March 31" in s for s in sentences) == 1


@pytest.mark.parametrize("max_sentences", [1, 2, 3])
def test_max_sentences_is_respected(max_sentences: int) -> None:
    answer = answer_extractively(
        question="How many vacation days and sick days do I get per year?",
        passages=en_passages(),
        max_sentences=max_sentences,
    )

    assert 1 <= len(bullets(answer)) <= max_sentences


def test_max_sentences_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_sentences"):
        answer_extractively(question="vacation", passages=en_passages(), max_sentences=0)


def test_short_fragments_are_quoted_only_when_nothing_else_matches() -> None:
    with_sentence = answer_extractively(
        question="parking rules",
        passages=[
            Passage(
                number=1,
                text="Parking rules\nParking is free in the P2 garage.",
                score=1,
                similarity=1,
            )
        ],
    )
    fragment_only = answer_extractively(
        question="parking rules",
        passages=[Passage(number=1, text="Parking: ask Ana.", score=1, similarity=1)],
    )

    assert bullets(with_sentence) == [("Parking is free in the P2 garage.", 1)]
    assert bullets(fragment_only) == [("Parking: ask Ana.", 1)]


def test_very_long_sentence_is_trimmed_at_a_word_boundary_around_the_match() -> None:
    long_sentence = (
        "The travel policy covers "
        + ", ".join(f"item {i} of the approved expense catalogue" for i in range(20))
        + ", and hotel stays are reimbursed up to 180 euros per night in every city, "
        + ", ".join(f"clause {i}" for i in range(20))
        + "."
    )
    answer = answer_extractively(
        question="What is the hotel limit per night?",
        passages=[Passage(number=1, text=long_sentence, score=1.0, similarity=0.5)],
    )

    (sentence, number), *_ = bullets(answer)
    assert number == 1
    assert "hotel stays are reimbursed up to 180 euros per night" in sentence
    assert sentence.startswith("…")
    assert sentence.endswith("…")
    assert len(sentence) <= 330
    core = sentence.strip("…")
    assert core in long_sentence
    assert core.split()[0] in long_sentence.split()  # cut between words, not inside one


# --- sentence splitting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please contact Mr. Brown. He will help.",
            ["Please contact Mr. Brown.", "He will help."],
        ),
        (
            "Use a VPN, e.g. the corporate one. Then log in.",
            ["Use a VPN, e.g. the corporate one.", "Then log in."],
        ),
        (
            "Fale com a Sra. Costa ou o Dr. Lima. Eles ajudam.",
            ["Fale com a Sra. Costa ou o Dr. Lima.", "Eles ajudam."],
        ),
        (
            "O Sr. Almeida aprova. Ele responde em 2 dias.",
            ["O Sr. Almeida aprova.", "Ele responde em 2 dias."],
        ),
        (
            "The rate is 2.5 days per month. See art. 7 of the CLT.",
            ["The rate is 2.5 days per month.", "See art. 7 of the CLT."],
        ),
        (
            "O limite é R$ 2.500,00 por mês. Pago no dia 5.",
            ["O limite é R$ 2.500,00 por mês.", "Pago no dia 5."],
        ),
        ("Is it paid? Yes, fully! Great.", ["Is it paid?", "Yes, fully!", "Great."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("- item one\n- item two\n* item three", ["item one", "item two", "item three"]),
        ("• saúde\n• odontológico", ["saúde", "odontológico"]),
        ("Benefícios: • saúde • odontológico", ["Benefícios:", "saúde", "odontológico"]),
        (
            "1. First step.\n2. Second step.\na) sub item",
            ["First step.", "Second step.", "sub item"],
        ),
        (
            "Vacation policy\nEmployees get 25 days. They may split them.",
            ["Vacation policy", "Employees get 25 days.", "They may split them."],
        ),
        (
            "Employees get 25 vacation days per\nyear, split in up to three periods.",
            ["Employees get 25 vacation days per year, split in up to three periods."],
        ),
        ("## Férias\nTrinta dias por ano.", ["Férias", "Trinta dias por ano."]),
        ("| Type | Days |\n|---|---|\n| Vacation | 25 |", ["Type | Days", "Vacation | 25"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# --- the embedding signal ----------------------------------------------------------------------

# Concept axes for the stand-in embedder: what a real model would place close together.
_CONCEPTS = (
    ("vacation", "holiday", "time off", "férias"),
    ("sick", "illness", "doctor", "médic"),
)


def concept_embed(texts: Sequence[str]) -> np.ndarray:
    """Deterministic stand-in for a sentence embedder (L2-normalised, like the real one)."""
    rows = []
    for text in texts:
        lowered = text.lower()
        row = [float(any(k in lowered for k in keys)) for keys in _CONCEPTS] + [0.3]
        rows.append(row)
    vectors = np.asarray(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


SICK_THEN_VACATION = [
    Passage(number=1, text="Sick leave: 10 paid days each year.", score=0.8, similarity=0.5),
    Passage(number=2, text="Vacation: 25 paid days each year.", score=0.7, similarity=0.5),
]
HOLIDAY_QUESTION = "How many paid days each year can I take as holiday?"


def test_embedding_similarity_changes_the_ranking() -> None:
    lexical_only = answer_extractively(
        question=HOLIDAY_QUESTION, passages=SICK_THEN_VACATION, max_sentences=1
    )
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return concept_embed(texts)

    with_embedding = answer_extractively(
        question=HOLIDAY_QUESTION,
        passages=SICK_THEN_VACATION,
        max_sentences=1,
        embed=embed,
        query_vector=concept_embed([HOLIDAY_QUESTION])[0],
    )

    # Both sentences share "paid days each year"; only the embedding knows holiday ≈ vacation.
    assert lexical_only.used_numbers == (1,)
    assert with_embedding.used_numbers == (2,)
    assert bullets(with_embedding) == [("Vacation: 25 paid days each year.", 2)]
    assert calls == [2]  # every candidate sentence embedded in one batch


def test_semantic_match_without_shared_words_counts_as_found() -> None:
    passages = [
        Passage(
            number=1, text="Vacation requests go through the HR portal.", score=1, similarity=0.6
        )
    ]
    question = "Where do I book a holiday?"

    without = answer_extractively(question=question, passages=passages)
    with_embedding = answer_extractively(
        question=question,
        passages=passages,
        embed=concept_embed,
        query_vector=concept_embed([question])[0],
    )
    unrelated = answer_extractively(
        question=question,
        passages=passages,
        embed=concept_embed,
        query_vector=np.array([0.0, 1.0, 0.0], dtype=np.float32),  # "sick" direction
    )

    assert not without.found
    assert with_embedding.found
    assert with_embedding.used_numbers == (1,)
    assert not unrelated.found


def test_failing_embedder_falls_back_to_lexical_scoring() -> None:
    def broken(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("embedding service down")

    answer = answer_extractively(
        question="How many vacation days do employees get per year?",
        passages=en_passages(),
        embed=broken,
        query_vector=np.ones(3, dtype=np.float32),
    )

    assert answer.found
    assert bullets(answer)[0] == ("Employees get 25 vacation days per year.", 1)


def _language_blind_embed(standout: str | None = None) -> Callable[[Sequence[str]], np.ndarray]:
    """Mimics the English-only MiniLM on Portuguese text: every Portuguese sentence sits
    at cosine 0.5 from a Portuguese question, English ones near 0. `standout` (a
    sentence) is the one that is truly close."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            if text == standout:
                rows.append([0.95, 0.0, float(np.sqrt(1 - 0.95**2))])
            elif re.search(r"[ãõçáéíóúâêô]|\b(de|do|da|os|as)\b", text.lower()):
                rows.append([0.5, float(np.sqrt(0.75)), 0.0])
            else:
                rows.append([0.0, 0.0, 1.0])
        return np.asarray(rows, dtype=np.float32)

    return embed


def test_uniformly_high_cosine_is_not_evidence() -> None:
    passages = en_passages() + [
        Passage(number=4 + i, text=p.text, score=0.3, similarity=0.4)
        for i, p in enumerate(pt_passages())
    ]
    question = "Posso levar meu cachorro ao escritório?"  # shares no word with any passage
    query_vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)

    blind = answer_extractively(
        question=question,
        passages=passages,
        embed=_language_blind_embed(),
        query_vector=query_vector,
    )
    standout = answer_extractively(
        question=question,
        passages=passages,
        embed=_language_blind_embed(standout="Guarde a nota fiscal de cada despesa."),
        query_vector=query_vector,
    )

    assert blind == ExtractiveAnswer(
        text=NOT_FOUND["pt"], used_numbers=(), language="pt", found=False
    )
    assert standout.found
    assert bullets(standout) == [("Guarde a nota fiscal de cada despesa.", 5)]


# --- with the real local embedder (all-MiniLM-L6-v2 int8, offline) ------------------------


def test_real_embedder_finds_a_paraphrase_that_shares_no_word(embedder) -> None:
    question = "Where do I book a holiday?"  # no word in common with any passage
    lexical_only = answer_extractively(question=question, passages=en_passages())
    semantic = answer_extractively(
        question=question,
        passages=en_passages(),
        embed=embedder.embed_documents,
        query_vector=embedder.embed_query(question),
    )

    assert not lexical_only.found
    assert semantic.found
    assert semantic.used_numbers == (1,)
    assert all("vacation" in sentence.lower() for sentence, _ in bullets(semantic))


def test_real_embedder_does_not_invent_answers_to_unrelated_portuguese_questions(
    embedder,
) -> None:
    # MiniLM is English-only: it puts any two Portuguese sentences at ~0.4-0.5 cosine, so
    # only a cosine well above the Portuguese baseline may count as evidence.
    passages = en_passages() + [
        Passage(number=4 + i, text=p.text, score=0.3, similarity=0.4)
        for i, p in enumerate(pt_passages())
    ]
    for question in ("Posso levar meu cachorro ao escritório?", "Qual é a capital da França?"):
        answer = answer_extractively(
            question=question,
            passages=passages,
            embed=embedder.embed_documents,
            query_vector=embedder.embed_query(question),
        )
        assert answer.text == NOT_FOUND["pt"], question


def test_real_embedder_keeps_the_lexical_winner_on_top(embedder) -> None:
    question = "How many vacation days do employees get per year?"
    answer = answer_extractively(
        question=question,
        passages=en_passages(),
        embed=embedder.embed_documents,
        query_vector=embedder.embed_query(question),
    )

    assert bullets(answer)[0] == ("Employees get 25 vacation days per year.", 1)
    assert not any("Sick leave" in sentence for sentence, _ in bullets(answer))


def test_max_embedded_bounds_the_sentences_sent_to_the_embedder() -> None:
    passages = [
        Passage(
            number=i,
            text=f"Rule {i}: vacation requests need {i} days of notice. Unrelated line {i} here.",
            score=1.0 / i,
            similarity=0.5,
        )
        for i in range(1, 6)
    ]
    sizes: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        sizes.append(len(texts))
        return concept_embed(texts)

    answer = answer_extractively(
        question="How many days of notice do vacation requests need?",
        passages=passages,
        embed=embed,
        query_vector=concept_embed(["vacation notice"])[0],
        max_embedded=3,
    )

    assert sizes == [3]
    assert answer.found and answer.used_numbers[0] == 1


# --- evidence that is not prose: code, configuration, tables --------------------------------

JWT_PT = """O Orbita emite tokens JWT assinados. O algoritmo de assinatura é definido em
settings.py e não deve ser trocado sem avisar o time de Segurança.

# orbita/settings.py
SECRET_KEY = os.environ["ORBITA_SECRET_KEY"]
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE_MINUTES = 30

O token de acesso vale por pouco tempo de propósito. Quando ele expira, o cliente usa o
token de renovação."""

CACHE_PT = """Respostas de leitura são guardadas em cache no Redis. O tempo de vida (TTL) de
cada entrada depende do tipo de consulta:

CACHE_TTL = {
    "factual_queries": 86400,  # 24h
    "search_results": 3600,  # 1h
    "news_queries": 900,  # 15 min
}

Respostas maiores que 1 MiB nunca entram no cache."""

PORTS_PT = """Serviço | Porta | Protocolo
API pública | 8080 | HTTP/2
Métricas Prometheus | 9102 | HTTP
Painel administrativo | 8443 | HTTPS

A porta de métricas só aceita conexões vindas da rede de monitoramento."""

EQUIPMENT_HANDBOOK = """Acme provides each employee with a laptop, a monitor and a headset.
Laptops are replaced every 3 years, or earlier if they break.

- Damage or loss: if a laptop with company data is lost, follow the IT Security Policy."""

LOST_DEVICES = """Report a lost or stolen laptop to the IT service desk within 24 hours. IT
wipes the device remotely as soon as the loss is reported.

- The first loss is covered by Acme and the device is replaced within 2 working days.
- A second loss within 12 months costs the employee EUR 150, deducted from the next salary.
- A device stolen in a robbery is never charged if you bring a police report."""


def passages_of(*texts: str) -> list[Passage]:
    return [
        Passage(number=i, text=text, score=1.0 / i, similarity=0.5)
        for i, text in enumerate(texts, start=1)
    ]


def test_the_configuration_line_is_quoted_not_the_sentence_beside_it() -> None:
    answer = answer_extractively(
        question="Qual algoritmo assina os tokens JWT do Orbita?",
        passages=passages_of(JWT_PT, FERIAS_PT),
    )

    assert bullets(answer)[0] == ('`ALGORITHM = "HS256"`', 1)


def test_a_duration_question_gets_the_line_that_holds_the_value() -> None:
    token = answer_extractively(
        question="Quanto tempo dura o token de acesso?", passages=passages_of(JWT_PT)
    )
    ttl = answer_extractively(
        question="Qual é o TTL do cache para consultas factuais?",
        passages=passages_of(CACHE_PT, JWT_PT),
    )

    assert bullets(token)[0] == ("`ACCESS_TOKEN_EXPIRE_MINUTES = 30`", 1)
    assert bullets(ttl)[0] == ('`"factual_queries": 86400,  # 24h` (CACHE_TTL)', 1)


def test_a_table_row_is_quoted_with_its_header() -> None:
    answer = answer_extractively(
        question="Em que porta ficam as métricas do Prometheus?", passages=passages_of(PORTS_PT)
    )

    assert bullets(answer)[0] == (
        "Serviço: Métricas Prometheus · Porta: 9102 · Protocolo: HTTP",
        1,
    )


def test_losing_a_laptop_twice_quotes_the_fee_not_the_replacement_cycle() -> None:
    answer = answer_extractively(
        question="What happens if I lose my laptop twice?",
        passages=passages_of(EQUIPMENT_HANDBOOK, LOST_DEVICES),
    )

    quoted = bullets(answer)
    assert quoted[0] == (
        "A second loss within 12 months costs the employee EUR 150, deducted from the next salary.",
        2,
    )
    assert not any("replaced every 3 years" in sentence for sentence, _ in quoted)


def test_a_precise_answer_gets_no_loosely_related_sentence_from_another_passage() -> None:
    equipment = (
        "Acme provides each employee with a laptop, a monitor and a headset. "
        "Laptops are replaced every 3 years, or earlier if they break."
    )
    answer = answer_extractively(
        question="How often are laptops replaced?",
        passages=passages_of(equipment, LOST_DEVICES),
    )

    # "... the device is replaced within 2 working days" shares words, not the answer.
    assert bullets(answer) == [("Laptops are replaced every 3 years, or earlier if they break.", 1)]
    assert answer.used_numbers == (1,)


def test_a_portuguese_question_finds_english_evidence_through_the_term_map() -> None:
    english = "Every password for an Acme account must be at least 14 characters long."
    answer = answer_extractively(
        question="Qual é o tamanho mínimo de uma senha?",
        passages=passages_of(english, EQUIPMENT_EN),
    )

    assert answer.found
    assert answer.language == "pt"
    assert bullets(answer) == [(english, 1)]


def test_how_to_questions_quote_the_steps() -> None:
    steps = """Se a tela da sala não funcionar:
1. Verifique se a tela e o computador da sala estão ligados.
2. Conecte o cabo HDMI ou use o código de projeção sem fio mostrado na tela.
3. Se nada funcionar depois de 5 minutos, ligue para o ramal 4000."""
    answer = answer_extractively(
        question="Como faço a tela da sala funcionar?",
        passages=passages_of(steps, FERIAS_PT),
    )

    quoted = [sentence for sentence, _ in bullets(answer)]
    assert len(quoted) == 3
    assert any("cabo HDMI" in sentence for sentence in quoted)


def test_a_question_about_something_no_passage_mentions_is_not_answered() -> None:
    versions = (
        "The current version of the API is v2. Breaking changes only ship in a new major "
        "version, announced six months in advance. Version v1 is switched off in September."
    )
    answer = answer_extractively(
        question="Which Kubernetes version does the API run on?",
        passages=passages_of(versions, EQUIPMENT_EN, TIME_OFF_EN),
    )
    answered = answer_extractively(
        question="Which API version is current?",
        passages=passages_of(versions, EQUIPMENT_EN, TIME_OFF_EN),
    )

    assert answer == ExtractiveAnswer(
        text=NOT_FOUND["en"], used_numbers=(), language="en", found=False
    )
    assert answered.found and answered.used_numbers == (1,)


# --- refusing what the passages never mention ------------------------------------------


def _orbita_passages() -> list[Passage]:
    return [
        Passage(
            number=1,
            text="The current version of the Orbita API is v2. Version v1 is deprecated.",
            score=1.0,
            similarity=0.6,
        ),
        Passage(
            number=2,
            text="The Orbita API lets internal services read customer and order data.",
            score=0.8,
            similarity=0.5,
        ),
    ]


@pytest.mark.parametrize(
    "question",
    [
        "Which Kubernetes version does Orbita run on?",  # a name no passage says
        "Does the Orbita API support GraphQL?",  # CamelCase name
        "Is there a gym discount for the Orbita API?",  # what a yes/no asks to exist
        "How do I rotate the Orbita API version?",  # the action of a how-to
    ],
)
def test_unmentioned_topic_is_refused(question: str) -> None:
    answer = answer_extractively(question=question, passages=_orbita_passages())

    assert not answer.found
    assert answer.text == NOT_FOUND["en"]


def test_the_same_passages_still_answer_what_they_mention() -> None:
    answer = answer_extractively(
        question="Which version of the Orbita API is current?", passages=_orbita_passages()
    )

    assert answer.found
    assert "v2" in bullets(answer)[0][0]


def test_days_and_months_are_not_names_that_must_be_mentioned() -> None:
    answer = answer_extractively(
        question="I was ill on Monday. Do I need a doctor's note?",
        passages=[
            Passage(
                number=1,
                text="From the fourth day of illness you need a doctor's note.",
                score=1.0,
                similarity=0.6,
            )
        ],
    )

    assert answer.found


# --- stored sentence vectors, each embedder's scale, answers that cover the question --------


def _stored(texts: Sequence[str]) -> StoredSentenceEmbed:
    """Sentence vectors as ingestion stores them (float16, keyed by text); no fallback, so
    a unit the store lacks fails the test instead of being embedded quietly."""
    units = [u.text for text in texts for u in evidence_units(text)]
    stored = SentenceVectors(
        keys=np.array([sentence_key(u) for u in units], dtype=np.uint64),
        vectors=concept_embed(units).astype(np.float16),
    )
    return sentence_embed([stored], fallback=None)


def test_stored_sentence_vectors_are_compared_beyond_the_embedding_limit() -> None:
    decoys = " ".join(f"Book meeting room {n} in the room app." for n in range(1, 7))
    passages = passages_of(decoys, "Vacation requests go through the HR portal.")
    question = "Where do I book a holiday?"
    vector = concept_embed([question])[0]
    embedded: list[int] = []

    def at_question_time(texts: Sequence[str]) -> np.ndarray:
        embedded.append(len(texts))
        return concept_embed(texts)

    limited = answer_extractively(
        question=question,
        passages=passages,
        embed=at_question_time,
        query_vector=vector,
        max_embedded=2,
    )
    stored = _stored([p.text for p in passages])
    from_store = answer_extractively(
        question=question, passages=passages, embed=stored, query_vector=vector, max_embedded=2
    )

    # Embedding at question time stops at the 2 most promising units (the decoys that
    # share "book"); stored vectors cost a lookup, so every unit is compared.
    assert embedded == [2]
    assert "Vacation" not in limited.text
    assert stored.embedded == 0 and stored.stored == 7
    assert bullets(from_store)[0] == ("Vacation requests go through the HR portal.", 2)


def test_the_embedders_scale_decides_what_counts_as_close() -> None:
    passages = passages_of(
        "Vacation requests go through the HR portal.",
        "The office opens at 08:00. Parking is free. Lunch is at noon. Badges are blue.",
    )
    question = "Where do I book a holiday?"
    # Cosine 0.33 to the vacation sentence and 0 to the others: close on a scale whose
    # floor is 0.3 (USE-multilingual v3), not on one whose floor is 0.35 (MiniLM).
    vector = np.array([0.344, np.sqrt(1 - 0.344**2), 0.0], dtype=np.float32)
    assert float(concept_embed([passages[0].text])[0] @ vector) == pytest.approx(0.33, abs=0.01)

    def answer(scale: SimilarityScale) -> ExtractiveAnswer:
        return answer_extractively(
            question=question,
            passages=passages,
            embed=concept_embed,
            query_vector=vector,
            scale=scale,
        )

    assert not answer(MINILM_SCALE).found
    assert bullets(answer(USE_SCALE)) == [("Vacation requests go through the HR portal.", 1)]


MEAL_ALLOWANCE_PT = """O vale-refeição é de R$ 45 por dia útil.
O valor não é descontado em dias de trabalho remoto."""
MEAL_LEAVE_PT = """Em férias e licenças, o crédito do vale-refeição é proporcional aos dias \
trabalhados."""
MEAL_TRAVEL_PT = """Em viagem, o vale-refeição continua sendo pago normalmente."""


def test_a_two_part_question_gets_a_quote_for_each_part() -> None:
    answer = answer_extractively(
        question="Como funciona o vale-refeição nas férias e no trabalho remoto?",
        passages=passages_of(MEAL_ALLOWANCE_PT, MEAL_LEAVE_PT, MEAL_TRAVEL_PT),
    )

    quoted = bullets(answer)
    assert ("O valor não é descontado em dias de trabalho remoto.", 1) in quoted
    assert any("férias" in sentence and number == 2 for sentence, number in quoted)
    # The travel sentence repeats "vale-refeição" and says nothing of either part.
    assert not any(number == 3 for _, number in quoted)


PAYSLIP_EN = """Salaries are paid on the last working day of each month. Your payslip is \
published in PeoplePortal two working days before payday, under Documents > Payslips. Tax \
documents for the year are published there in February."""


def test_how_relevant_a_quote_must_be_when_a_word_is_unseen_follows_the_scale() -> None:
    # "fica disponível" is in no passage (it says "published"); the payslip sentence
    # matches through the term map only (contracheque = payslip), so it is weakly relevant.
    def answer(scale: SimilarityScale) -> ExtractiveAnswer:
        return answer_extractively(
            question="Quando o contracheque fica disponível?",
            passages=passages_of(PAYSLIP_EN),
            embed=concept_embed,
            query_vector=np.array([1.0, 0.0, 0.0], dtype=np.float32),  # close to nothing
            scale=scale,
        )

    assert not answer(MINILM_SCALE).found
    assert "two working days before payday" in bullets(answer(USE_SCALE))[0][0]


def test_a_capitalised_word_opening_a_later_sentence_is_not_a_name() -> None:
    # A weak quote (no shared word) that is close by embedding (cosine 0.36): a name the
    # passages never mention would refuse it; "Who" opening the second sentence is none.
    vector = np.array([0.376, np.sqrt(1 - 0.376**2), 0.0], dtype=np.float32)
    answer = answer_extractively(
        question="I think I clicked a phishing link. Who do I tell about my holiday?",
        passages=passages_of("Vacation requests go through the people portal."),
        embed=concept_embed,
        query_vector=vector,
        scale=MINILM_SCALE,
    )

    assert bullets(answer) == [("Vacation requests go through the people portal.", 1)]


def test_a_how_to_whose_action_no_passage_mentions_is_refused_even_when_close() -> None:
    question = "How do I transfer vacation days to a colleague?"
    answer = answer_extractively(
        question=question,
        passages=passages_of(
            "Unused vacation days can be carried over until March 31 of the following year."
        ),
        embed=concept_embed,
        query_vector=concept_embed([question])[0],  # the carry-over rule is close to it
    )

    assert not answer.found


MEAL_REMOTE_PT = """Cada colaborador recebe R$ 45 por dia útil de vale-refeição. O valor é \
calculado pelos dias úteis do mês e não é descontado em dias de trabalho remoto."""
REMOTE_WORK_EN = """## Remote work
Acme is a hybrid company. Most teams meet in the office on Tuesdays and Thursdays and \
work wherever they like on the other days."""


def test_how_many_days_a_week_is_answered_by_the_schedule() -> None:
    answer = answer_extractively(
        question="Posso trabalhar de casa quantos dias por semana?",
        passages=passages_of(MEAL_REMOTE_PT, REMOTE_WORK_EN),
    )

    assert "Tuesdays and Thursdays" in bullets(answer)[0][0]
