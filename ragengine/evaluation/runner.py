"""Running an evaluation: every enabled case asked of every target through `ask()`, with
`concurrency` questions in flight, one result row per case × target, progress and a
heartbeat after each answer, and cancellation between answers.

Each target asks as its own evaluation member (targets.py) in the channel
`eval:run:<id>` scoped to exactly the set's knowledge sets, so the ledger rows of a run are
tagged `eval:run:<id>` and cost reports can leave them out. A target whose models fail
gets those cases marked failed with the provider's reason (the answer `ask()` fell back
to is kept for reading, not scored); the rest of the run goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from ragengine.ask_types import Answer, AnswerMode, Channel
from ragengine.evaluation.documents import DocumentIndex
from ragengine.evaluation.judge import Judge, judge_model_for
from ragengine.evaluation.retrieval import (
    ModelAttempts,
    models_from_trace,
    ranking_from_trace,
    retrieve_for_evaluation,
)
from ragengine.evaluation.run_end import run_finish
from ragengine.evaluation.scoring import Expectation, score_case
from ragengine.models import (
    EvalCase,
    EvalResult,
    EvalRun,
    EvalRunStatus,
    EvalRunTarget,
    Member,
    ResultStatus,
    TargetKind,
    UsageRecord,
)
from ragengine.services.answer_targets import evaluation_member_build
from ragengine.services.ask import ask
from ragengine.trace import tracing

logger = logging.getLogger(__name__)

# How often workers look at the run row for a cancel request (seconds).
CANCEL_CHECK_S = 0.5
# Result rows are written in batches, with the progress and heartbeat, at least this often
# (a worker that dies loses at most this much of its answers).
FLUSH_EVERY_S = 0.5


def run_execute(*, run_id: int) -> EvalRun | None:
    """Take a queued run and answer it to the end (or to a cancel). None when the run was
    not queued: taken by another worker, cancelled, or failed by the sweep meanwhile."""
    now = timezone.now()
    if not EvalRun.objects.filter(pk=run_id, status=EvalRunStatus.QUEUED).update(
        status=EvalRunStatus.RUNNING, started_at=now, heartbeat_at=now
    ):
        logger.info("evaluation run not queued: skipped", extra={"run_id": run_id})
        return None
    run = EvalRun.objects.select_related("eval_set").get(pk=run_id)
    logger.info("evaluation run started", extra={"run_id": run.pk})
    try:
        stopped = _Runner(run).run()
    except Exception as exc:
        logger.exception("evaluation run failed", extra={"run_id": run.pk})
        run_finish(run=run, status=EvalRunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        run_finish(run=run, status=EvalRunStatus.CANCELLED if stopped else EvalRunStatus.DONE)
    run.refresh_from_db()
    return run


@dataclass(frozen=True, slots=True)
class _Job:
    case: EvalCase
    target: EvalRunTarget
    member: Member


class _Runner:
    def __init__(self, run: EvalRun) -> None:
        self.run_row = run
        self._retrieved: dict[int, list[int]] = {}
        self._retrieval_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()
        self._stop = False
        self._checked_at = 0.0
        self.results = _ResultWriter(run.pk)
        self.judge: Judge | None = None

    def run(self) -> bool:
        """Answer every job; True when it stopped early (cancelled or swept)."""
        run = self.run_row
        eval_set = run.eval_set
        sets = list(eval_set.knowledge_sets.order_by("name").values_list("pk", "name"))
        if not sets:
            raise RuntimeError(f"{eval_set} has no knowledge sets: a run never searches all.")
        self.set_ids = tuple(str(pk) for pk, _ in sets)
        self.channel = Channel(
            platform="eval", channel_id=run.channel_id, knowledge_sets=tuple(n for _, n in sets)
        )
        cases = list(eval_set.cases.filter(enabled=True).order_by("position", "pk"))
        targets = list(run.targets.select_related("source_tier", "endpoint", "member"))
        members = {
            t.pk: t.member if t.member_id else evaluation_member_build(run=run, target=t)
            for t in targets
        }
        if run.judge_tier_id:
            self.judge = Judge(run=run, model=judge_model_for(run.judge_tier))
        index = DocumentIndex.for_sets(pk for pk, _ in sets)
        self.expected = {c.pk: index.ids(c.expected_documents) for c in cases}
        EvalRun.objects.filter(pk=run.pk).update(cases_total=len(cases) * len(targets))
        jobs = [_Job(c, t, members[t.pk]) for c in cases for t in targets]
        try:
            if run.concurrency <= 1:
                for job in jobs:
                    if self.stopped():
                        break
                    self.answer(job)
            else:
                self._in_threads(jobs, run.concurrency)
        finally:
            self.results.flush()
        return self.stopped(force=True)

    # --- concurrency ------------------------------------------------------------------------
    def _in_threads(self, jobs: list[_Job], workers: int) -> None:
        pending: queue.Queue[_Job] = queue.Queue()
        for job in jobs:
            pending.put(job)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                while not self.stopped():
                    try:
                        job = pending.get_nowait()
                    except queue.Empty:
                        return
                    self.answer(job)
            except BaseException as exc:  # re-raised on the run's thread
                errors.append(exc)
                self._stop = True
            finally:
                connection.close()  # each thread has its own connection

        threads = [
            threading.Thread(target=work, name=f"eval-run{self.run_row.pk}-{i}", daemon=True)
            for i in range(min(workers, len(jobs)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        close_old_connections()
        if errors:
            raise errors[0]

    def stopped(self, *, force: bool = False) -> bool:
        """A cancel request, or the run no longer running (the sweep failed it)."""
        with self._lock:
            if self._stop:
                return True
            now = time.monotonic()
            if not force and now - self._checked_at < CANCEL_CHECK_S:
                return False
            self._checked_at = now
        still = EvalRun.objects.filter(
            pk=self.run_row.pk, status=EvalRunStatus.RUNNING, cancel_requested=False
        ).exists()
        if not still:
            with self._lock:
                self._stop = True
        return not still

    # --- one case ---------------------------------------------------------------------------
    def retrieved(self, case: EvalCase, traced: list[int] | None = None) -> list[int]:
        """The case's ranked documents: the ranking `ask()` itself retrieved (`traced`),
        else (a cache hit, a refusal before the search) searched once for all targets."""
        if traced is not None:
            with self._retrieval_locks[case.pk]:
                self._retrieved.setdefault(case.pk, traced)
            return traced
        with self._retrieval_locks[case.pk]:
            if case.pk not in self._retrieved:
                self._retrieved[case.pk] = retrieve_for_evaluation(
                    question=case.question, set_ids=self.set_ids, k=self.run_row.k
                )
            return self._retrieved[case.pk]

    def answer(self, job: _Job) -> None:
        run, case, target = self.run_row, job.case, job.target
        request_id = f"ev{run.pk}t{target.pk}c{case.pk}"[:32]
        row = EvalResult(
            run=run,
            target=target,
            case=case,
            position=case.position,
            question=case.question,
            language=case.language,
            tags=list(case.tags),
            must_refuse=case.must_refuse,
            expected_document_ids=self.expected[case.pk],
            request_id=request_id,
        )
        try:
            with tracing() as trace:  # the ranking ask() retrieves, for the metrics
                answer = ask(
                    member=job.member,
                    question=case.question,
                    channel=self.channel,
                    request_id=request_id,
                    use_cache=run.use_cache,
                )
        except Exception as exc:
            logger.exception("evaluation question failed", extra={"request_id": request_id})
            row.status, row.mode, row.error = ResultStatus.FAILED, "error", f"{exc}"[:2000]
        else:
            self._fill(
                row,
                answer,
                case,
                target,
                traced=ranking_from_trace(trace, k=run.k),
                models=models_from_trace(trace),
            )
        self.results.add(row)

    def _fill(
        self,
        row: EvalResult,
        answer: Answer,
        case: EvalCase,
        target: EvalRunTarget,
        traced: list[int] | None = None,
        models: ModelAttempts | None = None,
    ):
        row.answer = answer.text
        row.mode = str(answer.mode)
        row.sources = [
            {
                "number": s.number,
                "document_id": s.document_id,
                "title": s.title,
                "location": s.location,
                "score": s.score,
                "snippet": s.snippet,
            }
            for s in answer.sources
        ]
        row.notices = list(answer.notices)
        row.tokens_in, row.tokens_out = answer.tokens_in, answer.tokens_out
        row.cost = Decimal(answer.cost)
        row.timings_ms = {k: round(v, 3) for k, v in answer.timings_ms.items()}
        models = models or ModelAttempts()
        failure = self._failure(answer, target, row.request_id, models)
        if models.failures:  # a later model, or the documents, answered instead
            row.mode = "fallback"
        if failure:
            row.status, row.error = ResultStatus.FAILED, failure[:2000]
            return
        row.retrieved = self.retrieved(case, traced)
        score = score_case(
            answer=answer.text,
            mode=str(answer.mode),
            cited_document_ids=[s.document_id for s in answer.sources],
            retrieved=row.retrieved,
            expectation=Expectation(
                expected_document_ids=row.expected_document_ids,
                expected_facts=case.expected_facts,
                reference_answer=case.reference_answer,
                must_refuse=case.must_refuse,
            ),
            k=self.run_row.k,
        )
        row.metrics = score.metrics
        row.facts_found, row.facts_missed = score.facts_found, score.facts_missed
        if self.judge is not None:
            if case.must_refuse or score.declined:
                row.judge = {"judged": False, "reason": "not judged: the answer declined"}
            else:
                row.judge = self.judge(
                    question=case.question,
                    answer=answer.text,
                    sources=row.sources,
                    request_id=row.request_id,
                ).as_dict()

    def _failure(
        self, answer: Answer, target: EvalRunTarget, request_id: str, models: ModelAttempts
    ) -> str:
        """Why this answer does not measure the target, or "" when it does."""
        if (
            answer.mode == AnswerMode.REFUSED
            and UsageRecord.objects.filter(request_id=request_id, mode="refused").exists()
        ):
            return f"This target's budget cap for the run ({self.run_row.budget_cap}) is used up."
        if target.kind != TargetKind.EXTRACTIVE and models.all_failed:
            return "No model answered: " + "; ".join(models.failures)
        return ""


class _ResultWriter:
    """Result rows written in batches with the run's progress and heartbeat: one insert
    and one update per FLUSH_EVERY_S instead of two statements per answer."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self._rows: list[EvalResult] = []
        self._lock = threading.Lock()
        self._flushed_at = time.monotonic()

    def add(self, row: EvalResult) -> None:
        with self._lock:
            self._rows.append(row)
            due = time.monotonic() - self._flushed_at >= FLUSH_EVERY_S
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
            self._flushed_at = time.monotonic()
            if not rows:
                return
            EvalResult.objects.bulk_create(rows)
            EvalRun.objects.filter(pk=self.run_id).update(
                cases_done=F("cases_done") + len(rows), heartbeat_at=timezone.now()
            )
