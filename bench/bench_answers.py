"""Answer quality of the embedded default on the labelled set, before and after, in one run.

    PYTHONPATH=. .venv/bin/python bench/bench_answers.py [--embedders minilm e5-enpt]
        [--baseline-rev REV]

Ingests examples/handbook and examples/tech-manual (one knowledge set per embedder), then
for every question of examples/questions.json runs the search `ask()` runs (same
settings: top-k, min similarity, alpha, fusion) and answers it twice from the same hits:
with the extractive answerer of `--baseline-rev` (default: where this branch left main)
and with the answerer of the working tree, passing exactly what
`ragengine.services.document_answers` passes. Figures per category and for cross-language
questions: expected source in the top 5, expected fact quoted, refusals, unrelated quoted
lines per answer (see bench/answer_set.py). `--embedders` compares embedders (each
re-ingests; see bench_embedders.py for their speed).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answer_set import TARGETS, Outcome, corpus_paths, load_set, score, summarize
from bench.common import (
    ROOT,
    Stopwatch,
    add_run_args,
    django_setup,
    percentiles,
    print_table,
    save_results,
    scratch_dir,
)

EXTRACTIVE = "ragengine/composition/extractive.py"


def source_file(metadata_source: str) -> str:
    """'/x/handbook/faq-export.jsonl#faq-0101' -> 'faq-export.jsonl'."""
    return Path(metadata_source.split("#", 1)[0]).name


def baseline_answerer(rev: str):
    """`answer_extractively` as it was at `rev`, loaded from git without a checkout."""
    resolved = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{resolved}:{EXTRACTIVE}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader("bench_baseline_extractive", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    exec(compile(source, f"{resolved}:{EXTRACTIVE}", "exec"), module.__dict__)  # noqa: S102
    return resolved, module.answer_extractively


def default_baseline() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True
    )
    return done.stdout.strip() or "HEAD"


def make_embedder(name: str):
    if name == "minilm":
        from ragengine.retrieval.embedders.local import LocalOnnxEmbedder

        return LocalOnnxEmbedder()
    if name in ("e5", "e5-enpt"):
        from ragengine.retrieval.embedders.multilingual import MultilingualE5Embedder

        return MultilingualE5Embedder(variant="enpt" if name == "e5-enpt" else "original")
    if name == "use":
        from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

        return UseMultilingualEmbedder()
    raise SystemExit(f"unknown embedder {name!r}")


def answer_questions(
    *,
    embedder,
    knowledge_set_id: str,
    answerers: dict,
    questions: list[dict],
    stored_sentences: frozenset[str] = frozenset(),
) -> tuple[dict[str, list[Outcome]], dict[str, list[float]], list[dict]]:
    """Ask every question as `ask()` would on the extractive path: the same search, then
    each answerer from the same hits with what `ragengine.services.document_answers` passes
    (its search also gives the keyword side the question's other-language words,
    `bilingual.expand_query`). Returns the outcomes and timings per answerer, and one row per
    question. Answerers named in `stored_sentences` get the sentence vectors
    stored with the hits (as `ask()` passes them; units without one are embedded), the
    others embed every candidate unit at question time."""
    from django.conf import settings

    from ragengine.composition.citations import cited_sources
    from ragengine.composition.extractive import Passage
    from ragengine.composition.stored_sentences import sentence_embed
    from ragengine.models import KnowledgeSet
    from ragengine.retrieval import registry
    from ragengine.retrieval.embedders.memo import MemoizedEmbeddings
    from ragengine.retrieval.similarity_scale import similarity_scale
    from ragengine.services.document_answers import document_search_query

    # The embedder's cosine thresholds, for the answerers that read them (older ones had
    # MiniLM's built in).
    scale = similarity_scale(embedder.name)
    scaled = {
        label: {"scale": scale} if "scale" in inspect.signature(answer).parameters else {}
        for label, answer in answerers.items()
    }
    # The set's own vector space (a second embedder's set lives beside the first's).
    space = KnowledgeSet.objects.get(pk=knowledge_set_id).vector_space
    store = registry.get_vector_store(space=space)
    # One memo per answerer, so neither times the other's sentence embeddings.
    memos = {label: MemoizedEmbeddings(embedder) for label in answerers}
    outcomes: dict[str, list[Outcome]] = {label: [] for label in answerers}
    timings: dict[str, list[float]] = {label: [] for label in answerers}
    rows = []
    for item in questions:
        question = item["question"]
        vector = embedder.embed_query(question)
        hits = store.search(
            document_search_query(
                text=question,
                vector=vector,
                set_ids=(knowledge_set_id,),
            )
        )
        hit_files = [source_file(str(h.metadata.get("source", ""))) for h in hits]
        file_of = dict(zip((h.document_id for h in hits), hit_files, strict=True))
        passages = [
            Passage(number=i, text=h.text, score=h.score, similarity=h.similarity)
            for i, h in enumerate(hits, start=1)
        ]
        row = {
            "question": question,
            "hits": hit_files,
            "passages": [
                {"text": h.text, "score": round(h.score, 6), "similarity": round(h.similarity, 6)}
                for h in hits
            ],
        }
        for label, answer in answerers.items():
            embed = memos[label]
            if label in stored_sentences:
                embed = sentence_embed((h.sentences for h in hits), fallback=embed)
            start = time.perf_counter()
            result = answer(
                question=question,
                passages=passages,
                max_sentences=settings.ARANDU_EXTRACTIVE_SENTENCES,
                embed=embed,
                query_vector=vector,
                max_embedded=settings.ARANDU_EXTRACTIVE_EMBED_SENTENCES,
                **scaled[label],
            )
            timings[label].append((time.perf_counter() - start) * 1000)
            if result.found:
                text, sources = cited_sources(result.text, hits)
            else:
                text, sources = result.text, []
            outcome = score(
                item,
                hit_files=hit_files,
                hit_texts=[h.text for h in hits],
                answer_text=text,
                cited_files=[file_of[str(s.document_id)] for s in sources],
                refused=not result.found,
            )
            outcomes[label].append(outcome)
            row[label] = {"answer": text, **outcome.as_dict()}
            if label in stored_sentences:
                row[label]["sentences_stored_embedded"] = [embed.stored, embed.embedded]
        rows.append(row)
    return outcomes, timings, rows


def ingest_examples(name: str):
    """examples/handbook and examples/tech-manual in knowledge set `name`, timed."""
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create

    knowledge_set = knowledge_set_get_or_create(name=name)
    with Stopwatch() as sw:
        report = documents_ingest_paths(paths=corpus_paths(), knowledge_set=knowledge_set)
    return knowledge_set, report, sw.seconds


def run_embedder(
    name: str,
    answerers: dict,
    questions: list[dict],
    store_dir: Path,
    *,
    stored_sentences: frozenset[str] = frozenset(),
) -> dict:
    from django.conf import settings

    from ragengine.retrieval import registry

    # A store per embedder: their vectors differ in dimension and must never mix.
    settings.ARANDU_STORE_DIR = store_dir
    embedder = make_embedder(name)
    embedder.embed_query("load")
    registry.get_embedder = lambda: embedder
    knowledge_set, report, seconds = ingest_examples(f"examples-{name}")
    chunks = sum(o.chunks for o in report.outcomes if o.status == "ingested")
    print(
        f"[{name}] ingested {report.count('ingested')} documents, {chunks} chunks "
        f"in {seconds:.1f} s; failed: {[o.source for o in report.failures]}"
    )
    backfill_seconds = None
    if stored_sentences:
        # What the worker does after an ingestion (this script runs no worker).
        from ragengine.services.sentence_vectors import store_sentences_backfill

        with Stopwatch() as sw:
            store_sentences_backfill()
        backfill_seconds = round(sw.seconds, 2)
        print(f"[{name}] sentence vectors stored in {backfill_seconds:.1f} s")
    outcomes, timings, rows = answer_questions(
        embedder=embedder,
        knowledge_set_id=str(knowledge_set.pk),
        answerers=answerers,
        questions=questions,
        stored_sentences=stored_sentences,
    )
    counts = [
        row[label]["sentences_stored_embedded"]
        for row in rows
        for label in stored_sentences
        if label in row
    ]
    distinct = [len(set(row["hits"])) for row in rows]
    return {
        "embedder": embedder.name,
        "distinct_files_in_top": round(sum(distinct) / max(len(distinct), 1), 3),
        "ingest": {
            "seconds": round(seconds, 2),
            "chunks": chunks,
            "sentence_vectors_seconds": backfill_seconds,
        },
        "answerer_ms": {label: percentiles(t) for label, t in timings.items()},
        "sentence_vectors": {
            "stored": sum(c[0] for c in counts),
            "embedded_at_question_time": sum(c[1] for c in counts),
        },
        "summary": {label: summarize(o) for label, o in outcomes.items()},
        "questions": rows,
    }


def _pct(figure: dict) -> str:
    if not figure or figure.get("share") is None:
        return "-"
    return f"{100 * figure['share']:.1f}% ({figure['count']}/{figure['of']})"


def print_summary(name: str, result: dict, labels: list[str]) -> None:
    before, after = (result["summary"][label] for label in labels)
    groups = (
        [("overall", "overall")]
        + [(f"category: {c}", ("by_category", c)) for c in sorted(before["by_category"])]
        + [("same-language", "same_language"), ("cross-language", "cross_language")]
    )

    def pick(summary: dict, key):
        return summary[key[0]][key[1]] if isinstance(key, tuple) else summary[key]

    table = []
    for title, key in groups:
        b, a = pick(before, key), pick(after, key)
        table.append(
            (
                title,
                b["questions"],
                _pct(b["source_top5"]),
                _pct(b["fact_retrieved"]),
                f"{_pct(b['fact_quoted'])} -> {_pct(a['fact_quoted'])}",
                f"{_pct(b['answerable_refused'])} -> {_pct(a['answerable_refused'])}",
                f"{_pct(b['unanswerable_refused'])} -> {_pct(a['unanswerable_refused'])}",
                f"{b['unrelated_lines_per_answer']} -> {a['unrelated_lines_per_answer']}",
                f"{b['quoted_lines_per_answer']} -> {a['quoted_lines_per_answer']}",
            )
        )
    print(f"\n[{name}] {result['embedder']}: before ({labels[0]}) -> after ({labels[1]})")
    print_table(
        table,
        [
            "group",
            "n",
            "source top-5",
            "fact in passages",
            "fact quoted",
            "answerable refused",
            "unanswerable refused",
            "unrelated lines/answer",
            "lines/answer",
        ],
    )
    print(f"distinct files among the hits, mean: {result['distinct_files_in_top']}")
    ms = result["answerer_ms"]
    print(
        "answerer ms p50/p95: "
        + ", ".join(f"{label} {ms[label]['p50']}/{ms[label]['p95']}" for label in labels)
    )
    counts = result["sentence_vectors"]
    if counts["stored"] or counts["embedded_at_question_time"]:
        print(
            f"sentence vectors ('after'): {counts['stored']} read from the store, "
            f"{counts['embedded_at_question_time']} embedded at question time"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--embedders", nargs="+", default=["minilm"], choices=["minilm", "e5", "e5-enpt", "use"]
    )
    parser.add_argument("--baseline-rev", default=None, help="git revision of 'before'")
    parser.add_argument(
        "--question-time-sentences",
        action="store_true",
        help="'after' embeds candidate sentences at question time instead of reading the "
        "sentence vectors stored at ingest",
    )
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument(
        "--save-passages", action="store_true", help="keep each question's hit texts"
    )
    add_run_args(parser, "answers")
    args = parser.parse_args()

    rev, before = baseline_answerer(args.baseline_rev or default_baseline())
    questions = load_set()
    results: dict = {"params": vars(args), "baseline_rev": rev, "targets": dict(TARGETS)}
    with scratch_dir("answers", keep=args.keep) as scratch:
        django_setup(scratch / "data")
        from ragengine.composition.extractive import answer_extractively

        answerers = {f"before@{rev}": before, "after": answer_extractively}
        labels = list(answerers)
        for name in args.embedders:
            results[name] = run_embedder(
                name,
                answerers,
                questions,
                scratch / f"store-{name}",
                stored_sentences=frozenset() if args.question_time_sentences else {"after"},
            )
            print_summary(name, results[name], labels)
            if args.show_failures:
                for row in results[name]["questions"]:
                    after = row["after"]
                    bad = (
                        after["fact_quoted"] is False
                        or (after["must_refuse"] and not after["refused"])
                        or after["unrelated_lines"]
                    )
                    if bad:
                        print(f"\n- {row['question']} [{after['category']}] hits {row['hits']}")
                        print("  " + row["after"]["answer"].replace("\n", "\n  "))
    if not args.save_passages:  # they make the file ten times larger
        for name in args.embedders:
            for row in results[name]["questions"]:
                row.pop("passages", None)
    save_results(args.name, results)


if __name__ == "__main__":
    main()
