"""A small typed client for the Arandu REST API (/api/v1/).

    from arandu_client import AranduClient

    with AranduClient("http://127.0.0.1:8000", token="ak_…") as arandu:
        print(arandu.ask("How many vacation days do I get?").answer)

Every method raises `AranduError` for an error response: its `code` is the API's stable
error code (`invalid`, `not_authenticated`, `throttled`, ...), `detail` says what to do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal

import httpx

__all__ = [
    "Answer",
    "AranduClient",
    "AranduError",
    "Document",
    "EvaluationResult",
    "EvaluationResults",
    "EvaluationRun",
    "KnowledgeSet",
    "KnowledgeSets",
    "Source",
    "StreamEvent",
    "Turn",
    "UsageReport",
    "UsageRow",
]

API_PREFIX = "/api/v1"


class AranduError(Exception):
    """An error response from the API."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        detail: str,
        fields: dict[str, Any] | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.fields = fields or {}
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Source:
    number: int
    title: str
    location: str
    snippet: str
    score: float
    document_id: int
    link: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    answer: str
    mode: Literal["generated", "extractive", "cached", "refused"]
    sources: list[Source]
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: Decimal
    timings_ms: dict[str, float]
    notices: list[str]
    request_id: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(
            answer=data["answer"],
            mode=data["mode"],
            sources=[Source(**s) for s in data["sources"]],
            provider=data["provider"],
            model=data["model"],
            tokens_in=data["tokens_in"],
            tokens_out=data["tokens_out"],
            cost=Decimal(data["cost"]),
            timings_ms=dict(data["timings_ms"]),
            notices=list(data["notices"]),
            request_id=data["request_id"],
        )


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """`delta`: `text` is new text; `reset`: `text` is the whole text so far (a fallback
    model started over); `answer`: `answer` is the final answer."""

    kind: Literal["delta", "reset", "answer"]
    text: str = ""
    answer: Answer | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeSet:
    name: str
    description: str
    documents: int


@dataclass(frozen=True, slots=True)
class KnowledgeSets:
    knowledge_sets: list[KnowledgeSet]
    origin: Literal["token", "member", "workspace"]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.knowledge_sets]


@dataclass(frozen=True, slots=True)
class Document:
    id: int
    url: str
    knowledge_set: str
    title: str
    filename: str
    status: Literal["queued", "parsing", "embedding", "ready", "failed"]
    error: str
    chunk_count: int
    size_bytes: int
    mime_type: str
    created_at: str
    updated_at: str
    ingested_at: str | None
    # A JSON/JSONL upload is an "export" whose records are documents ("record", with the
    # export's URL as `parent`); `records` counts an export's records by state.
    kind: Literal["file", "export", "record"] = "file"
    parent: str | None = None
    records: dict[str, int] | None = None
    skipped_reasons: tuple[str, ...] = ()


def _document(data: dict[str, Any]) -> Document:
    return Document(**{**data, "skipped_reasons": tuple(data.get("skipped_reasons") or ())})


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str
    questions: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    cost_saved: Decimal


