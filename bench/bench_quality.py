"""The real sample corpus: ingest examples/handbook, then check its questions in
examples/questions.json (bench_answers.py covers the whole labelled set).

    PYTHONPATH=. .venv/bin/python bench/bench_quality.py

For answerable questions: is the expected source the top-1 / within the top-5 store hits
(the same search `ask()` runs), and does the final `ask()` answer contain
`expected_phrase`? For unanswerable ones (expected_source null): did `ask()` say it could
not find it, with no sources? Store hits are also checked with rrf fusion for comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    add_run_args,
    busy_note,
    django_setup,
    ingest_handbook,
    load_embedder,
    load_questions,
    monitored,
    print_table,
    save_results,
    scratch_dir,
    settings_snapshot,
    wait_for_quiet,
)


def source_file(metadata_source: str) -> str:
    """'/x/handbook/faq-export.jsonl#faq-0101' -> 'faq-export.jsonl'."""
    return Path(metadata_source.split("#", 1)[0]).name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_args(parser, "quality")
    args = parser.parse_args()

    with scratch_dir("quality", keep=args.keep) as scratch:
        django_setup(scratch / "data")
        from django.conf import settings

        from ragengine.ask_types import Channel
        from ragengine.composition.extractive import NOT_FOUND
        from ragengine.retrieval.registry import get_vector_store
        from ragengine.retrieval.types import SearchQuery
        from ragengine.services.ask import ask

        results: dict = {
            "params": vars(args),
            "settings": settings_snapshot(
                [
                    "ARANDU_CHUNK_TOKENS",
                    "ARANDU_CHUNK_OVERLAP",
                    "ARANDU_TOP_K",
                    "ARANDU_MIN_SIMILARITY",
                    "ARANDU_HYBRID_ALPHA",
                    "ARANDU_FUSION",
                ]
            ),
        }
        embedder, results["embedder_load_s"] = load_embedder()

        ingest: dict = {"quiet_wait": wait_for_quiet(args.quiet_wait)}
        with monitored(ingest):
            report, seconds, chunks = ingest_handbook()
        ingest.update(
            seconds=round(seconds, 2),
            documents=report.count("ingested"),
            failed=[f"{o.source}: {o.error}" for o in report.failures],
            chunks=chunks,
            store_count=get_vector_store().count(),
            chunks_per_document={
                Path(o.source).name: o.chunks for o in report.outcomes if o.status == "ingested"
            },
        )
        results["ingest"] = ingest
        print(
            f"Ingested examples/handbook: {ingest['documents']} documents, {chunks} chunks "
            f"in {ingest['seconds']} s [{busy_note(ingest['load'])}]"
        )

        store = get_vector_store()
        rows = []
        # It ingests examples/handbook only; bench_answers.py measures the whole set.
        for item in (q for q in load_questions() if q.get("corpus", "handbook") == "handbook"):
            question = item["question"]
            expected = item["expected_source"]
            phrase = item["expected_phrase"]
            vector = embedder.embed_query(question)
            ranks = {}
            for fusion in ("relative", "rrf"):
                hits = store.search(
                    SearchQuery(
                        text=question,
                        vector=vector,
                        top_k=settings.ARANDU_TOP_K,
                        min_similarity=settings.ARANDU_MIN_SIMILARITY,
                        alpha=settings.ARANDU_HYBRID_ALPHA,
                        fusion=fusion,
                        per_document=settings.ARANDU_MAX_CHUNKS_PER_DOCUMENT or None,
                    )
                )
                files = [source_file(str(h.metadata.get("source", ""))) for h in hits]
                ranks[fusion] = {
                    "hits": hits,
                    "files": files,
                    "rank": files.index(expected) + 1 if expected in files else None,
                }
            # Retrieval or extraction? Where the chunk holding the expected phrase ranks
            # among the hits ask() quotes from, or, if missing, in a deep search.
            phrase_rank = phrase_deep = None
            if phrase:
                phrase_rank = next(
                    (i for i, h in enumerate(ranks["relative"]["hits"], 1) if phrase in h.text),
                    None,
                )
                if phrase_rank is None:
                    deep = store.search(
                        SearchQuery(
                            text=question,
                            vector=vector,
                            top_k=50,
                            min_similarity=-1.0,
                            alpha=settings.ARANDU_HYBRID_ALPHA,
                        )
                    )
                    phrase_deep = next(
                        (
                            {"rank": i, "similarity": round(h.similarity, 3)}
                            for i, h in enumerate(deep, 1)
                            if phrase in h.text
                        ),
                        None,
                    )
            answer = ask(member=None, question=question, channel=Channel(platform="bench"))
            cited = [s.title for s in answer.sources]
            not_found = any(answer.text.startswith(m) for m in NOT_FOUND.values())
            row = {
                "question": question,
                "language": item["language"],
                "expected_source": expected,
                "expected_phrase": phrase,
                "hits": ranks["relative"]["files"],
                "rank": ranks["relative"]["rank"],
                "rank_rrf": ranks["rrf"]["rank"],
                "phrase_chunk_rank": phrase_rank,
                "phrase_chunk_deep": phrase_deep,
                "answer": answer.text,
                "cited_titles": cited,
                "answer_ms": round(answer.timings_ms["total"], 1),
            }
            if expected:
                row["top1"] = row["rank"] == 1
                row["top5"] = row["rank"] is not None
                row["phrase_in_answer"] = phrase in answer.text
                row["ok"] = row["phrase_in_answer"]
            else:
                row["said_not_found"] = not_found and not answer.sources
                row["ok"] = row["said_not_found"]
            rows.append(row)

    answerable = [r for r in rows if r["expected_source"]]
    unanswerable = [r for r in rows if not r["expected_source"]]

    def share(items, key):
        return {"count": sum(bool(r[key]) for r in items), "of": len(items)}

    results["summary"] = {
        "answerable": len(answerable),
        "top1": share(answerable, "top1"),
        "top5": share(answerable, "top5"),
        "top1_rrf": {"count": sum(r["rank_rrf"] == 1 for r in answerable), "of": len(answerable)},
        "top5_rrf": {
            "count": sum(r["rank_rrf"] is not None for r in answerable),
            "of": len(answerable),
        },
        "phrase_in_answer": share(answerable, "phrase_in_answer"),
        "unanswerable_said_not_found": share(unanswerable, "said_not_found"),
        "by_language": {
            lang: {
                "top5": share([r for r in answerable if r["language"] == lang], "top5"),
                "phrase_in_answer": share(
                    [r for r in answerable if r["language"] == lang], "phrase_in_answer"
                ),
            }
            for lang in ("en", "pt")
        },
    }
    results["questions"] = rows

    print()
    table = []
    for i, r in enumerate(rows, start=1):
        q = r["question"] if len(r["question"]) <= 58 else r["question"][:57] + "…"
        top1 = r["hits"][0] if r["hits"] else "-"
        if r["expected_source"]:
            outcome = "phrase found" if r["phrase_in_answer"] else "PHRASE MISSING"
            rank = str(r["rank"] or "-")
            rank_rrf = str(r["rank_rrf"] or "-")
            deep = r["phrase_chunk_deep"]
            phrase_at = (
                str(r["phrase_chunk_rank"])
                if r["phrase_chunk_rank"]
                else (f"- (#{deep['rank']}, cos {deep['similarity']})" if deep else "- (>50)")
            )
        else:
            outcome = "said not found" if r["said_not_found"] else "ANSWERED (should not)"
            rank = rank_rrf = phrase_at = "n/a"
        table.append(
            (
                i,
                r["language"],
                q,
                r["expected_source"] or "(none)",
                top1,
                rank,
                rank_rrf,
                phrase_at,
                outcome,
                r["answer_ms"],
            )
        )
    print_table(
        table,
        [
            "#",
            "lang",
            "question",
            "expected",
            "top-1 hit",
            "rank",
            "rrf",
            "phrase chunk",
            "ask()",
            "ms",
        ],
    )
    print(
        "rank/rrf: rank of the expected file among the top-5 store hits (relative / rrf "
        "fusion); phrase chunk: rank of the chunk holding expected_phrase among those hits "
        "(if absent: its rank and cosine in a top-50 search without min_similarity)"
    )
    s = results["summary"]
    print()
    print_table(
        [
            ("handbook chunks / ingest time", f"{chunks} / {ingest['seconds']} s"),
            ("expected source top-1 (relative)", f"{s['top1']['count']}/{s['top1']['of']}"),
            ("expected source in top-5 (relative)", f"{s['top5']['count']}/{s['top5']['of']}"),
            (
                "expected source top-1 / top-5 (rrf)",
                f"{s['top1_rrf']['count']}/{s['top1_rrf']['of']} / "
                f"{s['top5_rrf']['count']}/{s['top5_rrf']['of']}",
            ),
            (
                "answer contains expected phrase",
                f"{s['phrase_in_answer']['count']}/{s['phrase_in_answer']['of']}",
            ),
            (
                "unanswerable -> not found, no sources",
                f"{s['unanswerable_said_not_found']['count']}/"
                f"{s['unanswerable_said_not_found']['of']}",
            ),
        ],
        ["figure", "value"],
    )
    failures = [r for r in rows if not r["ok"]]
    for r in failures:
        print(
            f"\nFAILED: {r['question']}\n  expected {r['expected_source']} / "
            f"{r['expected_phrase']!r}; hits {r['hits']}\n  answer: {r['answer'][:400]}"
        )
    save_results(args.name, results)


if __name__ == "__main__":
    main()
