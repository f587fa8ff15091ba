"""Paraphrase matching: when a cached answer may serve a differently worded question.

Embeddings are close to a bag of words: "Can managers approve vacation for employees?"
and its role reversal score 0.99 with MiniLM and USE-multilingual alike, "Is parking
free?" / "...for visitors?" 0.91 with MiniLM, "Posso levar meu cachorro ao escritório?"
/ "...meu filho..." 0.89, above true paraphrases such as "Quais são os benefícios?" /
"Qual é o benefício?" (0.77). No threshold separates them. So a semantic hit also needs
the same meaning-bearing words (singular or plural) in the same order, answers in the
same language, and agreement on what flips an answer without moving the embedding:
negation, numbers, dates, comparisons, who/when/where/why, obligation ("must" vs "can")
and who does what to whom (I/you/he…). The embedding is left to judge rewording
(function words, politeness, inflection) and the odd same-word pair with another sense,
which is what sets the threshold, per embedder (ragengine.retrieval.similarity_scale):
"What is a bonus?" / "What is my bonus?" scores 0.866 with MiniLM and 0.918 with
USE-multilingual v3, "Where do I park?" / "Where is the park?" 0.82 and 0.90; the
thresholds with zero wrong hits and the most right ones are 0.87 for MiniLM (23 of 43
paraphrases served) and 0.92 for USE (18 of 43; at 0.87 it would serve 3 near-misses).
Measured on the labelled pairs of bench/paraphrase_set.py
(bench/bench_cache_threshold.py, docs/PERFORMANCE.md section 23), which
tests/ragengine/cache/test_paraphrase.py re-checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_PORTUGUESE

from ragengine.cache.keys import APOSTROPHES, CacheScope
from ragengine.text_analysis import detect_language, fold_accents, word_tokens


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NEGATIONS = _wordset(
    "not never none nobody nothing neither nor without cannot cant dont doesnt didnt isnt "
    "arent wasnt werent wont wouldnt shouldnt couldnt mustnt hasnt havent hadnt "
    "nao nunca nem sem nenhum nenhuma ninguem nada jamais"
)
_NUMBER_WORDS = _wordset(
    "zero one two three four five six seven eight nine ten eleven twelve fifteen twenty "
    "thirty forty fifty hundred thousand million half double twice dozen "
    "dois duas tres quatro cinco seis sete oito nove dez onze doze quinze vinte "
    "trinta quarenta cinquenta cem cento mil milhao metade dobro"
)
_DATE_WORDS = _wordset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro "
    "monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays "
    "thursdays fridays saturdays sundays weekend weekends weekday weekdays "
    "segunda terca quarta quinta sexta sabado domingo segundas tercas quartas quintas sextas "
    "sabados domingos today tomorrow yesterday tonight hoje amanha ontem"
)
_CONTRAST_WORDS = _wordset(
    "before after over under above below more less fewer most least maximum minimum max min "
    "first last next previous early earlier late later only "
    "antes depois acima abaixo mais menos maximo minimo primeiro primeira ultimo ultima "
    "proximo proxima anterior cedo tarde apenas"
)
_OBLIGATION_WORDS = _wordset(
    "must need needs needed require requires required mandatory obligatory compulsory "
    "devo deve devem devemos preciso precisa precisam precisamos obrigatorio obrigatoria"
)
_WH_CLASSES = {
    "who": "who",
    "whom": "who",
    "whose": "who",
    "quem": "who",
    "when": "when",
    "quando": "when",
    "where": "where",
    "onde": "where",
    "aonde": "where",
    "why": "why",
    "porque": "why",
}
# English personal pronouns by role ("Who should I ask?" is not "Who should ask me?"),
# compared when both questions have some: one-sided ones are scaffolding ("tell me").
# "we/our" stay filler: in a company handbook "we" is everyone ("Do we have a dress
# code?"), and Portuguese drops subject pronouns too often to compare them.
_PRONOUN_ROLES = {
    "i": "subj:1",
    "me": "obj:1",
    "you": "2",
    "he": "subj:3",
    "she": "subj:3",
    "they": "subj:3",
    "him": "obj:3",
    "her": "obj:3",
    "them": "obj:3",
}
# Words that carry no meaning a cached answer depends on: function words, question
# scaffolding and politeness ("hi, could you tell me…").
_FILLER = (
    (
        frozenset(fold_accents(w) for w in (*STOPWORDS_EN, *STOPWORDS_PORTUGUESE))
        | _wordset(
            "my mine myself we us our ours your yours his hers their theirs it its "
            "do does did doing done can could would should shall might will am "
            "is are was were be been being have has had having get gets got getting "
            "what whats which how hows many much about please pls hi hello hey thanks thank "
            "tell explain know want like let find see any some there here so just also "
            "really ok okay anyone somebody someone "
            "o a os as eu voce voces meu minha meus minhas nosso nossa seu sua pra pro "
            "qual quais como quanto quantos quanta quantas posso pode podem poder podemos "
            "consigo conseguir faco fazer faz gostaria queria quero saber sabe explica "
            "explique explicar diga diz dizer fala favor obrigado obrigada oi ola tudo "
            "alguem existe algum alguma"
        )
    )
    - _NEGATIONS
    - _NUMBER_WORDS
    - _DATE_WORDS
    - _CONTRAST_WORDS
    - _OBLIGATION_WORDS
    - frozenset(_WH_CLASSES)
    - frozenset(_PRONOUN_ROLES)
)


@dataclass(frozen=True, slots=True)
class Signature:
    language: str
    negated: bool
    critical: frozenset[str]
    roles: frozenset[str]
    content: tuple[str, ...]  # meaning-bearing words, singular, in order

    @property
    def key(self) -> str:
        """What two questions must share to be paraphrases; "" when there are no
        meaning-bearing words to anchor a semantic hit ("what is it?")."""
        if not self.content:
            return ""
        parts = [str(int(self.negated)), *sorted(self.critical), "|", *sorted(set(self.content))]
        return " ".join(parts)


def _critical(word: str, cased: str, previous: str, following: str) -> str | None:
    """The class of a word that decides what the answer is, else None."""
    if any(ch.isdigit() for ch in word) or word in _NUMBER_WORDS:
        return word
    if word in _DATE_WORDS and (word != "may" or cased == "May"):  # the month, not "may I"
        return word
    if word in _CONTRAST_WORDS:
        return f"cmp:{word}"
    if word in _OBLIGATION_WORDS or (word == "to" and previous in ("have", "has", "had")):
        return "must"
    if word in _WH_CLASSES:
        return f"wh:{_WH_CLASSES[word]}"
    if word == "por" and following == "que":
        return "wh:why"
    return None


def _singular(word: str, language: str) -> str:
    """A light singular ("policies" -> "policy", "taxis" -> "taxi", "viagens" -> "viagem").

    Deliberately not a stemmer: Snowball merges "parking" with "park", "training" with
    "train" and "banco" with "bancada", which MiniLM can't tell apart either. Portuguese
    rules apply to Portuguese questions only ("plans" is not "plam")."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if language == "pt":
        for suffix, singular in (
            ("oes", "ao"),  # folded "-ões": aprovações
            ("aes", "ao"),
            ("ais", "al"),  # funcionais
            ("eis", "el"),  # papéis
            ("ois", "ol"),
            ("ns", "m"),  # viagens
            ("res", "r"),  # flores
            ("zes", "z"),  # luzes
        ):
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                return word[: -len(suffix)] + singular
    if word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def _fold_word(word: str) -> str:
    """Accent-free; "where's" -> "where", "office's" -> "office", "don't" -> "dont"."""
    head, _, tail = APOSTROPHES.sub("'", fold_accents(word)).partition("'")
    return head + tail if tail == "t" else head


