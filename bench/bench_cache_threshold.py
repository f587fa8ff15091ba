"""The answer cache's paraphrase threshold per embedder (issue "Better answers on the
embedded default").

Cosines are not comparable across embedders, so the threshold a semantic cache hit needs
is measured per embedder on the labelled pairs of `bench/paraphrase_set.py`: where true
paraphrases and near-misses (other topic, negation, number or date, narrower question,
same words in other roles, other language) fall on its cosine scale, and the thresholds
with zero wrong hits and the most correct hits, with the paraphrase guard in place as a
lookup runs it. Quality figures: they do not depend on how busy the machine is.

    PYTHONPATH=. .venv/bin/python bench/bench_cache_threshold.py --embedders minilm use
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_answers import make_embedder
from bench.common import add_run_args, django_setup, print_table, save_results, scratch_dir
from bench.paraphrase_set import (
    NEAR_MISS_GROUPS,
    PARAPHRASE_GROUPS,
    best_thresholds,
    chosen_threshold,
    score_pairs,
    served,
)


def _spread(cosines: list[float]) -> dict[str, float]:
    a = np.asarray(cosines, dtype=np.float64)
    return {
        "n": int(a.size),
        "min": round(float(a.min()), 3),
        "p25": round(float(np.percentile(a, 25)), 3),
        "median": round(float(np.median(a)), 3),
        "p75": round(float(np.percentile(a, 75)), 3),
        "max": round(float(a.max()), 3),
    }


def measure(name: str) -> dict:
    """One embedder's cosine distribution per group and its best thresholds."""
    from ragengine.retrieval.similarity_scale import cache_threshold

    embedder = make_embedder(name)
    groups: dict[str, dict] = {}
    positives, negatives = [], []
    for kind, table, into in (
        ("paraphrase", PARAPHRASE_GROUPS, positives),
        ("near-miss", NEAR_MISS_GROUPS, negatives),
    ):
        for group, pairs in table.items():
            scores = score_pairs(embedder, pairs)
            into.extend(scores)
            groups[f"{kind}: {group}"] = {
                "kind": kind,
                "cosine": _spread([c for c, _ in scores]),
                "guard_passes": sum(ok for _, ok in scores),
                "pairs": [
                    {"a": a, "b": b, "cosine": round(c, 4), "guard_passes": ok}
                    for (a, b), (c, ok) in zip(pairs, scores, strict=True)
                ],
            }
    best, most = best_thresholds(positives, negatives, guard=True)
    best_alone, most_alone = best_thresholds(positives, negatives, guard=False)
    guarded_negatives = [c for c, ok in negatives if ok]
    shipped = cache_threshold(embedder.name)
    return {
        "embedder": embedder.name,
        "groups": groups,
        "paraphrases": _spread([c for c, _ in positives]),
        "near_misses": _spread([c for c, _ in negatives]),
        # near-misses the guard lets through: only the threshold keeps them out
        "near_misses_past_the_guard": _spread(guarded_negatives) if guarded_negatives else {},
        "with_guard": {
            "best_range": [min(best), max(best)],
            "correct_hits": most,
            "of": len(positives),
            "chosen": chosen_threshold(best),
        },
        "threshold_alone": {
            "best_range": [min(best_alone), max(best_alone)],
            "correct_hits": most_alone,
        },
        "shipped": {
            "threshold": shipped,
            "correct_hits": served(positives, shipped),
            "wrong_hits": served(negatives, shipped),
        },
    }


def report(result: dict) -> None:
    print(f"\n{result['embedder']}")
    rows = []
    for group, data in result["groups"].items():
        c = data["cosine"]
        rows.append([group, c["n"], c["min"], c["median"], c["max"], data["guard_passes"]])
    print_table(rows, ["pairs", "n", "min", "median", "max", "guard passes"])
    past = result["near_misses_past_the_guard"]
    if past:
        print(
            f"near-misses the guard lets through: {past['n']}, cosine {past['min']:.3f}"
            f"-{past['max']:.3f}"
        )
    guarded, alone, shipped = result["with_guard"], result["threshold_alone"], result["shipped"]
    print(
        f"with the guard: zero wrong hits and {guarded['correct_hits']}/{guarded['of']} correct"
        f" hits for thresholds {guarded['best_range'][0]:.2f}-{guarded['best_range'][1]:.2f}"
        f" (chosen: {guarded['chosen']:.2f})"
    )
    print(
        f"threshold alone: {alone['correct_hits']} correct hits at best"
        f" ({alone['best_range'][0]:.2f}-{alone['best_range'][1]:.2f})"
    )
    print(
        f"shipped {shipped['threshold']:.2f}: {shipped['correct_hits']} correct,"
        f" {shipped['wrong_hits']} wrong hits"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedders", nargs="+", default=["minilm", "use"])
    add_run_args(parser, "cache-threshold", keep=False)
    args = parser.parse_args()
    with scratch_dir("cache-threshold") as data_dir:
        django_setup(data_dir, ARANDU_LOG_LEVEL="ERROR")
        results = {name: measure(name) for name in args.embedders}
    for result in results.values():
        report(result)
    save_results(args.name, {"embedders": results})


if __name__ == "__main__":
    main()
