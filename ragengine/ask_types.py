"""What `ask()` takes and returns. Doors (Slack, Discord, API, CLI) only format these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal


class Refusal(Exception):  # noqa: N818 - a question refused, not an error
    """A question that ends with a message to the asker instead of an answer (invalid,
    out of scope, over a limit, the knowledge base down). Raised by whichever step of
    `ask()` decides it; `ask()` turns it into a refused `Answer`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AnswerMode(StrEnum):
    GENERATED = "generated"
    EXTRACTIVE = "extractive"
    CACHED = "cached"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Channel:
    """Where a question was asked. `knowledge_sets` names the sets it may use: None means
    every set (the server operator's CLI, or a workspace whose admin chose it), empty
    means none, so the question is refused with `refusal` (why no set applies here)."""

    platform: str = "cli"
    channel_id: str = ""
    knowledge_sets: tuple[str, ...] | None = None
    refusal: str = ""

    @classmethod
    def cli(cls, knowledge_sets: Sequence[str] | None = None) -> Channel:
        """The server operator's terminal: the sets named on the command line, else
        every set."""
        return cls(platform="cli", knowledge_sets=tuple(knowledge_sets) if knowledge_sets else None)


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, slots=True)
class Source:
    number: int
    title: str
    location: str
    snippet: str
    score: float
    document_id: int
    link: str = ""


@dataclass(slots=True)
class Answer:
    text: str
    mode: AnswerMode
    sources: list[Source] = field(default_factory=list)
    provider: str = ""
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal("0")
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    request_id: str = ""
    # The question's language and the labels doors print around the answer in it
    # ("sources", "notes"); empty when the engine set none (doors then use English).
    language: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the `ask --json` output and, later, the REST API)."""
        return {
            "answer": self.text,
            "mode": str(self.mode),
            "sources": [
                {k: v for k, v in asdict(s).items() if k != "number"} | {"number": s.number}
                for s in self.sources
            ],
            "provider": self.provider,
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": str(self.cost),
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "notices": list(self.notices),
            "request_id": self.request_id,
            "language": self.language,
            "labels": dict(self.labels),
        }