def signature_of(text: str) -> Signature:
    tokens = word_tokens(text)
    raw = [t.lower() for t in tokens]
    folded = [_fold_word(w) for w in raw]
    language = detect_language(raw, text)
    negated = False
    critical: set[str] = set()
    roles: set[str] = set()
    content: list[str] = []
    for i, (token, low, word) in enumerate(zip(tokens, raw, folded, strict=True)):
        if (
            word in _NEGATIONS
            or low.endswith(("n't", "n’t"))
            or (word == "no" and language != "pt")  # Portuguese "no" is "in the"
        ):
            negated = True
            continue
        if word in _PRONOUN_ROLES:
            roles.add(_PRONOUN_ROLES[word])
            continue
        previous = folded[i - 1] if i else ""
        following = folded[i + 1] if i + 1 < len(folded) else ""
        kind = _critical(word, token if i else "", previous, following)
        if kind is not None:
            critical.add(kind)
        elif word not in _FILLER and word != "may":  # "may I…" (the month is critical)
            content.append(_singular(word, language))
    return Signature(
        language=language,
        negated=negated,
        critical=frozenset(critical),
        roles=frozenset(roles),
        content=tuple(content),
    )


def _in_order(a: Sequence[str], b: Sequence[str]) -> bool:
    """Every word of `a` meets the same word in `b`, walking `b` forwards only."""
    remaining = iter(b)
    return all(word in remaining for word in a)


def paraphrase_mismatch(*, question: str, candidate: str) -> str | None:
    """Why `candidate`'s answer must not serve `question` despite close embeddings, or None.

    "language": the answer would be in the other one ("Qual o dress code?" is answered
    in Portuguese, "Dress code?" in English); "negation" on one side only;
    "critical": numbers, dates, comparisons, who/when/where/why or obligation differ;
    "roles": both name people (I/me/you/he…) but not the same way; "words": a
    meaning-bearing word added, dropped or swapped ("taxis" / "flights", "parking" /
    "parking for visitors"); "order": the same words in another order (role reversals:
    "managers approve ... employees")."""
    return signature_mismatch(signature_of(question), signature_of(candidate))


def _answer_language(language: str) -> str:
    """The language a question's answer is written in: Portuguese for a Portuguese
    question, English for any other, "mixed" included (as `question_language` in
    ragengine.composition.labels decides it; a test keeps the two in step)."""
    return "pt" if language == "pt" else "en"


def signature_mismatch(a: Signature, b: Signature) -> str | None:
    """`paraphrase_mismatch` on signatures (a lookup computes the asked one once)."""
    if _answer_language(a.language) != _answer_language(b.language):
        return "language"
    if a.negated != b.negated:
        return "negation"
    if a.critical != b.critical:
        return "critical"
    if a.roles and b.roles and a.roles != b.roles:  # one-sided: "tell me", "can I find"
        return "roles"
    if set(a.content) != set(b.content):
        return "words"
    if not (_in_order(a.content, b.content) and _in_order(b.content, a.content)):
        return "order"
    return None


def semantic_key_for(*, question: str, scope: CacheScope) -> str:
    """Entries a semantic lookup may consider share this key: same scope, and the same
    negation, critical words and meaning-bearing words (everything `paraphrase_mismatch`
    compares except order, roles and language, which it checks per candidate)."""
    return signature_key(signature_of(question), scope)


def signature_key(signature: Signature, scope: CacheScope) -> str:
    key = signature.key
    if not key:
        return ""
    return hashlib.sha256(f"{scope.digest}\n{key}".encode()).hexdigest()