@dataclass(frozen=True, slots=True)
class UsageReport:
    period: Literal["day", "month"]
    by: Literal["member", "tier", "model"] | None
    start: str
    end: str
    rows: list[UsageRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EvaluationRun:
    """A run of an evaluation set; `summary` (per target and per tag) once it finished."""

    id: int
    url: str
    results_url: str
    eval_set: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    targets: list[str]
    target_errors: dict[str, str]
    cases_total: int
    cases_done: int
    use_cache: bool
    budget_cap: Decimal
    concurrency: int
    flagged: bool
    error: str
    summary: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvaluationRun:
        targets = data["targets"]
        return cls(
            **{k: v for k, v in data.items() if k not in ("targets", "budget_cap")},
            targets=[t["spec"] for t in targets],
            target_errors={t["spec"]: t["error"] for t in targets if t["error"]},
            budget_cap=Decimal(data["budget_cap"]),
        )


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """One case asked of one target."""

    position: int
    target: str
    question: str
    tags: list[str]
    must_refuse: bool
    status: str
    error: str
    mode: str
    answer: str
    sources: list[dict[str, Any]]
    facts_found: list[Any]
    facts_missed: list[Any]
    metrics: dict[str, Any]
    judge: dict[str, Any]
    tokens_in: int
    tokens_out: int
    cost: Decimal
    timings_ms: dict[str, float]


@dataclass(frozen=True, slots=True)
class EvaluationResults:
    count: int
    offset: int
    limit: int
    results: list[EvaluationResult] = field(default_factory=list)


class AranduClient:
    """One API token against one Arandu server. Use as a context manager, or `close()`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API_PREFIX,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "arandu-client/1.0"},
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> AranduClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- asking ---------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        knowledge_sets: Sequence[str] | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        body = self._ask_body(question, knowledge_sets, history, stream=False)
        return Answer.from_json(self._json(self._http.post("/ask", json=body)))

    def ask_stream(
        self,
        question: str,
        *,
        knowledge_sets: Sequence[str] | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[StreamEvent]:
        """The answer as it is written: `delta` (and `reset`) events, then `answer`."""
        body = self._ask_body(question, knowledge_sets, history, stream=True)
        headers = {"Accept": "text/event-stream"}
        with self._http.stream("POST", "/ask", json=body, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                self._json(response)
            for event, data in _sse_events(response.iter_lines()):
                if event == "answer":
                    yield StreamEvent(kind="answer", answer=Answer.from_json(data))
                    return
                if event == "error":
                    raise AranduError(
                        status=response.status_code, code=data["error"], detail=data["detail"]
                    )
                if event in ("delta", "reset"):
                    yield StreamEvent(kind=event, text=data["text"])
        raise AranduError(
            status=502, code="stream_ended", detail="The stream ended before the answer."
        )

    @staticmethod
    def _ask_body(
        question: str,
        knowledge_sets: Sequence[str] | None,
        history: Sequence[Turn],
        *,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"question": question, "stream": stream}
        if knowledge_sets is not None:
            body["knowledge_sets"] = list(knowledge_sets)
        if history:
            body["history"] = [{"role": t.role, "text": t.text} for t in history]
        return body

    # --- knowledge sets and documents -----------------------------------------------
    def knowledge_sets(self) -> KnowledgeSets:
        data = self._json(self._http.get("/knowledge-sets"))
        return KnowledgeSets(
            knowledge_sets=[KnowledgeSet(**s) for s in data["knowledge_sets"]],
            origin=data["origin"],
        )

    def upload_document(
        self,
        *,
        knowledge_set: str,
        file: str | Path | BinaryIO,
        filename: str | None = None,
    ) -> Document:
        """Upload a file (a path or an open binary file); ingestion is queued."""
        if isinstance(file, (str, Path)):
            path = Path(file)
            with path.open("rb") as handle:
                return self.upload_document(
                    knowledge_set=knowledge_set, file=handle, filename=filename or path.name
                )
        name = filename or Path(getattr(file, "name", "") or "upload").name
        response = self._http.post(
            "/documents", data={"knowledge_set": knowledge_set}, files={"file": (name, file)}
        )
        return _document(self._json(response))

    def document(self, document_id: int) -> Document:
        return _document(self._json(self._http.get(f"/documents/{int(document_id)}")))

    def delete_document(self, document_id: int) -> None:
        self._json(self._http.delete(f"/documents/{int(document_id)}"))

    # --- reports --------------------------------------------------------------------
    def usage(
        self,
        *,
        period: Literal["day", "month"] = "day",
        by: Literal["member", "tier", "model"] | None = None,
        day: date | None = None,
    ) -> UsageReport:
        params: dict[str, str] = {"period": period}
        if by is not None:
            params["by"] = by
        if day is not None:
            params["date"] = day.isoformat()
        data = self._json(self._http.get("/usage", params=params))
        return UsageReport(
            period=data["period"],
            by=data["by"],
            start=data["start"],
            end=data["end"],
            rows=[
                UsageRow(
                    key=r["key"],
                    questions=r["questions"],
                    tokens_in=r["tokens_in"],
                    tokens_out=r["tokens_out"],
                    cost=Decimal(r["cost"]),
                    cost_saved=Decimal(r["cost_saved"]),
                )
                for r in data["rows"]
            ],
        )

    # --- evaluation (service-account tokens with the `evaluation` scope) ---------------
    def start_evaluation_run(
        self,
        *,
        eval_set: str,
        targets: Sequence[str],
        use_cache: bool = False,
        budget_cap: Decimal | str | None = None,
        concurrency: int | None = None,
    ) -> EvaluationRun:
        """Queue a run of `eval_set` against `targets` (`extractive`, `tier:NAME`,
        `model:ENDPOINT:MODEL`); follow it with `evaluation_run(run.id)`."""
        body: dict[str, Any] = {
            "eval_set": eval_set,
            "targets": list(targets),
            "use_cache": use_cache,
        }
        if budget_cap is not None:
            body["budget_cap"] = str(budget_cap)
        if concurrency is not None:
            body["concurrency"] = concurrency
        return EvaluationRun.from_json(self._json(self._http.post("/evaluation/runs", json=body)))

    def evaluation_run(self, run_id: int) -> EvaluationRun:
        data = self._json(self._http.get(f"/evaluation/runs/{int(run_id)}"))
        return EvaluationRun.from_json(data)

    def evaluation_results(
        self, run_id: int, *, offset: int = 0, limit: int = 50, failures: bool = False
    ) -> EvaluationResults:
        """One page of a run's results (case × target), in case order."""
        params = {"offset": offset, "limit": limit, "failures": str(failures).lower()}
        data = self._json(self._http.get(f"/evaluation/runs/{int(run_id)}/results", params=params))
        return EvaluationResults(
            count=data["count"],
            offset=data["offset"],
            limit=data["limit"],
            results=[
                EvaluationResult(**(r | {"cost": Decimal(r["cost"])})) for r in data["results"]
            ],
        )

    # --- plumbing -------------------------------------------------------------------
    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            retry = body.get("retry_after_s") or response.headers.get("Retry-After")
            raise AranduError(
                status=response.status_code,
                code=str(body.get("error") or "http_error"),
                detail=str(body.get("detail") or response.reason_phrase),
                fields=body.get("fields"),
                retry_after_s=int(retry) if retry is not None else None,
            )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _sse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, JSON data) pairs from server-sent event lines; comments are skipped."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].lstrip(" "))
    if data:
        yield event, json.loads("\n".join(data))
