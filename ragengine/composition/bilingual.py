"""A small Portuguese ↔ English term map for matching a question to evidence in the other
language.

Acme's documents are half Portuguese, half English, and people ask in either language.
Embeddings of the English-only default model do not bridge the two, so without this a
Portuguese question shares no word with the English sentence that answers it. The map
covers the vocabulary of workplace policies and technical manuals (leave, money, travel,
devices, configuration, deployment); a word it does not know simply gets no translation.
Keys and values are lower-case and accent-folded, as `fold_accents` leaves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Final

from ragengine.text_analysis import fold_accents, word_tokens

# Portuguese word -> English words (several forms where a stemmer would not join them).
_PT_EN: Final = MappingProxyType(
    {
        # time
        "dia": ("day",), "dias": ("days",), "diario": ("daily",), "diaria": ("daily",),
        "semana": ("week",), "semanas": ("weeks",), "semanal": ("weekly",),
        "mes": ("month",), "meses": ("months",), "mensal": ("monthly",),
        "ano": ("year",), "anos": ("years",), "anual": ("yearly", "annual"),
        "hora": ("hour", "time"), "horas": ("hours",), "horario": ("hours", "time"),
        "minuto": ("minute",), "minutos": ("minutes",), "segundo": ("second",),
        "segundos": ("seconds",), "prazo": ("deadline", "within"), "tempo": ("time", "long"),
        "quando": ("when",), "vez": ("time",), "vezes": ("times",), "segunda": ("second",),
        "primeiro": ("first",), "primeira": ("first",), "antecedencia": ("advance", "notice"),
        "validade": ("valid", "expire"), "valido": ("valid",), "valida": ("valid",),
        "expira": ("expire", "expires"), "dura": ("lasts", "valid"),
        "frequencia": ("often", "frequency"), "intervalo": ("interval",),
        # leave and people
        "ferias": ("vacation", "holiday"), "feriado": ("holiday",), "feriados": ("holidays",),
        "licenca": ("leave",), "parental": ("parental",), "maternidade": ("parental",),
        "doente": ("ill", "sick"), "doenca": ("illness", "sick"), "atestado": ("note", "doctor"),
        "medico": ("doctor",), "medica": ("doctor",), "folga": ("leave", "off"),
        "trabalho": ("work",), "trabalhar": ("work",), "casa": ("home",), "remoto": ("remote",),
        "escritorio": ("office",), "empresa": ("company",), "colaborador": ("employee",),
        "colaboradores": ("employees",), "funcionario": ("employee",), "gestor": ("manager",),
        "chefe": ("manager",), "equipe": ("team",), "time": ("team",), "pessoa": ("person",),
        "contracheque": ("payslip", "payslips"), "holerite": ("payslip", "payslips"),
        "salario": ("salary",), "pagamento": ("payment", "paid"), "pago": ("paid",),
        "paga": ("pays", "paid"), "presente": ("gift",), "presentes": ("gifts",),
        "estacionamento": ("parking",), "vagas": ("spaces",), "vaga": ("space",),
        "visitante": ("visitor",), "visitantes": ("visitors",), "recepcao": ("reception",),
        "reuniao": ("meeting",), "sala": ("room",), "imprimir": ("print",),
        "impressora": ("printer",), "almoco": ("lunch",), "refeitorio": ("cafeteria",),
        "cafe": ("coffee", "breakfast"), "perder": ("lose", "lost"), "perdi": ("lost",),
        "perda": ("loss",), "roubo": ("theft", "stolen"), "roubado": ("stolen",),
        "custa": ("costs", "cost"), "custo": ("cost",), "multa": ("fine",),
        # money and travel
        "limite": ("limit",), "maximo": ("maximum", "max"), "minimo": ("minimum", "min", "least"),
        "valor": ("amount", "value"), "reembolso": ("reimbursement", "reimbursed", "expense"),
        "reembolsado": ("reimbursed",), "despesa": ("expense",), "despesas": ("expenses",),
        "relatorio": ("report",), "viagem": ("travel", "trip"), "viagens": ("travel", "trips"),
        "alimentacao": ("meal", "meals", "food"), "refeicao": ("meal",),
        "refeicoes": ("meals",), "hotel": ("hotel",), "hospedagem": ("hotel", "accommodation"),
        "noite": ("night",), "passagem": ("ticket", "flight"), "voo": ("flight",),
        "executiva": ("business",), "economica": ("economy",), "aviao": ("flight", "plane"),
        "seguro": ("insurance",), "saude": ("health",), "plano": ("plan", "insurance"),
        "operadora": ("insurer",), "beneficio": ("benefit",), "beneficios": ("benefits",),
        "auxilio": ("allowance",), "vale": ("voucher",),
        # devices and security
        "senha": ("password",), "senhas": ("passwords",), "tamanho": ("length", "size", "long"),
        "caracteres": ("characters",), "notebook": ("laptop",), "computador": ("laptop",),
        "acesso": ("access",), "renovacao": ("refresh",), "celular": ("phone",),
        "telefone": ("phone",), "tela": ("screen",),
        "bloqueio": ("lock",), "bloqueada": ("locked",), "chave": ("key",),
        "chaves": ("keys",), "incidente": ("incident",), "seguranca": ("security",),
        "atualizacoes": ("updates",), "atualizacao": ("update",), "rede": ("network",),
        "suporte": ("support", "desk"), "ramal": ("extension",),
        # technical
        "porta": ("port",), "portas": ("ports",), "servidor": ("server",),
        "banco": ("database",), "dados": ("data",), "conexao": ("connection",),
        "conexoes": ("connections",), "consulta": ("query",), "consultas": ("queries",),
        "factual": ("factual",), "factuais": ("factual",), "noticias": ("news",),
        "busca": ("search",), "resultados": ("results",), "entrada": ("entry",),
        "cache": ("cache",), "requisicao": ("request",), "requisicoes": ("requests",),
        "pedido": ("request",), "pedidos": ("orders", "requests"), "itens": ("items",),
        "item": ("item",), "pagina": ("page",), "versao": ("version",), "desligada": ("off",),
        "desligado": ("off",), "erro": ("error",), "erros": ("errors",), "registro": ("log",),
        "registros": ("logs",), "logs": ("logs",), "metricas": ("metrics",),
        "algoritmo": ("algorithm",), "assina": ("signs",), "assinatura": ("signature",),
        "token": ("token",), "tokens": ("tokens",), "implantar": ("deploy",),
        "implantacao": ("deploy", "deployment"), "implantacoes": ("deploys",),
        "producao": ("production",), "homologacao": ("staging",), "reverter": ("rollback",),
        "backup": ("backup",), "backups": ("backups",), "guardado": ("kept", "retained"),
        "guardados": ("kept", "retained"), "retencao": ("retention", "retained"),
        "comando": ("command",), "imagem": ("image",), "memoria": ("memory",),
        "replicas": ("replicas",), "endpoint": ("endpoint",), "reembolsar": ("refund",),
        "estorno": ("refund",), "assinar": ("sign",), "disponivel": ("available",),
        "disponiveis": ("available",), "dispositivo": ("device",), "cabecalho": ("header",),
    }
)  # fmt: skip


# English forms the stemmer does not join, and a few same-language equivalents a question
# uses for the word the documents use ("lose my laptop twice" vs "a second loss").
_VARIANTS: Final = MappingProxyType(
    {
        "lose": ("loss", "lost"), "loses": ("loss", "lost"), "losing": ("loss", "lost"),
        "lost": ("loss", "lose"), "loss": ("lose", "lost"), "twice": ("second",),
        "pay": ("paid", "costs"), "pays": ("paid",), "paid": ("pay",), "buy": ("bought",),
        "kept": ("keep", "retained", "retention"), "keep": ("kept", "retained"),
        "retained": ("kept", "retention"), "long": ("duration",), "ill": ("sick",),
        "sick": ("ill",), "fly": ("flight", "flights"), "flying": ("flight",),
        "perco": ("perder", "perda"), "perdi": ("perder", "perda"),
        "guardados": ("retencao",), "guardado": ("retencao",), "guardadas": ("retencao",),
    }
)  # fmt: skip
# Endings tried when a word itself is not in the map ("travelling" -> "travel").
_SUFFIXES: Final = ("lling", "ling", "ing", "ed", "es", "s")


@cache
def _both_ways() -> Mapping[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for pt, ens in _PT_EN.items():
        table.setdefault(pt, []).extend(ens)
        for en in ens:
            if en != pt:
                table.setdefault(en, []).append(pt)
    for word, others in _VARIANTS.items():
        table.setdefault(word, []).extend(others)
    return MappingProxyType({word: tuple(dict.fromkeys(out)) for word, out in table.items()})


def translations(word: str) -> tuple[str, ...]:
    """The other language's words for `word` (any case, accents optional), plus the few
    irregular forms of `_VARIANTS`; () if unknown."""
    table = _both_ways()
    folded = fold_accents(word.lower())
    if folded in table:
        return table[folded]
    for suffix in _SUFFIXES:
        stem = folded.removesuffix(suffix)
        if stem != folded and len(stem) >= 3:
            for candidate in (stem, stem + "l", stem + "e"):
                if candidate in table:
                    return table[candidate]
    return ()


def expand_query(text: str) -> str:
    """`text` followed by the other-language words for its words, for a keyword search
    that should also find documents written in the other language ("Posso trabalhar de
    casa ..." also searches "work home ..."). The original words come first, unchanged."""
    extra = dict.fromkeys(
        other
        for word in word_tokens(text)
        for other in translations(word)
        if other not in text.lower()
    )
    return f"{text} {' '.join(extra)}" if extra else text
