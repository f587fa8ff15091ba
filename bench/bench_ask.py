"""`ask()` latency on the extractive path with a 10k-chunk store.

    PYTHONPATH=. .venv/bin/python bench/bench_ask.py [--chunks 10000] [--rounds 3]

Django on SQLite in a temporary data dir. The store holds the real example handbook
(ingested normally) plus synthetic handbook chunks (bench/corpus.py, ~230 tokens) up to
`--chunks`, each with a real MiniLM embedding of its heading and first sentence (embedding
whole chunks would take ~5 minutes), and the sentence vectors the product stores after an
ingestion (see `store_sentence_vectors`). Questions: examples/questions.json plus
generated ones about the synthetic topics. Reports p50/p95 of `Answer.timings_ms` (total
and per stage). Target: p50 <= 25 ms, p95 <= 50 ms (issue "Better answers on the
embedded default"; was p50 <= 30 ms).
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    LoadMonitor,
    Stopwatch,
    add_run_args,
    blas_threads,
    busy_note,
    django_setup,
    ingest_handbook,
    load_embedder,
    load_questions,
    memory_mb,
    onnx_session,
    percentiles,
    print_table,
    profile_top,
    quietest,
    save_results,
    scratch_dir,
    settings_snapshot,
    verdict,
    wait_for_quiet,
)

TARGET_P50_MS = 25.0
TARGET_P95_MS = 50.0
# Stages ask() reports in Answer.timings_ms; any others it reports are added after these.
STAGES = ["validate", "embed", "retrieve", "generate", "total"]
CHUNKS_PER_DOCUMENT = 20


def gist(text: str) -> str:
    """Heading plus first sentence: what the chunk's real embedding is computed from."""
    heading, _, body = text.partition("\n\n")
    first = body.split(". ", 1)[0]
    return f"{heading}. {first}."


