"""Deterministic synthetic "company handbook" corpus in English and Portuguese.

Text: sentences from per-topic templates and word lists (vacation, expenses, security,
benefits, ...), grouped into chunks of about `target_tokens` MiniLM tokens. A long tail of
generated proper nouns (tool names, people, project codes) gives the BM25 vocabulary a
realistic Zipf shape instead of a few hundred words that occur everywhere.

Themes: every chunk belongs to one theme (topic x language x variant; 18 x 2 x 8 = 288
by default). The variant fixes which objects, tools and people the theme talks about, so
chunks of one theme share vocabulary the way sections of one policy do.

Vectors without embedding every chunk (`theme_vectors`): the model embeds one prototype
chunk per theme (a few hundred real embeddings) and each chunk's vector is
normalize(prototype + 0.3 * another theme's prototype of the same language + noise),
noise scaled so a chunk has cosine ~0.8 to its own prototype and ~0.6 to a sibling. Query
vectors are always real embeddings of generated questions.

Everything is seeded: the same arguments give the same text and vectors.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- word lists

# fmt: off

# Per topic, "<language>_<slot>": the names, objects and units its themes talk about.
TOPICS: dict[str, dict[str, list[str]]] = {
    "vacation": {
        "en_name": ["vacation policy", "annual leave policy"],
        "pt_name": ["política de férias", "norma de férias"],
        "en_obj": ["vacation days", "annual leave", "carried-over days", "holiday requests",
                   "time off", "leave balance", "unused vacation"],
        "pt_obj": ["dias de férias", "período de férias", "saldo de férias",
                   "pedidos de férias", "folgas", "férias não gozadas"],
        "en_unit": ["working days", "days"],
        "pt_unit": ["dias úteis", "dias corridos"],
    },
    "sick": {
        "en_name": ["sick leave policy", "absence policy"],
        "pt_name": ["política de licença médica", "norma de ausência"],
        "en_obj": ["sick leave", "a doctor's note", "medical certificates", "absences",
                   "medical appointments", "return-to-work meetings"],
        "pt_obj": ["licença médica", "atestado médico", "faltas justificadas",
                   "consultas médicas", "afastamentos"],
        "en_unit": ["days", "consecutive days"],
        "pt_unit": ["dias", "dias consecutivos"],
    },
    "expenses": {
        "en_name": ["expense policy", "reimbursement policy"],
        "pt_name": ["política de reembolso", "norma de despesas"],
        "en_obj": ["expense reports", "receipts", "meal expenses", "taxi fares",
                   "mileage claims", "reimbursements", "corporate card statements"],
        "pt_obj": ["relatórios de despesas", "recibos", "notas fiscais", "despesas com refeição",
                   "corridas de táxi", "reembolsos", "faturas do cartão corporativo"],
        "en_unit": ["euros", "dollars"],
        "pt_unit": ["reais", "euros"],
    },
    "travel": {
        "en_name": ["travel policy", "business travel guidelines"],
        "pt_name": ["política de viagens", "norma de viagem a trabalho"],
        "en_obj": ["flights", "hotel bookings", "train tickets", "travel insurance",
                   "per diem allowances", "visa applications", "rental cars"],
        "pt_obj": ["passagens aéreas", "reservas de hotel", "bilhetes de trem",
                   "seguro viagem", "diárias", "pedidos de visto", "carros alugados"],
        "en_unit": ["nights", "euros"],
        "pt_unit": ["noites", "reais"],
    },
    "security": {
        "en_name": ["information security policy", "IT security standard"],
        "pt_name": ["política de segurança da informação", "norma de segurança de TI"],
        "en_obj": ["passwords", "multi-factor authentication", "phishing emails",
                   "security incidents", "encrypted laptops", "access tokens", "USB drives"],
        "pt_obj": ["senhas", "autenticação multifator", "e-mails de phishing",
                   "incidentes de segurança", "notebooks criptografados", "tokens de acesso",
                   "pendrives"],
        "en_unit": ["characters", "hours"],
        "pt_unit": ["caracteres", "horas"],
    },
    "onboarding": {
        "en_name": ["onboarding guide", "first-week checklist"],
        "pt_name": ["cartilha de integração", "lista da primeira semana"],
        "en_obj": ["access badges", "welcome sessions", "laptop setup", "team introductions",
                   "mandatory trainings", "buddy meetings", "account requests"],
        "pt_obj": ["crachás de acesso", "sessões de boas-vindas", "configuração do notebook",
                   "apresentações da equipe", "treinamentos obrigatórios", "pedidos de conta"],
        "en_unit": ["days", "sessions"],
        "pt_unit": ["dias", "sessões"],
    },
    "benefits": {
        "en_name": ["benefits overview", "employee benefits plan"],
        "pt_name": ["política de benefícios", "cartilha de benefícios"],
        "en_obj": ["health insurance", "dental coverage", "meal vouchers", "life insurance",
                   "gym memberships", "dependants", "pension contributions"],
        "pt_obj": ["plano de saúde", "plano odontológico", "vale-refeição", "seguro de vida",
                   "auxílio academia", "dependentes", "previdência privada"],
        "en_unit": ["euros per month", "percent"],
        "pt_unit": ["reais por mês", "por cento"],
    },
    "remote": {
        "en_name": ["remote work policy", "hybrid work guidelines"],
        "pt_name": ["política de trabalho remoto", "diretriz de trabalho híbrido"],
        "en_obj": ["remote days", "home office allowances", "internet costs", "core hours",
                   "coworking spaces", "working abroad"],
        "pt_obj": ["dias remotos", "auxílio home office", "custos de internet",
                   "horário núcleo", "espaços de coworking", "trabalho no exterior"],
        "en_unit": ["days per week", "euros per month"],
        "pt_unit": ["dias por semana", "reais por mês"],
    },
    "equipment": {
        "en_name": ["equipment policy", "hardware guidelines"],
        "pt_name": ["política de equipamentos", "norma de hardware"],
        "en_obj": ["laptops", "monitors", "headsets", "lost devices", "hardware requests",
                   "equipment returns", "mobile phones"],
        "pt_obj": ["notebooks", "monitores", "fones de ouvido", "aparelhos perdidos",
                   "pedidos de hardware", "devolução de equipamentos", "celulares"],
        "en_unit": ["years", "working days"],
        "pt_unit": ["anos", "dias úteis"],
    },
    "payroll": {
        "en_name": ["payroll calendar", "salary policy"],
        "pt_name": ["política da folha de pagamento", "política salarial"],
        "en_obj": ["payslips", "salary payments", "overtime", "bonus payments",
                   "tax forms", "bank details"],
        "pt_obj": ["holerites", "pagamentos de salário", "horas extras", "bônus",
                   "informes de rendimentos", "dados bancários"],
        "en_unit": ["days", "hours"],
        "pt_unit": ["dias", "horas"],
    },
    "training": {
        "en_name": ["learning policy", "training budget rules"],
        "pt_name": ["política de aprendizagem", "norma do orçamento de treinamento"],
        "en_obj": ["training budgets", "conference tickets", "online courses",
                   "certifications", "study leave", "language classes"],
        "pt_obj": ["orçamento de treinamento", "ingressos de conferência", "cursos online",
                   "certificações", "licença para estudos", "aulas de idiomas"],
        "en_unit": ["euros per year", "days per year"],
        "pt_unit": ["reais por ano", "dias por ano"],
    },
    "conduct": {
        "en_name": ["code of conduct", "workplace behaviour standard"],
        "pt_name": ["política de conduta", "norma de comportamento no trabalho"],
        "en_obj": ["conflicts of interest", "gifts from suppliers", "harassment reports",
                   "confidential information", "social media posts", "complaints"],
        "pt_obj": ["conflitos de interesse", "presentes de fornecedores",
                   "denúncias de assédio", "informações confidenciais",
                   "publicações em redes sociais", "reclamações"],
        "en_unit": ["euros", "days"],
        "pt_unit": ["reais", "dias"],
    },
    "parental": {
        "en_name": ["parental leave policy", "family leave guidelines"],
        "pt_name": ["política de licença parental", "diretriz de licença familiar"],
        "en_obj": ["maternity leave", "paternity leave", "adoption leave", "childcare support",
                   "flexible return plans", "nursing breaks"],
        "pt_obj": ["licença-maternidade", "licença-paternidade", "licença por adoção",
                   "auxílio-creche", "planos de retorno flexível", "intervalos de amamentação"],
        "en_unit": ["weeks", "months"],
        "pt_unit": ["semanas", "meses"],
    },
    "office": {
        "en_name": ["office guide", "facilities handbook"],
        "pt_name": ["cartilha do escritório", "norma de instalações"],
        "en_obj": ["meeting rooms", "parking spaces", "visitor badges", "the cafeteria",
                   "printers", "lockers", "the guest Wi-Fi"],
        "pt_obj": ["salas de reunião", "vagas de estacionamento", "crachás de visitante",
                   "o refeitório", "impressoras", "armários", "o Wi-Fi de visitantes"],
        "en_unit": ["hours", "minutes"],
        "pt_unit": ["horas", "minutos"],
    },
    "reviews": {
        "en_name": ["performance review process", "career framework"],
        "pt_name": ["política de avaliação de desempenho", "trilha de carreira"],
        "en_obj": ["performance reviews", "promotion requests", "self-assessments",
                   "feedback sessions", "salary reviews", "development goals"],
        "pt_obj": ["avaliações de desempenho", "pedidos de promoção", "autoavaliações",
                   "sessões de feedback", "revisões salariais", "metas de desenvolvimento"],
        "en_unit": ["months", "weeks"],
        "pt_unit": ["meses", "semanas"],
    },
    "procurement": {
        "en_name": ["purchasing policy", "procurement rules"],
        "pt_name": ["política de compras", "norma de aquisição"],
        "en_obj": ["purchase orders", "supplier contracts", "software licences", "quotes",
                   "invoices", "subscriptions"],
        "pt_obj": ["ordens de compra", "contratos com fornecedores", "licenças de software",
                   "orçamentos", "faturas", "assinaturas"],
        "en_unit": ["euros", "working days"],
        "pt_unit": ["reais", "dias úteis"],
    },
    "privacy": {
        "en_name": ["data protection policy", "privacy notice"],
        "pt_name": ["política de proteção de dados", "política de privacidade"],
        "en_obj": ["personal data", "customer records", "data deletion requests",
                   "data breaches", "retention periods", "consent forms"],
        "pt_obj": ["dados pessoais", "cadastros de clientes", "pedidos de exclusão de dados",
                   "vazamentos de dados", "prazos de retenção", "termos de consentimento"],
        "en_unit": ["days", "years"],
        "pt_unit": ["dias", "anos"],
    },
    "support": {
        "en_name": ["IT support guide", "helpdesk handbook"],
        "pt_name": ["cartilha de suporte de TI", "norma do helpdesk"],
        "en_obj": ["support tickets", "password resets", "VPN access", "software installs",
                   "broken screens", "email quotas"],
        "pt_obj": ["chamados de suporte", "redefinições de senha", "acesso à VPN",
                   "instalações de software", "telas quebradas", "cotas de e-mail"],
        "en_unit": ["hours", "working days"],
        "pt_unit": ["horas", "dias úteis"],
    },
}

# Slots shared by every theme of a language, in the order `_fill` draws them.
WORDS: dict[str, dict[str, list[str]]] = {
    "actor": {
        "en": ["Employees", "Team leads", "New hires", "Contractors", "Managers", "Interns",
               "Everyone", "Staff in Lisbon", "Staff in São Paulo", "Part-time employees"],
        "pt": ["Os colaboradores", "Os líderes de equipe", "Os novos contratados",
               "Os prestadores de serviço", "Os gestores", "Os estagiários", "Todos",
               "A equipe de Lisboa", "A equipe de São Paulo"],
    },
    "approver": {
        "en": ["your manager", "the People team", "Finance", "the IT team", "your director",
               "the Security Office", "HR"],
        "pt": ["o seu gestor", "o time de Pessoas", "o Financeiro", "a equipe de TI",
               "o seu diretor", "o Escritório de Segurança", "o RH"],
    },
    "period": {
        "en": ["year", "quarter", "month", "calendar year", "fiscal year"],
        "pt": ["ano", "trimestre", "mês", "ano civil", "ano fiscal"],
    },
    "deadline": {
        "en": ["the end of the month", "March 31", "the last working day of the quarter",
               "Friday noon", "the payroll cut-off date", "December 15"],
        "pt": ["o fim do mês", "31 de março", "o último dia útil do trimestre",
               "sexta-feira ao meio-dia", "a data de corte da folha", "15 de dezembro"],
    },
    "condition": {
        "en": ["a request is urgent", "the amount is above the limit", "you are travelling",
               "the system is unavailable", "you work part-time", "you joined this year",
               "a receipt is missing", "you are unsure"],
        "pt": ["o pedido for urgente", "o valor passar do limite", "você estiver viajando",
               "o sistema estiver fora do ar", "você trabalhar meio período",
               "você entrou este ano", "faltar um comprovante", "houver dúvida"],
    },
    "connect": {
        "en": ["In addition,", "However,", "For example,", "As a rule,", "Please note that",
               "In practice,", "Where possible,"],
        "pt": ["Além disso,", "No entanto,", "Por exemplo,", "Como regra,", "Observe que",
               "Na prática,", "Sempre que possível,"],
    },
}

# Handbook sentences; {slots} are filled by `CorpusGenerator._fill`.
TEMPLATES: dict[str, list[str]] = {
    "en": [
        "{actor} are entitled to {n} {unit} of {obj} per {period}.",
        "Requests for {obj} must be approved by {approver} at least {n} {unit} in advance.",
        "{connect} {obj} have to be registered in {tool} before {deadline}.",
        "If {condition}, contact {person} at {email} or open a ticket in {tool}.",
        "The {name} applies to all {obj} and is reviewed every {period} by {approver}.",
        "{actor} can use {tool} to check the status of their {obj} at any time.",
        "Exceptions to the {name} need written approval from {approver}.",
        "{connect} {obj} that are not submitted by {deadline} may not be accepted.",
        "The limit for {obj} is {n} {unit}, unless {approver} agrees otherwise.",
        "Questions about {obj} go to {person}, who owns the {name} for project {code}.",
        "{actor} should keep a copy of every document related to {obj} for {n} {unit}.",
        "When {condition}, {approver} decides how {obj} are handled.",
        "{connect} the {name} was last updated in {year} to reflect changes to {obj}.",
        "The {tool} portal lists all {obj} together with the approval history.",
    ],
    "pt": [
        "{actor} têm direito a {n} {unit} de {obj} por {period}.",
        "Os pedidos de {obj} precisam ser aprovados por {approver} com {n} {unit} de antecedência.",
        "{connect} {obj} devem ser registrados no {tool} até {deadline}.",
        "Se {condition}, fale com {person} pelo e-mail {email} ou abra um chamado no {tool}.",
        "A {name} vale para todos os casos de {obj} e é revisada a cada {period} por {approver}.",
        "{actor} podem consultar no {tool} a situação de {obj} a qualquer momento.",
        "Exceções à {name} exigem aprovação por escrito de {approver}.",
        "{connect} {obj} enviados depois de {deadline} podem não ser aceitos.",
        "O limite para {obj} é de {n} {unit}, salvo acordo com {approver}.",
        "Dúvidas sobre {obj} devem ser enviadas para {person}, responsável pela {name} no "
        "projeto {code}.",
        "{actor} devem guardar uma cópia de todos os documentos de {obj} por {n} {unit}.",
        "Quando {condition}, {approver} decide como tratar {obj}.",
        "{connect} a {name} foi atualizada em {year} para refletir mudanças em {obj}.",
        "O portal {tool} mostra todos os {obj} com o histórico de aprovações.",
    ],
}

# Questions about a theme, filled like the sentences.
QUESTIONS: dict[str, list[str]] = {
    "en": [
        "How many {unit} of {obj} do I get per {period}?",
        "Who approves {obj}?",
        "What is the deadline for {obj}?",
        "Where do I register {obj}?",
        "What is the limit for {obj}?",
        "Who should I ask about {obj}?",
        "What happens if {condition} with {obj}?",
        "Does the {name} cover {obj}?",
    ],
    "pt": [
        "Quantos {unit} de {obj} eu tenho por {period}?",
        "Quem aprova {obj}?",
        "Qual é o prazo para {obj}?",
        "Onde eu registro {obj}?",
        "Qual é o limite para {obj}?",
        "Com quem eu falo sobre {obj}?",
        "O que acontece se {condition} com {obj}?",
        "A {name} cobre {obj}?",
    ],
}

_SYLLABLES = ["ka", "ri", "to", "mel", "zan", "qui", "vor", "da", "lu", "nex", "sa", "bro",
              "tiv", "ga", "ro", "pen", "dul", "xi", "mo", "ter", "fa", "lin", "cor",
              "ve"]
_FIRST = ["Ana", "João", "Maria", "Pedro", "Sofia", "Rui", "Beatriz", "Carlos", "Inês", "Tiago",
          "Laura", "Miguel", "Helena", "Paulo", "Marta", "Lucas", "Clara", "Diego"]
_LAST = ["Silva", "Santos", "Ferreira", "Costa", "Oliveira", "Pereira", "Almeida", "Souza",
         "Rocha", "Lima", "Carvalho", "Gomes", "Ribeiro", "Martins"]

# fmt: on

LANGUAGES = ("en", "pt")
VARIANTS = 8
# MiniLM's WordPiece vocabulary is English: Portuguese words split into more pieces.
_TOKENS_PER_WORD = {"en": 1.25, "pt": 2.05}


@dataclass(frozen=True, slots=True)
class Theme:
    index: int
    topic: str
    language: str
    variant: int


@dataclass(frozen=True, slots=True)
class SyntheticChunk:
    index: int
    theme: int
    language: str
    heading: str
    text: str


def themes(variants: int = VARIANTS) -> list[Theme]:
    out = []
    for topic in TOPICS:
        for language in LANGUAGES:
            for variant in range(variants):
                out.append(Theme(len(out), topic, language, variant))
    return out


class _Vocabulary:
    """Shared long-tail names: tools, people and codes, drawn with a Zipf law."""

    def __init__(self, seed: int, size: int = 20_000) -> None:
        rng = random.Random(seed)
        seen: set[str] = set()
        self.names: list[str] = []
        while len(self.names) < size:
            word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
            if word not in seen:
                seen.add(word)
                self.names.append(word)
        ranks = np.arange(1, size + 1, dtype=np.float64)
        weights = 1.0 / ranks**1.07
        self.cumulative = np.cumsum(weights / weights.sum())

    def draw(self, rng: random.Random) -> str:
        index = int(np.searchsorted(self.cumulative, rng.random()))
        return self.names[min(index, len(self.names) - 1)]


class CorpusGenerator:
    """Seeded generator of chunks, documents and questions."""

    def __init__(self, seed: int = 1234, variants: int = VARIANTS) -> None:
        self.seed = seed
        self.themes = themes(variants)
        self.vocab = _Vocabulary(seed)
        self._theme_slots = [self._slots_for(theme) for theme in self.themes]

    def _slots_for(self, theme: Theme) -> dict[str, list[str]]:
        """What a theme talks about: a subset of its topic's objects plus its own tools."""
        rng = random.Random(f"{self.seed}:theme:{theme.index}")
        topic = TOPICS[theme.topic]
        lang = theme.language
        objects = topic[f"{lang}_obj"]
        k = max(3, len(objects) - 2)
        return {
            "obj": rng.sample(objects, k),
            "name": topic[f"{lang}_name"],
            "unit": topic[f"{lang}_unit"],
            "tool": [self.vocab.draw(rng) for _ in range(3)],
            "person": [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(3)],
            "code": [f"{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randint(100, 9999)}"],
        }

    def _fill(self, template: str, theme: Theme, rng: random.Random) -> str:
        slots = self._theme_slots[theme.index]
        lang = theme.language
        person = rng.choice(slots["person"])
        # One slot in three uses a name from the shared long tail instead of the theme's.
        tool = rng.choice(slots["tool"]) if rng.random() < 0.67 else self.vocab.draw(rng)
        # Draw order is part of the seed contract: shared slots, then the theme's.
        values = {slot: rng.choice(words[lang]) for slot, words in WORDS.items()}
        values |= {slot: rng.choice(slots[slot]) for slot in ("obj", "name", "unit")}
        values |= {
            "tool": tool,
            "person": person,
            "email": person.split()[0].lower().replace("ã", "a").replace("ê", "e").replace("í", "i")
            + "@acme.example",
            "code": rng.choice(slots["code"]),
            "n": str(rng.choice([2, 3, 5, 7, 10, 14, 15, 20, 25, 30, 45, 60, 90, 120, 150])),
            "year": str(rng.randint(2019, 2026)),
        }
        sentence = template.format(**values)
        return sentence[0].upper() + sentence[1:]

    def sentence(self, theme: Theme, rng: random.Random) -> str:
        return self._fill(rng.choice(TEMPLATES[theme.language]), theme, rng)

    def heading(self, theme: Theme, rng: random.Random) -> str:
        slots = self._theme_slots[theme.index]
        return f"{rng.choice(slots['name']).capitalize()}: {rng.choice(slots['obj'])}"

    def paragraph(self, theme: Theme, rng: random.Random, target_tokens: int) -> str:
        """Sentences of one theme until about `target_tokens` (estimated) tokens."""
        ratio = _TOKENS_PER_WORD[theme.language]
        sentences: list[str] = []
        tokens = 0.0
        while tokens < target_tokens:
            sentence = self.sentence(theme, rng)
            sentences.append(sentence)
            tokens += len(sentence.split()) * ratio
        return " ".join(sentences)

    def chunk(self, index: int, theme: Theme, target_tokens: int = 200) -> SyntheticChunk:
        rng = random.Random(f"{self.seed}:chunk:{index}")
        heading = self.heading(theme, rng)
        parts = []
        remaining = target_tokens - len(heading.split()) * _TOKENS_PER_WORD[theme.language]
        while remaining > 0:
            size = min(remaining, rng.randint(50, 110))
            parts.append(self.paragraph(theme, rng, size))
            remaining -= sum(len(p.split()) for p in parts[-1:]) * _TOKENS_PER_WORD[theme.language]
        text = heading + "\n\n" + "\n\n".join(parts)
        return SyntheticChunk(index, theme.index, theme.language, heading, text)

    def chunks(self, n: int, *, target_tokens: int = 200) -> Iterator[SyntheticChunk]:
        """`n` chunks; chunk i belongs to a theme drawn with a seeded, skewed distribution."""
        rng = np.random.default_rng(self.seed)
        weights = rng.gamma(2.0, 1.0, size=len(self.themes))
        assignment = rng.choice(len(self.themes), size=n, p=weights / weights.sum())
        for i in range(n):
            yield self.chunk(i, self.themes[int(assignment[i])], target_tokens)

    def prototype(self, theme: Theme, target_tokens: int = 200) -> str:
        """The text whose real embedding stands for the theme."""
        return self.chunk(-1 - theme.index, theme, target_tokens).text

    def question(self, index: int, theme: Theme | None = None) -> tuple[str, Theme]:
        rng = random.Random(f"{self.seed}:question:{index}")
        theme = theme or rng.choice(self.themes)
        text = self._fill(rng.choice(QUESTIONS[theme.language]), theme, rng)
        return text, theme

    def questions(self, n: int) -> list[tuple[str, Theme]]:
        return [self.question(i) for i in range(n)]

    def markdown_document(
        self,
        index: int,
        *,
        sections: int,
        paragraphs_per_section: int,
        paragraph_tokens: int,
    ) -> str:
        """A Markdown handbook page: `# title`, then `## section`s of long paragraphs."""
        rng = random.Random(f"{self.seed}:document:{index}")
        theme = self.themes[rng.randrange(len(self.themes))]
        lines = [f"# {self.heading(theme, rng)}", ""]
        for _ in range(sections):
            lines += [f"## {self.heading(theme, rng)}", ""]
            for _ in range(paragraphs_per_section):
                lines += [self.paragraph(theme, rng, paragraph_tokens), ""]
        return "\n".join(lines)


