"""Blocked patterns on incoming questions: credential requests and code/SQL payloads.

A knowledge bot must never become a password oracle: documents sometimes contain secrets,
and retrieval would happily quote them. So questions asking for the value of a password,
key, token or someone else's credentials are refused before retrieval, as are messages
carrying script tags or SQL statements. False positives matter as much: "How do I reset
my password?" and "What is the password policy?" are everyday questions, so the defaults
target asking for a secret's value (or another person's), not talking about passwords.

Patterns are plain data (`BlockedPattern`) passed in by the caller, so admins can edit
them later without this module touching the database. Matching is case-insensitive and
accent-insensitive: the question and the pattern are both accent-folded ("é" -> "e"),
zero-width characters are removed and whitespace is collapsed before matching.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final, Literal

from django.conf import settings

from ragengine.text_analysis import fold_accents

logger = logging.getLogger(__name__)

PatternKind = Literal["credentials", "code", "other"]
PATTERN_KINDS: Final = ("credentials", "code", "other")


@dataclass(frozen=True, slots=True)
class BlockedPattern:
    """A named regular expression that refuses a question when it matches.

    `pattern` is matched with re.search against the normalised question (lower-case,
    accent-folded, single spaces, apostrophes as '). `kind` picks the refusal wording.
    Construction validates the regex, so a bad admin entry fails where it is entered.
    """

    name: str
    pattern: str
    kind: PatternKind = "other"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("A blocked pattern needs a name.")
        if self.kind not in PATTERN_KINDS:
            raise ValueError(
                f"Blocked pattern {self.name!r}: kind must be one of {PATTERN_KINDS}, "
                f"got {self.kind!r}."
            )
        compile_pattern(self)


def compile_pattern(blocked: BlockedPattern) -> re.Pattern[str]:
    """The compiled (and cached) regex, or a ValueError that names the pattern."""
    if not blocked.pattern.strip():
        raise ValueError(f"Blocked pattern {blocked.name!r} is empty.")
    try:
        compiled = _compiled(blocked.pattern)
    except re.error as exc:
        raise ValueError(
            f"Blocked pattern {blocked.name!r} is not a valid regular expression: {exc}"
        ) from exc
    if compiled.search("") is not None:
        raise ValueError(
            f"Blocked pattern {blocked.name!r} matches an empty text, so it would block "
            "every question."
        )
    return compiled


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    # Folded like the question, so "qual é a senha" and "qual e a senha" behave the same.
    return re.compile(fold_accents(pattern), re.IGNORECASE)


def pattern_text(question: str) -> str:
    """What patterns see: NFKC, no zero-width/format characters, accent-folded,
    lower-case, typographic apostrophes as ', whitespace collapsed."""
    text = unicodedata.normalize("NFKC", question)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = fold_accents(text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


def check_question(question: str, *, patterns: Sequence[BlockedPattern]) -> BlockedPattern | None:
    """The first pattern that blocks `question`, or None."""
    text = pattern_text(question)
    for blocked in patterns:
        if compile_pattern(blocked).search(text):
            logger.debug("blocked pattern matched", extra={"pattern": blocked.name})
            return blocked
    return None


_MESSAGES: Final = MappingProxyType(
    {
        "credentials": {
            "en": (
                "I can't help with that: I don't share passwords, keys or other credentials, "
                "or help anyone obtain someone else's. If you need access to a system, please "
                "ask the IT team through the usual channel."
            ),
            "pt": (
                "Não posso ajudar com isso: não compartilho senhas, chaves ou outras "
                "credenciais, nem ajudo a obter as de outra pessoa. Se você precisa de acesso "
                "a algum sistema, fale com a equipe de TI pelo canal de costume."
            ),
        },
        "code": {
            "en": (
                "Your message looks like code or a database command, so I can't process it "
                "here. Please ask your question in plain words."
            ),
            "pt": (
                "Sua mensagem parece conter código ou um comando de banco de dados, então não "
                "posso processá-la aqui. Por favor, faça a pergunta em palavras simples."
            ),
        },
        "other": {
            "en": "Sorry, I can't answer that question here.",
            "pt": "Desculpe, não posso responder a essa pergunta aqui.",
        },
    }
)


def blocked_message(pattern: BlockedPattern, *, language: str) -> str:
    """The refusal shown to the asker, in Portuguese or English (the default for any
    other or undetected language). It says what kind of request is refused, never the
    pattern itself, so the filter can't be probed and tuned around."""
    lang = "pt" if language.lower().startswith("pt") else "en"
    return _MESSAGES[pattern.kind][lang]


def configured_patterns() -> tuple[BlockedPattern, ...]:
    """The active patterns: `settings.ARANDU_BLOCKED_PATTERNS` when set (a list of
    {"name", "pattern", "kind"} mappings or (name, pattern[, kind]) tuples, replacing the
    defaults), else `DEFAULT_BLOCKED_PATTERNS`. Read per call, so a changed setting (or,
    later, admin-edited rows) applies without a restart; compiled regexes are cached."""
    configured = getattr(settings, "ARANDU_BLOCKED_PATTERNS", None)
    if configured is None:
        return DEFAULT_BLOCKED_PATTERNS
    return patterns_from_config(configured)


def patterns_from_config(
    entries: Iterable[Mapping[str, str] | Sequence[str]],
) -> tuple[BlockedPattern, ...]:
    """BlockedPatterns from plain config data; ValueError names the first bad entry."""
    patterns = []
    for entry in entries:
        if isinstance(entry, Mapping):
            patterns.append(
                BlockedPattern(
                    name=str(entry.get("name", "")),
                    pattern=str(entry.get("pattern", "")),
                    kind=entry.get("kind", "other"),  # type: ignore[arg-type]
                )
            )
        else:
            patterns.append(BlockedPattern(*entry))
    return tuple(patterns)


# --- defaults -----------------------------------------------------------------------------
# Building blocks, written for the normalised text (lower-case, no accents, single spaces).

# "what is / what's / what are ..." (asking for a value).
_WHAT = r"\bwhat(?:'s|s| is| are| was| were)"
# Imperatives and polite requests: "give me", "please send", "can you tell me", "i need".
_ASK = (
    r"(?:(?:^|[.!?;:,] ?|\b(?:please|pls|now|just) |\b(?:can|could|would|will) (?:you|u) "
    r"(?:please )?)(?:give|send|tell|show|share|list|reveal|dump|print|leak|provide|paste|"
    r"display|expose)(?: (?:me|us))?)"
)
# "I need the root password" asks for a value; "I need credentials for the VPN" is an
# access request the documents may well answer, so this form applies to passwords only.
_NEED = r"\bi (?:need|want)"
_SECRET = r"(?:password|passwd|passcode|passphrase|pwd)s?"
# Talking about passwords rather than asking for one.
_ABOUT = (
    r"(?! ?(?:polic|requirement|rule|reset|expir|length|complexity|chang|strength|guideline|"
    r"manager|recover|histor|rotat|format|criteria|hint|vault|update|generator|security|"
    r"safety|best|tip|practice|hygiene|help|protect|sharing))"
    # Wi-Fi and guest-network passwords are handed to every visitor: not a secret.
    r"(?! (?:for|of|to|on) (?:the |our )?(?:guest |visitor |office )?(?:wi-?fi|network))"
)
# Up to three words between the request and the secret, none of which turns it into a
# question about procedure or about the asker's own password ("the steps to reset my").
_GAP = (
    r"(?:(?!(?:how|to|reset|chang|recover|updat|forg|creat|set|choos|strong|secur|new|"
    r"my|wi-?fi|guest|visitor|about|on|tips|advice|help|info|information|guidance)\b)"
    r"[\w-]+ ){0,3}?"
)
_PRIVILEGED = (
    r"(?:admin(?:istrator)?|root|super ?user|sudo|database|db|sql|mysql|postgres(?:ql)?|"
    r"server|prod(?:uction)?|service account|domain|master|system|sysadmin|firewall|router)"
)
_OTHER_PERSON = (
    r"(?:someone(?: else)?'s|somebody(?: else)?'s|another (?:user|employee|person|colleague)'s|"
    r"other (?:users|employees|people|colleagues)'s?|(?!what's|that's|it's|who's)\w+'s)"
)
_HOW_GET = (
    r"\bhow (?:can|do|could|would|to)(?: i)? (?:get|find|see|obtain|access|know|learn|"
    r"discover|crack|hack|guess|bypass|steal|retrieve|read|view)|\bfind out"
)
_KEY = (
    r"(?:(?:api|secret|access|private|ssh|aws|gcp|azure|encryption|signing|master|admin|root|"
    r"license|deploy|service) keys?|(?:api|access|auth|bearer|session|secret|refresh|"
    r"personal access|github|gitlab|slack|bot) tokens?|client secrets?|credentials|secrets|"
    r"tokens|keys(?! (?:to|for) (?:the |my |our )?(?:office|building|room|door|locker|car|"
    r"house|cabinet|drawer|storage|desk)))"
)
_KEY_ABOUT = (
    r"(?! ?(?:polic|rotat|rule|guideline|management|manager|vault|expir|format|requirement|"
    r"used|work|stored|handled|documentation|docs))"
)

# Portuguese: "qual é a / quais são as", "me passa / me dá / pode me passar", "preciso da".
_QUAL = r"\b(?:qual(?: e| eh| era| seria| sera)? (?:a|o)|quais(?: sao)? (?:as|os)) "
_PEDIDO = (
    r"(?:\b(?:me|nos) (?:passa|passe|da|de|manda|mande|envia|envie|fala|fale|diz|diga|"
    r"informa|informe|mostra|mostre|conta|conte|repassa|repasse|compartilha|compartilhe)"
    r"(?: (?:a|as|o|os|uma))?|\b(?:pode|poderia|consegue|podia)(?: me)? (?:passar|dar|mandar|"
    r"enviar|informar|dizer|mostrar|compartilhar|falar)(?: (?:a|as|o|os))?) "
)
# As in English, "preciso da senha do admin" asks for a value; "preciso do token de acesso
# ao Jira" is an access request, so this form applies to passwords only.
_PRECISO = r"\bpreciso (?:saber )?(?:da|das|do|dos) "
_SENHA_SOBRE = (
    r"(?:(?!(?:politica|regra|requisito|tamanho|formato|prazo|validade|troca|processo|"
    r"procedimento|como|minha|meu|nova|forte|segura|melhor|ideal|wi-?fi|rede|visitante|"
    r"convidado)\b)\w+ ){0,2}?"
)
_OUTRA_PESSOA_PT = (
    r"(?:d[oa]s?|de) (?:meu|minha|meus|minhas|outr[oa]s?|colega|chefe|gerente|gestora?|"
    r"diretora?|ceo|presidente|fulano|funcionari\w+|colaborador\w*|usuari\w+|alguem|admin\w*|"
    r"root|banco(?: de dados)?|bd|servidor|sistema|producao|sa|superusuario|firewall|roteador)"
)
_COMO_PEGAR = (
    r"\bcomo (?:eu )?(?:consigo|conseguir|descubro|descobrir|vejo|ver|acesso|acessar|pego|"
    r"pegar|obtenho|obter|encontro|encontrar|acho|achar|sei|saber|quebro|quebrar|hackear|"
    r"roubar|burlar)|\bdescobrir|\bsaber qual"
)
_CHAVE_PT = (
    r"(?:chaves? (?:de |da )?(?:api|acesso|secreta|privada|ssh|aws|criptografia)|"
    r"tokens?(?: de (?:acesso|api|autenticacao))?|credenciais|segredos)\b"
    r"(?! (?:necessari|exigid|precis|obrigatori))"
)

DEFAULT_BLOCKED_PATTERNS: Final[tuple[BlockedPattern, ...]] = (
    BlockedPattern(
        name="password value request (en)",
        pattern=rf"(?:{_WHAT}|{_ASK}|{_NEED}) (?:(?:all )?(?:the|our|your|their|his|her|its) )?"
        rf"{_GAP}"
        rf"{_SECRET}\b{_ABOUT}",
        kind="credentials",
    ),
    BlockedPattern(
        name="privileged password (en)",
        pattern=rf"(?:{_HOW_GET}) (?:the |our )?(?:[\w-]+ ){{0,2}}?{_PRIVILEGED} "
        rf"(?:[\w-]+ )?{_SECRET}\b{_ABOUT}",
        kind="credentials",
    ),
    BlockedPattern(
        name="someone else's password (en)",
        pattern=rf"(?:{_WHAT}|{_ASK}|{_NEED}|{_HOW_GET}) (?:[\w-]+ ){{0,3}}?{_OTHER_PERSON} "
        rf"(?:[\w-]+ )?{_SECRET}\b{_ABOUT}",
        kind="credentials",
    ),
    BlockedPattern(
        name="keys, tokens or credentials request (en)",
        pattern=rf"(?:{_WHAT} (?:all )?(?:the|our|your|their|its)|{_ASK}(?: (?:all )?"
        rf"(?:the|our|your|their|its|any|some|all))?) (?:[\w-]+ ){{0,2}}?{_KEY}\b{_KEY_ABOUT}",
        kind="credentials",
    ),
    BlockedPattern(
        name="pedido de senha (pt)",
        pattern=rf"(?:{_QUAL}|{_PEDIDO}|{_PRECISO}){_SENHA_SOBRE}senhas?\b"
        r"(?! (?:d[oa]s? )?(?:wi-?fi|rede (?:de )?(?:visitantes|convidados)))",
        kind="credentials",
    ),
    BlockedPattern(
        name="obter senha de outra pessoa ou de sistema (pt)",
        pattern=rf"(?:{_COMO_PEGAR}) {_SENHA_SOBRE}senhas? {_OUTRA_PESSOA_PT}\b",
        kind="credentials",
    ),
    BlockedPattern(
        name="pedido de chaves, tokens ou credenciais (pt)",
        pattern=rf"(?:{_QUAL}|{_PEDIDO}){_CHAVE_PT}",
        kind="credentials",
    ),
    BlockedPattern(
        name="script or HTML event handler",
        pattern=r"<\s*/?\s*script\b|\bjavascript\s*:|<[^>]*\bon(?:error|load|click|mouseover|"
        r"focus)\s*=|<\s*iframe\b",
        kind="code",
    ),
    BlockedPattern(
        name="SQL drop statement",
        pattern=r"\bdrop\s+(?:table|database|schema)\b",
        kind="code",
    ),
    BlockedPattern(
        name="chained SQL statement",
        pattern=r";\s*(?:delete\s+from|truncate\s+(?:table\s+)?\w|alter\s+table|"
        r"update\s+\w+\s+set|insert\s+into|drop\s+\w|exec(?:ute)?[\s(]|shutdown\b|grant\s+\w)",
        kind="code",
    ),
    BlockedPattern(
        name="SQL injection probe",
        pattern=r"'\s*or\s+'?\w+'?\s*=\s*'?\w+|\bor\s+1\s*=\s*1\b|\bunion\s+(?:all\s+)?select\b|"
        r"'\s*;\s*--|\bxp_cmdshell\b|\bwaitfor\s+delay\b",
        kind="code",
    ),
)
