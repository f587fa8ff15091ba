"""Re-syncing a folder source whose files have not changed.

    PYTHONPATH=. .venv/bin/python bench/bench_source_sync.py [--files 1000] [--repeats 5]

Writes a folder of small Markdown files (one chunk each) under the allowed source root
of a temporary SQLite data dir, registers it as a folder source (prune on), syncs it
once (everything added: the cold ingest, reported for scale), then re-syncs it unchanged
`--repeats` times through the task entry point, as the django-q2 schedule does. Target:
1000 unchanged files re-sync in <= 5 s. `--profile` adds the top of a cProfile of one
unchanged re-sync.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Stopwatch,
    add_run_args,
    busy_note,
    django_setup,
    load_embedder,
    monitored,
    print_table,
    profile_top,
    save_results,
    scratch_dir,
    verdict,
    wait_for_quiet,
)

TARGET_RESYNC_S = 5.0
TOPICS = ["vacation", "travel", "security", "payroll", "benefits", "onboarding", "equipment"]


def write_folder(folder: Path, *, files: int, seed: int) -> int:
    """Small Markdown files (a title and two sentences), each with its own text."""
    rng = random.Random(seed)
    total = 0
    for i in range(files):
        topic = rng.choice(TOPICS)
        text = (
            f"# {topic.title()} note {i}\n\n"
            f"Policy {i} about {topic}: requests go to team {rng.randint(1, 40)} "
            f"within {rng.randint(2, 30)} days. Ask the {topic} desk on floor "
            f"{rng.randint(1, 12)} for form {rng.randint(100, 999)}-{i}.\n"
        )
        path = folder / f"{topic}" / f"note-{i:04d}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += len(text.encode())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="unchanged re-syncs timed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile one re-sync")
    add_run_args(parser, "source-sync", quiet_wait=20.0)
    args = parser.parse_args()

    with scratch_dir("source-sync", keep=args.keep) as scratch:
        root = scratch / "sources"
        folder = root / "handbook"
        folder.mkdir(parents=True)
        django_setup(scratch / "data", ARANDU_SOURCE_ROOTS=str(root))
        from ragengine.models import Chunk, Document, Source, SyncRun
        from ragengine.services.knowledge import knowledge_set_get_or_create
        from ragengine.services.source_sync import source_sync_by_id
        from ragengine.tasks import source_sync_task

        results: dict = {"params": vars(args)}
        _, results["embedder_load_s"] = load_embedder()
        results["folder"] = {
            "files": args.files,
            "bytes": write_folder(folder, files=args.files, seed=args.seed),
        }
        source = Source.objects.create(
            name="bench",
            knowledge_set=knowledge_set_get_or_create(name="bench"),
            path=str(folder),
            prune=True,
        )

        first: dict = {}
        with monitored(first), Stopwatch() as sw:
            status = source_sync_by_id(source_id=source.pk)
        run = SyncRun.objects.latest("started_at")
        first.update(
            seconds=round(sw.seconds, 2),
            status=status,
            added=run.added,
            failed=run.failed,
            chunks=Chunk.objects.count(),
        )
        results["first_sync"] = first
        assert run.added == args.files and run.failed == 0, run.summary

        results["quiet_wait"] = wait_for_quiet(args.quiet_wait)
        resyncs = []
        for _ in range(args.repeats):
            attempt: dict = {}
            with monitored(attempt), Stopwatch() as sw:
                status = source_sync_task(source.pk)
            run = SyncRun.objects.latest("started_at")
            assert run.unchanged == args.files and run.added + run.changed == 0, run.summary
            attempt.update(
                seconds=round(sw.seconds, 3),
                cpu_s=round(attempt["load"]["own_cores"] * sw.seconds, 3),
                status=status,
                summary=run.summary,
            )
            resyncs.append(attempt)
        times = [a["seconds"] for a in resyncs]
        results["unchanged_resyncs"] = resyncs
        results["unchanged_resync_s"] = {
            "median": round(statistics.median(times), 3),
            "min": min(times),
            "max": max(times),
            "ms_per_file_median": round(statistics.median(times) / args.files * 1000, 3),
            "cpu_s_median": statistics.median(a["cpu_s"] for a in resyncs),
        }
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            source_sync_task(source.pk)
            profiler.disable()
            results["profile_cumulative_top"] = profile_top(profiler, sort="cumulative", limit=25)
        results["documents"] = Document.objects.count()

    median = results["unchanged_resync_s"]["median"]
    results["targets"] = {
        "unchanged_resync_s": {
            "target": TARGET_RESYNC_S,
            "files": args.files,
            "measured": median,
            "verdict": verdict(median, TARGET_RESYNC_S),
        }
    }
    print()
    print_table(
        [
            ("files", args.files),
            ("first sync (all added)", f"{first['seconds']} s [{busy_note(first['load'])}]"),
            (
                "unchanged re-sync, median of " + str(args.repeats),
                f"{median} s (min {min(times)}, max {max(times)}) "
                f"[{busy_note(resyncs[len(resyncs) // 2]['load'])}]",
            ),
            ("per file", f"{results['unchanged_resync_s']['ms_per_file_median']} ms"),
            ("own CPU per re-sync, median", f"{results['unchanged_resync_s']['cpu_s_median']} s"),
            (
                "target",
                f"<= {TARGET_RESYNC_S} s: {results['targets']['unchanged_resync_s']['verdict']}",
            ),
        ],
        ["measure", "value"],
    )
    if args.profile:
        print("\n".join(results["profile_cumulative_top"][:25]))
    save_results(args.name, results)


if __name__ == "__main__":
    main()