# --------------------------------------------------------------------------- vectors

Embed = Callable[[Sequence[str]], np.ndarray]


def theme_vectors(
    generator: CorpusGenerator,
    chunks: Sequence[SyntheticChunk],
    embed: Embed,
    *,
    noise: float = 0.75,
    secondary: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """(chunk vectors, prototype vectors): perturbations of real prototype embeddings.

    With `noise` s, a chunk's cosine to its own prototype is about 1/sqrt(1 + s^2) (0.8
    for 0.75) before the secondary mix; two chunks of one theme land near 0.6.
    """
    prototypes = embed([generator.prototype(t) for t in generator.themes]).astype(np.float32)
    rng = np.random.default_rng(generator.seed + 1)
    by_language = {
        lang: np.array([t.index for t in generator.themes if t.language == lang])
        for lang in LANGUAGES
    }
    dim = prototypes.shape[1]
    theme_ids = np.array([c.theme for c in chunks], dtype=np.int64)
    vectors = np.empty((len(chunks), dim), dtype=np.float32)
    block = 8192
    for start in range(0, len(chunks), block):
        ids = theme_ids[start : start + block]
        other = np.empty_like(ids)
        for lang, pool in by_language.items():
            mask = np.array([generator.themes[i].language == lang for i in ids])
            other[mask] = rng.choice(pool, size=int(mask.sum()))
        mixed = prototypes[ids] + secondary * prototypes[other]
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        mixed += (noise / np.sqrt(dim)) * rng.standard_normal((len(ids), dim))
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        vectors[start : start + len(ids)] = mixed
    return vectors, prototypes


# --------------------------------------------------------------------------- fingerprint

# fingerprint() of this generator; a change means the same seed now gives another corpus,
# so figures measured before are no longer comparable. Check: python bench/corpus.py
REFERENCE_FINGERPRINT = "a176b102eea18970"


def fingerprint(seed: int = 1234, chunks: int = 2000) -> str:
    """sha256 over the text of `chunks` chunks, 300 questions, the theme prototypes and
    three Markdown documents generated with `seed`."""
    import hashlib

    generator = CorpusGenerator(seed=seed)
    digest = hashlib.sha256()
    texts = [
        *(f"{c.index}:{c.theme}:{c.text}" for c in generator.chunks(chunks)),
        *(f"{t.index}:{q}" for q, t in generator.questions(300)),
        *(generator.prototype(t) for t in generator.themes),
        *(
            generator.markdown_document(
                i, sections=2, paragraphs_per_section=3, paragraph_tokens=420
            )
            for i in range(3)
        ),
    ]
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    found = fingerprint()
    print(found, "OK" if found == REFERENCE_FINGERPRINT else f"!= {REFERENCE_FINGERPRINT}")
