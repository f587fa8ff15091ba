"""What kind of answer a question wants, and what kind of answer a piece of text holds.

"How long is the access token valid?" wants a duration; the sentence that merely
mentions the token ("The access token is short-lived on purpose") shares more words with
the question than the line that answers it (`ACCESS_TOKEN_EXPIRE_MINUTES = 30`). Knowing
the question's type lets the extractive answerer prefer the unit that carries that kind
of value. Types: number, duration, time, name, yes_no, how_to (English and Portuguese).
Plain regular expressions over accent-folded lower-case text: cheap and explainable.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

from ragengine.composition.bilingual import translations
from ragengine.text_analysis import analyze, fold_accents

QUESTION_TYPES: Final = ("number", "duration", "time", "name", "yes_no", "how_to")

_QUESTION: Final = {
    "duration": re.compile(
        r"\b(how long|how often|how quickly|how fast|how soon|how many (?:days|hours|minutes"
        r"|weeks|months|years|seconds)|within how|until when|by when|quanto tempo|"
        r"por quanto tempo|em quanto tempo|com que frequencia|de quanto em quanto|"
        r"quantos (?:dias|meses|anos|minutos|segundos)|quantas (?:horas|semanas)|ate quando|"
        r"prazo|validade|ttl|expire|expira|dura\b|intervalo|interval|retention|retencao|"
        r"retained|guardad|kept)"
    ),
    # "How many days a week" is answered by a schedule ("on Tuesdays and Thursdays").
    "time": re.compile(
        r"\b(when|what time|which days?|on which days?|quando|que horas|horario|que dias?|"
        r"em que dias?|hours?\b|days? (?:a|per) week|dias? por semana|vezes por semana|"
        r"times a week)"
    ),
    "number": re.compile(
        r"\b(how many|how much|quantos|quantas|quanto|maximum|minimum|limit|limite|maximo|"
        r"minimo|size|tamanho|port|porta|value|valor|amount|percent|rate|burst|timeout|"
        r"version|versao|cost|custa|custo|price|preco)"
    ),
    "name": re.compile(
        r"\b(who|whom|quem|which (?:tool|company|insurer|algorithm|channel|header|endpoint|"
        r"error|app|password manager|dns)|qual (?:e )?(?:o |a )?(?:algoritmo|operadora|"
        r"ferramenta|canal|hasher|imagem|cabecalho|nome|modo|nivel)|what is the name)"
    ),
    "yes_no": re.compile(
        r"^(can|may|do|does|did|is|are|should|must|will|am|posso|pode|podem|preciso|precisa|"
        r"devo|e|ha|tem|existe|a empresa (?:paga|oferece|ajuda|reembolsa))\b"
    ),
    "how_to": re.compile(
        r"\b(how (?:do|can|should) i|how to|what should i do|como (?:eu )?(?:faco|peco|"
        r"implanto|rodo|configuro|uso|posso|devo|funciona|cadastr)|what do i need to do|"
        r"steps|passos|procedimento)"
    ),
}

_QUANTITIES: Final = frozenset({"number", "duration", "time"})
_DURATION: Final = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:%|ms|s|h|min|mins|minutes?|minutos?|hours?|horas?|days?|dias?|"
    r"weeks?|semanas?|months?|mes|meses|years?|anos?|seconds?|segundos?)\b"
    r"|\b(?:daily|weekly|monthly|yearly|diario|diaria|semanal|mensal|anual)\b"
    r"|(?<![a-z])(?:minutes|seconds|days|hours|ttl|timeout|interval|expire)\w*\W*[=:]\s*\d"
)
_TIME: Final = re.compile(
    r"\b\d{1,2}(?::|h)\d{2}\b|\b\d{1,2}h\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mondays|tuesdays|"
    r"thursdays|fridays|segunda|terca|tercas|quarta|quinta|quintas|sexta|sabado|domingo|"
    r"domingos|january|february|march|april|may|june|july|august|september|october|"
    r"november|december|janeiro|fevereiro|marco|abril|maio|junho|julho|agosto|setembro|"
    r"outubro|novembro|dezembro|before|after|until|antes|depois|ate|every|cada|todo)\b"
)
_NAME: Final = re.compile(r"(?<!^)(?<![.!?:]\s)\b[A-Z][\w-]*[A-Za-z]|[@#]\w|\"[^\"]+\"")
_VERDICT: Final = re.compile(
    r"\b(not|never|no|only|must|cannot|can't|don't|isn't|aren't|allowed|required|need|"
    r"needs|free|always|nao|nunca|so|apenas|somente|precisa|precisam|deve|devem|pode|"
    r"podem|sem|sempre|exige|proibid\w*|obrigatori\w*)\b"
)


# "Which algorithm ...", "Qual porta ...", "How many replicas ...": the word right after
# the question word (or after "X of"/"X de") names what is asked about.
_FOCUS: Final = re.compile(
    r"\b(?:which|what|qual|quais|quantos|quantas|how many|how much)"
    r"(?:\s+(?:is|are|é|e|the|o|a|os|as))*\s+(?P<word>[^\W\d_]+)"
    r"(?:\s+(?:of the|of|do|da|dos|das|de)\s+(?P<of>[^\W\d_]+))?",
    re.IGNORECASE,
)
# "Who is the leader of the Platform team", "Quem é o líder do time de Plataforma": the
# role asked about and what it is the role of.
_ROLE: Final = re.compile(
    r"\b(?:who|quem)\s+(?:is|are|was|é|e|sao|são|foi)\s+(?:(?:the|o|a|os|as)\s+)?"
    r"(?P<word>[^\W\d_]+)"
    r"(?:\s+(?:of the|of|do|da|dos|das|de)\s+(?P<of>[^\W\d_]+))?",
    re.IGNORECASE,
)
# Words after "what" that name no topic of their own ("what time", "which way").
_VAGUE: Final = frozenset(
    {
        "time", "way", "kind", "type", "happens", "tipo", "forma", "jeito", "value", "valor",
        "name", "nome", "number", "numero", "command", "comando", "version", "versao",
    }
)  # fmt: skip
# Words the focus pattern may land on that are grammar, not a topic.
_NOT_FOCUS: Final = frozenset(
    {
        "is", "are", "was", "do", "does", "did", "can", "should", "the", "a", "an", "of",
        "e", "é", "o", "os", "as", "são", "sao", "foi", "tem", "de", "da",
    }
)  # fmt: skip


def question_types(question: str) -> frozenset[str]:
    """The answer types `question` asks for (possibly several, possibly none)."""
    text = fold_accents(" ".join(question.lower().split()))
    found = {kind for kind, pattern in _QUESTION.items() if pattern.search(text)}
    if found & _QUANTITIES:
        # "Posso trabalhar de casa quantos dias por semana?" opens like a yes/no question
        # and asks for a quantity: a bare "no" or "must" is not its answer.
        found.discard("yes_no")
    return frozenset(found)


def evidence_types(text: str, *, kind: str) -> frozenset[str]:
    """The answer types a unit of evidence can supply. `kind` is the evidence unit's
    kind: list items and code lines are steps of a how-to; code lines are names."""
    folded = fold_accents(text.lower())
    found = set()
    if any(ch.isdigit() for ch in text):
        found.add("number")
    if _DURATION.search(folded):
        found.add("duration")
    if _TIME.search(folded):
        found.add("time")
    if kind in ("code", "row") or _NAME.search(text):
        found.add("name")
    if _VERDICT.search(folded):
        found.add("yes_no")
    if kind in ("item", "code"):
        found.add("how_to")
    return frozenset(found)


def question_focus(question: str, *, ignore: Collection[str] = ()) -> list[frozenset[str]]:
    """For each word the question asks about, its stems and translations' stems.

    "Qual algoritmo ...", "Which port ...": the word after the question word. In
    "versão do Python" or "código de vestimenta" both words count. "Who is the *leader*
    of the *team*" asks about a role (both words count too). Words in `ignore`
    (accent-folded question filler) and vague ones ("what time") are never the focus.
    """
    if match := _FOCUS.search(question):
        chosen = [w for w in (match["word"], match["of"]) if w and _may_focus(w, ignore)]
    elif match := _ROLE.search(question):
        # No vague words here: "time" after "quem é o líder do" is a team.
        chosen = [w for w in (match["word"], match["of"]) if w and _may_focus(w, ignore, ())]
    else:
        return []
    return [
        frozenset([*analyze(w), *(t for o in translations(w) for t in analyze(o))]) for w in chosen
    ]


def _may_focus(word: str, ignore: Collection[str], vague: Collection[str] = _VAGUE) -> bool:
    folded = fold_accents(word.lower())
    return folded not in _NOT_FOCUS and folded not in ignore and folded not in vague


# "Is there a gym discount", "Does the API support GraphQL", "A empresa oferece auxílio
# creche": what a yes/no question asks to exist, up to three words after the verb, until
# a preposition. "How do I rotate the key": the action a how-to question asks about.
_TOPIC: Final = re.compile(
    r"\b(?:is there|are there|is an?|does(?: \w+){1,3} (?:have|has|offer|offers|provide|"
    r"provides|support|supports|give|gives|pay for|cover|covers)|existe|existem|ha|"
    r"(?:oferece|oferecem|tem|possui|suporta|fornece|paga|cobre))"
    r"\s+(?:(?:a|an|any|some|um|uma|o|a|os|as|the)\s+)?"
    r"(?P<words>[^\W\d_]+(?:[\s-]+[^\W\d_]+){0,2})",
)
_ACTION: Final = re.compile(
    r"\b(?:how (?:do|can|should) (?:i|we|you)|how to|como(?: eu)?(?: posso| devo| faco para)?)"
    r"\s+(?P<verb>[^\W\d_]+)"
)
_TOPIC_STOP: Final = re.compile(
    r"\s(?:for|in|on|at|to|of|with|from|by|and|or|que|para|por|em|no|na|de|do|da|com|e)\b.*"
)
# Topic words that name no topic ("how do I get", "como funciona").
_VAGUE_TOPIC: Final = frozenset(
    {
        "get", "do", "make", "use", "work", "works", "working", "find", "know", "see",
        "there", "it", "this", "that", "fazer", "faco", "usar", "uso", "funciona",
        "funcionam", "saber", "ver", "ter", "pedir", "peco", "isso", "isto",
    }
)  # fmt: skip


def question_topics(question: str, *, ignore: Collection[str] = ()) -> list[frozenset[str]]:
    """What a yes/no question asks to exist ("Is there a *gym discount*"): for each such
    word, its stems and translations' stems. A document that never mentions it cannot
    say yes."""
    text = fold_accents(" ".join(question.lower().split()))
    match = _TOPIC.search(text)
    if not match:
        return []
    return _stems(question, _TOPIC_STOP.sub("", " " + match["words"]).split(), ignore)


def question_action(question: str, *, ignore: Collection[str] = ()) -> list[frozenset[str]]:
    """The action a how-to question asks about ("How do I *rotate* the key"), as stems
    and translations' stems; [] when it is vague ("how do I get") or not a how-to."""
    match = _ACTION.search(fold_accents(" ".join(question.lower().split())))
    return _stems(question, [match["verb"]], ignore) if match else []


def _stems(question: str, phrase: list[str], ignore: Collection[str]) -> list[frozenset[str]]:
    content = frozenset(analyze(question))  # stopwords are dropped in context
    out = []
    for word in phrase:
        if word in _VAGUE_TOPIC or not _may_focus(word, ignore):
            continue
        stems = frozenset(analyze(word)) & content
        if stems:
            out.append(stems.union(*(analyze(other) for other in translations(word))))
    return out