def build_store(n_synthetic: int, seed: int, vectors_mode: str) -> dict:
    from bench.corpus import CorpusGenerator, theme_vectors
    from ragengine.models import Document, DocumentStatus
    from ragengine.retrieval.registry import get_embedder, get_vector_store
    from ragengine.retrieval.types import StoreRecord
    from ragengine.services.knowledge import knowledge_set_get_or_create

    info: dict = {"synthetic_chunks": n_synthetic, "vectors": vectors_mode}
    generator = CorpusGenerator(seed=seed)
    chunks = list(generator.chunks(n_synthetic, target_tokens=230))
    embedder = get_embedder()
    with Stopwatch() as sw:
        if vectors_mode == "gist":
            vectors = embedder.embed_documents([gist(c.text) for c in chunks])
        else:
            vectors, _ = theme_vectors(generator, chunks, embedder.embed_documents)
    info["embed_s"] = round(sw.seconds, 1)
    info["embed_per_s"] = round(len(chunks) / sw.seconds, 1)

    knowledge_set = knowledge_set_get_or_create(name="synthetic")
    n_docs = (len(chunks) + CHUNKS_PER_DOCUMENT - 1) // CHUNKS_PER_DOCUMENT
    documents = Document.objects.bulk_create(
        [
            Document(
                knowledge_set=knowledge_set,
                title=f"Synthetic handbook {i}",
                source=f"/srv/synthetic/handbook-{i:04d}.md",
                status=DocumentStatus.READY,
                chunk_count=CHUNKS_PER_DOCUMENT,
            )
            for i in range(n_docs)
        ]
    )
    records = []
    for chunk, vector in zip(chunks, vectors, strict=True):
        document = documents[chunk.index // CHUNKS_PER_DOCUMENT]
        ordinal = chunk.index % CHUNKS_PER_DOCUMENT
        records.append(
            StoreRecord(
                id=f"{document.pk}:{ordinal}",
                knowledge_set=str(knowledge_set.pk),
                document_id=str(document.pk),
                ordinal=ordinal,
                text=chunk.text,
                vector=vector,
                metadata={
                    "title": document.title,
                    "source": document.source,
                    "location": chunk.heading,
                    "page": None,
                },
            )
        )
    with Stopwatch() as sw:
        get_vector_store().replace_documents(
            document_ids=[str(d.pk) for d in documents], records=records
        )
    info["commit_s"] = round(sw.seconds, 2)
    return info, records


def store_sentence_vectors(records, questions, channels, *, everything: bool) -> dict:
    """Sentence vectors as the product stores them after an ingestion, if this version
    has them: the handbook's by the product's own background task; the synthetic chunks'
    computed the same way (`embed_sentences`) for every chunk the questions retrieve
    (`everything`: for all 10k, ~75k distinct units, ~6 minutes on a quiet machine).
    Chunks no question retrieves are never read by an answer."""
    try:
        from ragengine.services.sentence_vectors import embed_sentences, store_sentences_backfill
    except ImportError:
        return {"error": "no sentence vectors in this version"}
    from dataclasses import replace

    from ragengine.retrieval.registry import get_embedder, get_vector_store
    from ragengine.services.ask import ask

    info: dict = {}
    with Stopwatch() as sw:
        info["handbook_documents"] = store_sentences_backfill()
    info["handbook_s"] = round(sw.seconds, 2)
    store = get_vector_store()
    wanted: set[str] = {r.id for r in records} if everything else set()
    if not everything:
        real_search = store.search

        def recording(query):
            hits = real_search(query)
            wanted.update(h.id for h in hits)
            return hits

        store.search = recording
        try:
            for channel in channels:
                for _, q in questions:
                    clear_answer_cache()
                    ask(member=None, question=q, channel=channel)
        finally:
            del store.search
    chosen = [r for r in records if r.id in wanted]
    with Stopwatch() as sw:
        sentences = embed_sentences(embedder=get_embedder(), texts=[r.text for r in chosen])
    info.update(
        synthetic_chunks=len(chosen),
        units=sum(len(s) for s in sentences),
        embed_s=round(sw.seconds, 1),
    )
    by_id = {r.id: s for r, s in zip(chosen, sentences, strict=True)}
    documents = sorted({r.document_id for r in chosen})
    in_documents = [r for r in records if r.document_id in set(documents)]
    store.replace_documents(
        document_ids=documents,
        records=[replace(r, sentences=by_id.get(r.id)) for r in in_documents],
    )
    return info


def clear_answer_cache() -> None:
    """Empty the answer cache, if this version of Arandu has one, so every timed ask
    takes the full path (a cache lookup that misses, then retrieval and extraction)."""
    from django.core.cache import cache
    from django.db import DatabaseError

    try:
        from ragengine.models import CachedAnswer
    except ImportError:  # no answer cache in this version
        CachedAnswer = None  # noqa: N806
    if CachedAnswer is not None:
        with suppress(DatabaseError):  # a model without its migration: nothing cached
            CachedAnswer.objects.all().delete()
    cache.clear()


def clear_sentence_memo() -> bool:
    """Empty the extractive answerer's in-process sentence-embedding memo, if this version
    has one (`registry.get_sentence_embeddings`). True when there was one to clear."""
    from ragengine.retrieval import registry

    factory = getattr(registry, "_sentence_embeddings", None)
    if factory is None or not hasattr(factory, "cache_clear"):
        return False
    factory.cache_clear()
    return True


def uncached_ask(ask, question: str, channel, *, keep_memo: bool = False):
    """(answer, wall ms) for a question asked with an empty answer cache and, unless
    `keep_memo`, an empty in-process sentence memo: the cold path every passage takes the
    first time it is quoted."""
    clear_answer_cache()
    if not keep_memo:
        clear_sentence_memo()
    start = time.perf_counter()
    answer = ask(member=None, question=question, channel=channel)
    return answer, (time.perf_counter() - start) * 1000


def warm_memo_round(ask, questions: list[tuple[str, str]], channel) -> dict:
    """One round with the product's sentence memo kept warm (filled by a first pass; the
    answer cache still emptied before each ask): passages seen before cost no embedding.
    Note the synthetic corpus repeats template sentences far more than real text does."""
    if not clear_sentence_memo():
        return {"error": "no in-process sentence memo in this version"}
    for _, q in questions:
        uncached_ask(ask, q, channel, keep_memo=True)
    monitor = LoadMonitor()
    answers = [uncached_ask(ask, q, channel, keep_memo=True)[0] for _, q in questions]
    return {
        "total": percentiles([a.timings_ms["total"] for a in answers]),
        "generate": percentiles([a.timings_ms.get("generate", 0.0) for a in answers]),
        "load": monitor.stop(),
    }


def repeated_questions(ask, questions: list[tuple[str, str]], channel) -> dict:
    """Each question asked twice in a row without clearing: the second ask is what a
    repeated question costs (an answer-cache hit, when the product has a cache)."""
    seconds = []
    for _, q in questions:
        clear_answer_cache()
        ask(member=None, question=q, channel=channel)
        start = time.perf_counter()
        answer = ask(member=None, question=q, channel=channel)
        seconds.append(((time.perf_counter() - start) * 1000, str(answer.mode)))
    cached = [ms for ms, mode in seconds if mode == "cached"]
    return {
        "asks": len(seconds),
        "cached_share": round(len(cached) / max(1, len(seconds)), 3),
        "second_ask_wall": percentiles([ms for ms, _ in seconds]),
        "cache_hit_wall": percentiles(cached),
    }


def unstaged(timings: dict[str, float]) -> float:
    """Time inside ask() that no named stage accounts for."""
    return timings["total"] - sum(v for k, v in timings.items() if k != "total")


def _no_spin_session(embedder):
    """The embedder's ONNX model in a second session whose idle threads sleep instead of
    spinning (onnxruntime's `session.intra_op.allow_spinning=0`), or None."""
    try:
        return onnx_session(embedder, spinning=False)
    except Exception:  # noqa: BLE001 - a diagnostic only; skipped when the embedder changed
        return None


def what_if(questions: list[tuple[str, str]], channel, quiet_wait: float) -> dict:
    """Diagnostics, not product behaviour. Each question is asked six ways in a row, so
    every variant sees the same load: as is (baseline); with every candidate sentence
    embedded at question time (the product's memo emptied before each ask: the path
    before sentence vectors were stored); with the extractive answerer's
    sentence embedding switched off (lexical + retrieval prior only); with sentence
    embeddings memoised across asks (a warm sentence-embedding cache); with numpy's BLAS
    limited to one thread; and with onnxruntime's idle threads sleeping instead of
    spinning. (onnxruntime's threads spin for a while after each embedding call by default,
    and a multi-threaded numpy matrix-vector product competes with them. The product's
    embedder now sets allow_spinning=0 and its entry points OPENBLAS_NUM_THREADS=1, so on
    current code the last two variants should match the baseline; this script sets
    neither, so its numpy uses the default thread count.)"""
    # Where ask() looks answer_extractively up (it moved to answering.py).
    import ragengine.services.ask as ask_module
    import ragengine.services.document_answers as caller
    from ragengine.retrieval import registry
    from ragengine.retrieval.registry import get_embedder

    real = caller.answer_extractively
    memo: dict[str, np.ndarray] = {}
    embedder = get_embedder()
    calls: list[str] = []

    def memo_embed(texts):
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, embedder.embed_documents(missing), strict=True))
        return np.stack([memo[t] for t in texts])

    @contextmanager
    def extractive_embed(embed, label):
        def wrapper(**kwargs):
            calls.append(label)
            return real(**{**kwargs, "embed": embed})

        caller.answer_extractively = wrapper
        try:
            yield
        finally:
            caller.answer_extractively = real

    def run(q):
        return uncached_ask(ask_module.ask, q, channel)[0]

    with extractive_embed(memo_embed, "fill"):
        for _, q in questions:
            run(q)
    variants: dict[str, list] = {
        k: []
        for k in (
            "baseline",
            "sentences_embedded_at_question_time",
            "no_sentence_embedding",
            "memoised_sentence_embedding",
            "blas_1_thread",
            "onnx_no_spinning",
        )
    }
    spinning_session = getattr(embedder, "_session", None)
    quiet_session = _no_spin_session(embedder)
    applied: list[bool] = []
    out: dict = {"quiet_wait": wait_for_quiet(quiet_wait)}
    monitor = LoadMonitor()

    def question_time(texts):
        # The product's memo, emptied before every ask: the path before sentence vectors
        # were stored (and the path of chunks without them).
        return registry.get_sentence_embeddings()(texts)

    for _, q in questions:
        variants["baseline"].append(run(q))
        with extractive_embed(question_time, "question-time"):
            variants["sentences_embedded_at_question_time"].append(run(q))
        with extractive_embed(None, "none"):
            variants["no_sentence_embedding"].append(run(q))
        with extractive_embed(memo_embed, "memo"):
            variants["memoised_sentence_embedding"].append(run(q))
        with blas_threads(1) as ok:
            variants["blas_1_thread"].append(run(q))
        applied.append(ok)
        if quiet_session is not None:
            embedder._session = quiet_session
            try:
                variants["onnx_no_spinning"].append(run(q))
            finally:
                embedder._session = spinning_session
    out["load"] = monitor.stop()
    if "none" not in calls:
        return {"error": f"answer_extractively is no longer called from {caller.__name__}"}
    if not all(applied):
        del variants["blas_1_thread"]
    if quiet_session is None:
        del variants["onnx_no_spinning"]
    for name, answers in variants.items():
        stages = sorted({k for a in answers for k in a.timings_ms})
        out[name] = {
            **{k: percentiles([a.timings_ms.get(k, 0.0) for a in answers]) for k in stages},
            "outside_stages": percentiles([unstaged(a.timings_ms) for a in answers]),
            "found_share": round(float(np.mean([bool(a.sources) for a in answers])), 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="total chunks in the store")
    parser.add_argument("--generated", type=int, default=80, help="generated questions")
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    parser.add_argument("--vectors", choices=("gist", "perturbed"), default="gist")
    parser.add_argument("--seed", type=int, default=4321)
    parser.add_argument("--retries", type=int, default=1, help="re-runs if the machine was busy")
    parser.add_argument(
        "--all-sentences",
        action="store_true",
        help="store sentence vectors for every synthetic chunk, not only those retrieved",
    )
    add_run_args(parser, "ask")
    args = parser.parse_args()

    with scratch_dir("ask", keep=args.keep) as scratch:
        django_setup(scratch / "data")
        from ragengine.ask_types import Channel
        from ragengine.retrieval.registry import get_vector_store
        from ragengine.services.ask import ask

        results: dict = {
            "params": vars(args),
            "settings": settings_snapshot(
                [
                    "ARANDU_TOP_K",
                    "ARANDU_MIN_SIMILARITY",
                    "ARANDU_HYBRID_ALPHA",
                    "ARANDU_FUSION",
                    "ARANDU_EXTRACTIVE_SENTENCES",
                    "ARANDU_EXTRACTIVE_EMBED_SENTENCES",
                    "ARANDU_CHUNK_TOKENS",
                ]
            ),
        }
        embedder, results["embedder_load_s"] = load_embedder()

        handbook = ingest_handbook()
        handbook_chunks = handbook.chunks
        results["handbook"] = {"chunks": handbook_chunks, "seconds": round(handbook.seconds, 2)}
        print(f"bench_ask: handbook {handbook_chunks} chunks; building synthetic chunks ...")
        results["store"], records = build_store(
            max(0, args.chunks - handbook_chunks), args.seed, args.vectors
        )
        store = get_vector_store()
        results["store"]["total_chunks"] = store.count()
        print(
            f"  store: {store.count():,} chunks "
            f"(embedded gists at {results['store']['embed_per_s']}/s)"
        )

        from bench.corpus import CorpusGenerator

        examples = [q["question"] for q in load_questions()]
        generated = [q for q, _ in CorpusGenerator(seed=args.seed).questions(args.generated)]
        questions = [("examples", q) for q in examples] + [("generated", q) for q in generated]
        results["sentence_vectors"] = store_sentence_vectors(
            records,
            questions,
            [
                Channel(platform="bench"),
                Channel(platform="bench", knowledge_sets=("handbook", "synthetic")),
            ],
            everything=args.all_sentences,
        )
        print(f"  sentence vectors: {results['sentence_vectors']}")

        # Count what the generate stage embeds (sentences of the retrieved passages).
        sentence_counts: list[int] = []
        original = embedder.embed_documents

        def counting(texts):
            sentence_counts.append(len(texts))
            return original(texts)

        embedder.embed_documents = counting
        everyone = Channel(platform="bench")
        for _, q in questions[:10]:  # warm-up
            uncached_ask(ask, q, everyone)

        def timed_rounds() -> tuple[list[dict], dict]:
            rows: list[dict] = []
            monitor = LoadMonitor()
            for round_no in range(args.rounds):
                for group, q in questions:
                    sentence_counts.clear()
                    answer, wall_ms = uncached_ask(ask, q, everyone)
                    rows.append(
                        {
                            "round": round_no,
                            "group": group,
                            "question": q,
                            "found": bool(answer.sources),
                            "mode": str(answer.mode),
                            "wall_ms": wall_ms,
                            "embedded_texts": sum(sentence_counts),
                            "timings": dict(answer.timings_ms),
                        }
                    )
            return rows, monitor.stop()

        # A run disturbed by other processes is repeated; the quietest attempt is kept.
        results["quiet_wait"] = wait_for_quiet(args.quiet_wait)
        (rows, load), attempts = quietest(
            timed_rounds, retries=args.retries, load=lambda attempt: attempt[1]
        )
        results["attempts"] = [
            {"p50_total": percentiles([r["timings"]["total"] for r in a[0]])["p50"], "load": a[1]}
            for a in attempts
        ]

        # One round with the channel restricted to named sets (one extra DB query).
        restricted = Channel(platform="bench", knowledge_sets=("handbook", "synthetic"))
        restricted_totals = [
            uncached_ask(ask, q, restricted)[0].timings_ms["total"] for _, q in questions
        ]

        profiler = cProfile.Profile()
        profiler.enable()
        for _, q in questions:
            uncached_ask(ask, q, everyone)
        profiler.disable()
        profile_lines = profile_top(profiler, sort="cumulative", limit=30)
        embedder.embed_documents = original
        results["memory"] = memory_mb()
        results["what_if"] = what_if(questions, everyone, args.quiet_wait)
        results["repeat"] = repeated_questions(ask, questions, everyone)
        results["warm_sentence_memo"] = warm_memo_round(ask, questions, everyone)

    def stage_table(subset: list[dict]) -> dict:
        return {
            stage: percentiles([r["timings"].get(stage, 0.0) for r in subset]) for stage in STAGES
        }

    for row in rows:
        for stage in row["timings"]:
            if stage not in STAGES:
                STAGES.insert(len(STAGES) - 1, stage)
    results["ask"] = {
        "asks": len(rows),
        "load": load,
        "all": stage_table(rows),
        "examples": stage_table([r for r in rows if r["group"] == "examples"]),
        "generated": stage_table([r for r in rows if r["group"] == "generated"]),
        "found": stage_table([r for r in rows if r["found"]]),
        "not_found": stage_table([r for r in rows if not r["found"]]),
        "found_share": round(float(np.mean([r["found"] for r in rows])), 3),
        "modes": {m: sum(r["mode"] == m for r in rows) for m in {r["mode"] for r in rows}},
        "wall_ms": percentiles([r["wall_ms"] for r in rows]),
        "outside_stages_ms": percentiles([unstaged(r["timings"]) for r in rows]),
        # Round 0 meets every question for the first time; later rounds show what any
        # in-process memo (not the answer cache, which is emptied before each ask) saves.
        "total_by_round": {
            str(n): percentiles([r["timings"]["total"] for r in rows if r["round"] == n])
            for n in sorted({r["round"] for r in rows})
        },
        "generate_embedded_sentences": percentiles([r["embedded_texts"] for r in rows]),
        "restricted_channel_total": percentiles(restricted_totals),
    }
    results["profile_cumulative_top"] = profile_lines
    # Every timed ask is cold (answer cache and sentence memo emptied before it).
    overall = results["ask"]["all"]["total"]
    results["targets"] = {
        "ask_p50_ms": {
            "target": TARGET_P50_MS,
            "measured": overall["p50"],
            "basis": "cold: answer cache and in-process sentence memo emptied per ask",
            "verdict": verdict(overall["p50"], TARGET_P50_MS),
        },
        "ask_p95_ms": {
            "target": TARGET_P95_MS,
            "measured": overall["p95"],
            "basis": "cold: answer cache and in-process sentence memo emptied per ask",
            "verdict": verdict(overall["p95"], TARGET_P95_MS),
        },
    }

    print()
    table = []
    for group in ("all", "examples", "generated", "found", "not_found"):
        stats = results["ask"][group]
        if not stats["total"].get("n"):
            continue
        table.append(
            [f"{group} (n={stats['total']['n']})"]
            + [f"{stats[s]['p50']:.1f} / {stats[s]['p95']:.1f}" for s in STAGES]
        )
    print_table(table, ["questions", *[f"{s} p50/p95 ms" for s in STAGES]])
    print()
    sentences = results["ask"]["generate_embedded_sentences"]
    print_table(
        [
            (
                "store chunks",
                f"{results['store']['total_chunks']:,} (handbook {handbook_chunks} + synthetic)",
            ),
            ("asks timed", f"{len(rows)} [{busy_note(load)}]"),
            ("answered with sources", f"{results['ask']['found_share']:.0%}"),
            (
                "texts embedded per ask (p50/p95)",
                f"{sentences['p50']:.0f} / {sentences['p95']:.0f} (query + passage sentences)",
            ),
            (
                "restricted channel total p50/p95",
                f"{results['ask']['restricted_channel_total']['p50']} / "
                f"{results['ask']['restricted_channel_total']['p95']} ms",
            ),
            ("answer modes", str(results["ask"]["modes"])),
            (
                "total p50 by round",
                " / ".join(f"{v['p50']} ms" for v in results["ask"]["total_by_round"].values()),
            ),
            (
                "wall time around ask() p50/p95",
                f"{results['ask']['wall_ms']['p50']} / {results['ask']['wall_ms']['p95']} ms",
            ),
            (
                "warm sentence memo (product's), total p50/p95",
                (
                    f"{results['warm_sentence_memo']['total']['p50']} / "
                    f"{results['warm_sentence_memo']['total']['p95']} ms "
                    f"[{busy_note(results['warm_sentence_memo']['load'])}]"
                    if "total" in results["warm_sentence_memo"]
                    else results["warm_sentence_memo"]["error"]
                ),
            ),
            (
                "repeated question, 2nd ask p50 (cached share)",
                f"{results['repeat']['second_ask_wall']['p50']} ms "
                f"({results['repeat']['cached_share']:.0%} answer-cache hits)",
            ),
            ("process RSS", f"{results['memory']['rss']} MiB"),
            (
                "what-if block (interleaved per question)",
                busy_note(results["what_if"]["load"]) if "load" in results["what_if"] else "n/a",
            ),
            *[
                (
                    f"what-if {name.replace('_', ' ')}: total / retrieve p50",
                    f"{w['total']['p50']} / {w['retrieve']['p50']} ms "
                    f"(p95 {w['total']['p95']} / {w['retrieve']['p95']}), "
                    f"answered {w['found_share']:.0%}",
                )
                for name, w in results["what_if"].items()
                if isinstance(w, dict) and "total" in w
            ],
            (
                "ask p50 target (cold asks)",
                f"{overall['p50']} ms vs {TARGET_P50_MS} ms: "
                f"{results['targets']['ask_p50_ms']['verdict']}",
            ),
            (
                "ask p95 target (cold asks)",
                f"{overall['p95']} ms vs {TARGET_P95_MS} ms: "
                f"{results['targets']['ask_p95_ms']['verdict']}",
            ),
        ],
        ["figure", "value"],
    )
    print("\nTop of cProfile (cumulative) over one round:")
    for line in profile_lines[:18]:
        print("  " + line)
    save_results(args.name, results)


if __name__ == "__main__":
    main()
