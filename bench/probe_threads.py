"""Thread contention between onnxruntime and numpy in one process (a diagnostic).

    PYTHONPATH=. .venv/bin/python bench/probe_threads.py

Repeats the sequence one `ask()` runs: embed a question, score it against 10k vectors
(numpy matrix-vector product), embed 8 passage sentences. Once with an onnxruntime
session whose idle threads spin (`session.intra_op.allow_spinning = "1"`, onnxruntime's
default and what the embedder shipped with before) and once with `"0"` (what
`LocalOnnxEmbedder` sets now), twice each, alternating. Both sessions are built here, so
the comparison does not depend on the embedder's current setting.
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
    LoadMonitor,
    add_run_args,
    busy_note,
    onnx_session,
    print_table,
    quietest,
    save_results,
    wait_for_quiet,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100)
    add_run_args(parser, "probe-threads", keep=False)
    args = parser.parse_args()

    from bench.corpus import CorpusGenerator
    from ragengine.composition.extractive import split_sentences
    from ragengine.retrieval.embedders.local import LocalOnnxEmbedder

    generator = CorpusGenerator(seed=4321)
    sentences = [
        s for c in generator.chunks(200, target_tokens=230) for s in split_sentences(c.text)
    ]
    questions = [q for q, _ in generator.questions(args.questions)]
    matrix = np.random.default_rng(0).standard_normal((args.rows, 384)).astype(np.float32)

    def embedder(spinning: bool) -> LocalOnnxEmbedder:
        e = LocalOnnxEmbedder()
        e.count_tokens("load")
        e._session = onnx_session(e, spinning=spinning)  # noqa: SLF001 - diagnostics only
        return e

    results: dict = {"params": vars(args), "quiet_wait": wait_for_quiet(args.quiet_wait)}

    def measure(e) -> dict:
        query_ms, matvec_ms, sentences_ms, total_ms = [], [], [], []
        monitor = LoadMonitor()
        for i, question in enumerate(questions):
            t0 = time.perf_counter()
            vector = e.embed_query(question)
            t1 = time.perf_counter()
            int((matrix @ vector).argmax())
            t2 = time.perf_counter()
            start = (i * 8) % (len(sentences) - 8)
            e.embed_documents(sentences[start : start + 8])
            t3 = time.perf_counter()
            time.sleep(0.002)  # the Python work between stages in ask()
            query_ms.append((t1 - t0) * 1000)
            matvec_ms.append((t2 - t1) * 1000)
            sentences_ms.append((t3 - t2) * 1000)
            total_ms.append((t3 - t0) * 1000)
        return {
            "query_p50": round(float(np.median(query_ms)), 2),
            "matvec_p50": round(float(np.median(matvec_ms)), 2),
            "matvec_p95": round(float(np.percentile(matvec_ms, 95)), 2),
            "sentences8_p50": round(float(np.median(sentences_ms)), 2),
            "total_p50": round(float(np.median(total_ms)), 2),
            "load": monitor.stop(),
        }

    runs = []
    for spinning in (True, False, True, False):
        e = embedder(spinning)
        e.embed_documents(sentences[:8])
        # A run disturbed by other processes is repeated; the quietest is kept.
        best, attempts = quietest(lambda e=e: measure(e), retries=2)
        runs.append({"onnx_spinning": spinning, **best, "attempts": len(attempts)})
    results["runs"] = runs
    print_table(
        [
            (
                "allow_spinning=1 (old default)" if r["onnx_spinning"] else "allow_spinning=0",
                r["query_p50"],
                r["matvec_p50"],
                r["matvec_p95"],
                r["sentences8_p50"],
                r["total_p50"],
                busy_note(r["load"]),
            )
            for r in runs
        ],
        ["onnxruntime", "query ms", "matvec p50", "matvec p95", "8 sentences", "total", "machine"],
    )
    save_results(args.name, results)


if __name__ == "__main__":
    main()
