"""The labelled question pairs that set the answer cache's paraphrase threshold, and how a
threshold is scored on them (the benchmark and the precision test share both).

PARAPHRASES must be served from each other's cache entry; NEAR_MISSES must never be.
Each list is grouped by what the pair tests, so a benchmark can show where each
embedder puts true paraphrases and near-misses on its cosine scale. The paraphrases the
guard refuses (other words for the same thing) are listed too, so recall is honest.

Language: a cached answer is in its question's language (Portuguese for a Portuguese
question, English otherwise), so a pair whose answers would be in two languages is a
near-miss however close its meaning, and a pair in which both answers would be English
("Tem onboarding?" has too few Portuguese words to be answered in Portuguese) may share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Pair = tuple[str, str]

PARAPHRASE_GROUPS: dict[str, list[Pair]] = {
    # the bulk of real repeats: the key words kept, the rest reworded
    "en, same key words": [
        ("How many vacation days do I get?", "How many days of vacation do I get?"),
        ("How many vacation days do I have?", "How many vacation days do I get?"),
        ("What is the parental leave policy?", "Tell me about the parental leave policy"),
        ("How do I reset my password?", "Hi! How do I reset my password, please?"),
        ("Where is the holiday calendar?", "Where can I find the holiday calendar?"),
        ("Is there a dress code?", "Do we have a dress code?"),
        ("Can I expense taxis?", "Can I expense a taxi?"),
        ("What's the expense policy?", "Could you explain the expense policy?"),
        ("How do I request parental leave?", "How can I request parental leave?"),
        ("What is the travel policy for contractors?", "travel policy for contractors"),
        ("Who approves vacation requests?", "Who approves my vacation request?"),
        ("How do I submit an expense report?", "How should I submit my expense reports?"),
        ("Where is the printer?", "Where's the printer?"),
        ("Are pets allowed?", "Is a pet allowed?"),
        ("Where do I find the forms?", "Where do I find the form?"),
    ],
    # true paraphrases with other words: the guard trades these for precision
    "en, other words": [
        ("How many vacation days do I get?", "What's my yearly vacation allowance?"),
        ("How do I reset my password?", "What are the steps to change my password?"),
        ("Can I work from home?", "Am I allowed to work remotely?"),
        ("How do I book a meeting room?", "How can I reserve a meeting room?"),
        ("Who approves my expense reports?", "Who signs off on my expense claims?"),
    ],
    "pt, same key words": [
        ("Quantos dias de férias eu tenho?", "Quantos dias de férias eu tenho direito?"),
        ("Tenho quantos dias de férias por ano?", "Quantos dias de férias eu tenho por ano?"),
        ("Qual é a política de home office?", "Como funciona a política de home office?"),
        ("Como peço reembolso de despesas?", "Como faço para pedir reembolso de despesas?"),
        ("Onde encontro o calendário de feriados?", "Onde fica o calendário de feriados?"),
        ("O refeitório abre nos feriados?", "O refeitório abre no feriado?"),
        ("Quais são os benefícios?", "Qual é o benefício?"),
        ("Qual é a política de viagens?", "Me fala da política de viagens, por favor"),
        ("Como funciona o plano de saúde?", "Como funciona o plano de saúde da empresa?"),
        ("Onde fica a impressora?", "Onde fica a impressora, por favor?"),
        ("Quem aprova as férias?", "Quem aprova minhas férias?"),
        ("Como solicito licença maternidade?", "Como eu solicito a licença maternidade?"),
        ("Existe código de vestimenta?", "Tem código de vestimenta?"),
        ("Como reservo uma sala de reunião?", "Como eu reservo a sala de reunião?"),
        ("Qual o horário do refeitório?", "Qual é o horário do refeitório?"),
    ],
    "pt, other words": [
        ("Qual é o valor do vale-refeição?", "Quanto é o vale refeição?"),
        ("Posso trabalhar de casa?", "Posso fazer home office?"),
        ("Como faço para redefinir minha senha?", "Como eu troco a minha senha?"),
        ("Quem aprova meus reembolsos?", "Quem autoriza meus pedidos de reembolso?"),
        ("Como marco minhas férias?", "Como agendo minhas férias?"),
    ],
    # both answered in English: a Portuguese word or two is not enough to switch
    "both answered in English (en / mixed)": [
        ("Is there onboarding?", "Tem onboarding?"),
        ("What is the home office policy?", "Home office policy?"),
        ("What is the dress code?", "Dress code?"),
    ],
}

NEAR_MISS_GROUPS: dict[str, list[Pair]] = {
    "other topic": [
        ("Can I expense taxis?", "Can I expense flights?"),
        ("How many vacation days do I get?", "How many sick days do I get?"),
        ("Who approves expense reports?", "Who approves vacation requests?"),
        ("How do I reset my password?", "How do I reset my VPN token?"),
        ("Can contractors use the gym?", "Can employees use the gym?"),
        ("Can I bring my dog to the office?", "Can I bring my child to the office?"),
        ("How do I request vacation?", "How do I cancel vacation?"),
        ("What is the WiFi password for the office?", "What is the WiFi password for guests?"),
        ("What is the parental leave policy?", "What is the sick leave policy?"),
        ("Posso reembolsar táxi?", "Posso reembolsar passagens aéreas?"),
        ("Quantos dias de férias eu tenho?", "Quantos dias de licença médica eu tenho?"),
        ("Como peço férias?", "Como cancelo férias?"),
        ("Quem aprova horas extras?", "Quem aprova viagens?"),
        ("Posso levar meu cachorro ao escritório?", "Posso levar meu filho ao escritório?"),
        ("Qual é a política de viagens?", "Qual é a política de reembolso?"),
        ("Como funciona o plano de saúde?", "Como funciona o plano odontológico?"),
    ],
    "negation": [
        ("Is parking free?", "Is parking not free?"),
        ("Is remote work allowed?", "Is remote work never allowed?"),
        ("Can I expense taxis?", "Can I expense taxis without a receipt?"),
        ("Do I need approval for training?", "Don't I need approval for training?"),
        ("Posso trabalhar de casa?", "Não posso trabalhar de casa?"),
        ("O estacionamento é pago?", "O estacionamento nunca é pago?"),
        ("Preciso de aprovação para viajar?", "Não preciso de aprovação para viajar?"),
    ],
    "number, date, comparison, who/when/where": [
        ("Can I work from home on Fridays?", "Can I work from home on Mondays?"),
        ("Do I need approval for expenses over 100 euros?", "Do I need approval over 500 euros?"),
        ("What is the holiday schedule for 2024?", "What is the holiday schedule for 2025?"),
        ("What is the deadline for Q1 reviews?", "What is the deadline for Q3 reviews?"),
        ("Qual o prazo do reembolso em janeiro?", "Qual o prazo do reembolso em março?"),
        ("Can I take vacation before my probation ends?", "Can I take vacation after probation?"),
        ("Who approves vacation requests?", "When are vacation requests approved?"),
        ("Where do I submit expense reports?", "When do I submit expense reports?"),
        ("Quantos dias de férias tenho no primeiro ano?", "Quantos dias de férias tenho?"),
        ("Posso tirar 10 dias de férias?", "Posso tirar 20 dias de férias?"),
        ("Quem aprova o reembolso?", "Quando o reembolso é aprovado?"),
    ],
    # one added word moves the embedding very little
    "narrower question": [
        ("Can I expense flights?", "Can I expense business class flights?"),
        ("What is the leave policy?", "What is the unpaid leave policy for contractors?"),
        ("Is parking free?", "Is parking free for visitors on weekends?"),
        ("Is parking free?", "Is parking free for visitors?"),
        ("Posso reembolsar táxi?", "Posso reembolsar táxi internacional?"),
        ("Qual é a política de viagens?", "Qual é a política de viagens internacionais?"),
        ("What time does the office open?", "What time does the office open today?"),
    ],
    # the same words, other roles (MiniLM is close to a bag of words: 0.97-0.99)
    "same words, other roles": [
        (
            "Can managers approve vacation for employees?",
            "Can employees approve vacation for managers?",
        ),
        ("Posso usar o carro da empresa?", "A empresa pode usar o carro?"),
        ("Who should I ask about payroll?", "Who should ask me about payroll?"),
        ("Can you reset my password?", "Can I reset your password?"),
        ("Do I have to pay for lunch?", "Do I pay for lunch?"),
    ],
    # words a stemmer would merge, other senses, general vs personal
    "other sense": [
        ("Where is the parking?", "Where is the park?"),
        ("Who handles accounting?", "Who handles my account?"),
        ("Quem paga o almoço?", "Quem é pago no almoço?"),
        ("Where do I park?", "Where is the park?"),
        ("What is a bonus?", "What is my bonus?"),
        ("Who is my manager?", "Who is a manager?"),
    ],
    # the cached answer would be in the other language (a multilingual embedder puts
    # translations close together: only the guard keeps them apart)
    "answer in the other language": [
        ("How many vacation days do I get?", "Quantos dias de férias eu tenho?"),
        ("Can I work from home?", "Posso trabalhar de casa?"),
        ("What is the dress code?", "Qual o dress code?"),
        ("Dress code?", "Qual o dress code?"),
        ("Home office policy?", "Política de home office?"),
        ("Is there onboarding?", "Como é o onboarding?"),
        ("Where is the printer?", "Onde fica a impressora?"),
        ("Who approves my expense reports?", "Quem aprova meus reembolsos?"),
    ],
}

PARAPHRASES: list[Pair] = [pair for group in PARAPHRASE_GROUPS.values() for pair in group]
NEAR_MISSES: list[Pair] = [pair for group in NEAR_MISS_GROUPS.values() for pair in group]

# 1.0 stands for "semantic off": no pair of different questions reaches it.
CANDIDATES = [round(float(t), 2) for t in np.arange(0.50, 1.001, 0.01)]

Scored = list[tuple[float, bool]]  # (cosine, the guard lets it through both ways)


def score_pairs(embedder: Any, pairs: Sequence[Pair]) -> Scored:
    """Each pair's cosine under `embedder`, and whether the paraphrase guard lets its
    cached answer serve the other question (both ways). Needs Django set up."""
    from ragengine.cache import paraphrase_mismatch

    vectors = embedder.embed_documents([text for pair in pairs for text in pair])
    return [
        (
            float(vectors[2 * i] @ vectors[2 * i + 1]),
            paraphrase_mismatch(question=a, candidate=b) is None
            and paraphrase_mismatch(question=b, candidate=a) is None,
        )
        for i, (a, b) in enumerate(pairs)
    ]


def served(scores: Scored, threshold: float, *, guard: bool = True) -> int:
    """Pairs a semantic lookup at `threshold` would serve (with or without the guard)."""
    return sum(1 for cosine, ok in scores if cosine >= threshold and (ok or not guard))


def best_thresholds(
    positives: Scored, negatives: Scored, *, guard: bool = True
) -> tuple[list[float], int]:
    """The candidate thresholds with zero wrong hits and the most correct hits, and that
    number of hits."""
    safe = [t for t in CANDIDATES if served(negatives, t, guard=guard) == 0]
    most = max(served(positives, t, guard=guard) for t in safe)
    return [t for t in safe if served(positives, t, guard=guard) == most], most


def chosen_threshold(best: Sequence[float]) -> float:
    """The middle of the best range (as far from the near-misses below as from the
    paraphrases above), rounded to the candidates' 0.01 step."""
    return round((min(best) + max(best)) / 2, 2)
