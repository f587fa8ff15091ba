"""Shared benchmark helpers: percentiles, memory, machine load, Django set-up, results.

Benchmarks are scripts, not tests: they print a table and save
`bench/results/<name>.json` with the machine they ran on and how busy it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
EXAMPLES = ROOT / "examples"
# A measurement during which other processes used more than this many cores is re-run.
QUIET_CORES = 0.3

T = TypeVar("T")


# --------------------------------------------------------------------------- timing


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 plus mean/min/max of a list of milliseconds, rounded to 0.01 ms."""
    if not samples_ms:
        return {"n": 0}
    a = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "n": int(a.size),
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "mean": round(float(a.mean()), 2),
        "min": round(float(a.min()), 2),
        "max": round(float(a.max()), 2),
    }


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds`."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


# --------------------------------------------------------------------------- memory


def _status() -> dict[str, int]:
    """/proc/self/status memory fields in KiB (Linux)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in {"VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"}:
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def memory_mb() -> dict[str, float]:
    """Current RSS (and its anonymous/file-backed parts) and the peak, in MiB.

    RssFile counts pages of mmapped files (the store's snapshot) that this process has
    touched; they are page cache, shared with every other process reading the store.
    `peak_rss` is VmHWM (resettable with `reset_peak_rss`); `ru_maxrss` is getrusage's
    figure, which on Linux survives exec, so a child started by a big parent reports the
    parent's peak there.
    """
    status = _status()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "rss": round(status.get("VmRSS", 0) / 1024, 1),
        "rss_anon": round(status.get("RssAnon", 0) / 1024, 1),
        "rss_file": round(status.get("RssFile", 0) / 1024, 1),
        "peak_rss": round(status.get("VmHWM", peak_kib) / 1024, 1),
        "ru_maxrss": round(peak_kib / 1024, 1),
    }


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), to measure one step's peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def dir_size_mb(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return round(total / (1024 * 1024), 1)


# --------------------------------------------------------------------------- machine load


def _proc_stat_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return (total - idle) / tick, total / tick


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


class LoadMonitor:
    """How busy the rest of the machine was during a measurement.

    `other_cores` is the machine's busy CPU time minus this process's own, divided by
    wall time: ~0 on a quiet machine, 1.0 when another process kept one core busy. A
    figure measured with other_cores well above 0.3 on this 2-core box should be re-run.
    """

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._busy, _ = _proc_stat_busy()
        self._self = _self_cpu()
        self._load = os.getloadavg()

    def stop(self) -> dict[str, float]:
        wall = max(time.perf_counter() - self._wall, 1e-9)
        busy, _ = _proc_stat_busy()
        own = _self_cpu() - self._self
        other = max(0.0, (busy - self._busy) - own)
        return {
            "wall_s": round(wall, 2),
            "own_cores": round(own / wall, 2),
            "other_cores": round(other / wall, 2),
            "loadavg_1m_start": round(self._load[0], 2),
            "loadavg_1m_end": round(os.getloadavg()[0], 2),
        }


@contextmanager
def monitored(into: dict[str, Any], key: str = "load") -> Iterator[None]:
    monitor = LoadMonitor()
    try:
        yield
    finally:
        into[key] = monitor.stop()


def busy_note(load: dict[str, float], threshold: float = QUIET_CORES) -> str:
    other = load.get("other_cores", 0.0)
    return f"BUSY (other processes used {other:.2f} cores)" if other > threshold else "quiet"


def quietest(
    measure: Callable[[], T],
    *,
    retries: int,
    load: Callable[[T], dict[str, float]] = lambda run: run["load"],
) -> tuple[T, list[T]]:
    """Run `measure()` until other processes left a run alone (`other_cores` <=
    QUIET_CORES), at most 1 + `retries` times; return the quietest run and every run."""
    runs: list[T] = []
    for _ in range(1 + retries):
        runs.append(measure())
        if load(runs[-1])["other_cores"] <= QUIET_CORES:
            break
    return min(runs, key=lambda run: load(run)["other_cores"]), runs


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_total = int(line.split()[1]) // 1024
    except OSError:
        pass
    versions = {}
    for module in ("numpy", "onnxruntime", "bm25s", "django", "tokenizers"):
        try:
            versions[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001 - informational only
            versions[module] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "mem_total_mb": mem_total,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "versions": versions,
    }


# --------------------------------------------------------------------------- output


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) and not isinstance(row[i], bool) for row in rows)
        for i in range(len(headers))
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    for index, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if numeric[j] else c.ljust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            print(line)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def verdict(measured: float, target: float, *, lower_is_better: bool = True) -> str:
    ok = measured <= target if lower_is_better else measured >= target
    return "PASS" if ok else "MISS"


def profile_top(profiler: Any, *, sort: str, limit: int) -> list[str]:
    """The first `limit` function rows of a cProfile.Profile, sorted by `sort`."""
    import io
    import pstats

    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats(sort).print_stats(limit)
    return [line for line in stream.getvalue().splitlines() if "/" in line][:limit]


def code_fingerprint() -> dict[str, Any]:
    """Which product code was measured: a hash over ragengine/, adminsite/ and botcore/ sources
    (the tree may have no commits yet) and the newest modification time among them."""
    digest = hashlib.sha256()
    newest = 0.0
    packages = ("ragengine", "adminsite", "botcore")
    for path in sorted(p for name in packages for p in ROOT.glob(f"{name}/**/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    return {
        "sources_sha256": digest.hexdigest()[:16],
        "newest_source_mtime": dt.datetime.fromtimestamp(newest, dt.UTC).isoformat(
            timespec="seconds"
        ),
    }


def save_results(name: str, data: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json atomically, with machine and code info added."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine_info(), "code": code_fingerprint(), **data}
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)
    print(f"\nSaved {path.relative_to(ROOT)}")
    return path


# --------------------------------------------------------------------------- scratch + Django


@contextmanager
def scratch_dir(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A temporary directory removed afterwards (unless `keep`)."""
    path = Path(tempfile.mkdtemp(prefix=f"arandu-bench-{prefix}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


def django_setup(data_dir: Path, **env: str) -> None:
    """Point Arandu at a private SQLite data dir, then `django.setup()` and migrate.

    Must run before anything imports Django settings. Extra `env` (e.g.
    ARANDU_CHUNK_TOKENS="256") is applied first, as a deployment would set it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["ARANDU_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'arandu.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "adminsite.settings"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-not-secret")
    os.environ.setdefault("ARANDU_LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def load_questions() -> list[dict[str, Any]]:
    return json.loads((EXAMPLES / "questions.json").read_text(encoding="utf-8"))


def add_run_args(parser: Any, name: str, *, quiet_wait: float = 30.0, keep: bool = True) -> None:
    """The flags every benchmark shares: --quiet-wait, --keep (scratch dir) and --name."""
    parser.add_argument(
        "--quiet-wait", type=float, default=quiet_wait, help="max s to wait for quiet"
    )
    if keep:
        parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--name", default=name, help="results file: bench/results/<name>.json")


def settings_snapshot(names: Sequence[str]) -> dict[str, Any]:
    """The named Django settings (None when this version has no such setting)."""
    from django.conf import settings

    return {name: getattr(settings, name, None) for name in names}


def load_embedder() -> tuple[Any, float]:
    """The product's embedder (`registry.get_embedder()`), loaded up front so no timed
    step pays for model start-up; returns it and the load time in seconds."""
    from ragengine.retrieval.registry import get_embedder

    embedder = get_embedder()
    with Stopwatch() as sw:
        embedder.count_tokens("load")
    return embedder, round(sw.seconds, 2)


class HandbookIngest(NamedTuple):
    report: Any  # ragengine.services.ingest.IngestReport
    seconds: float
    chunks: int


def ingest_handbook(name: str = "handbook") -> HandbookIngest:
    """Ingest examples/handbook into knowledge set `name`, timed."""
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create

    with Stopwatch() as sw:
        report = documents_ingest_paths(
            paths=[EXAMPLES / "handbook"],
            knowledge_set=knowledge_set_get_or_create(name=name),
        )
    chunks = sum(o.chunks for o in report.outcomes if o.status == "ingested")
    return HandbookIngest(report, sw.seconds, chunks)


def fresh_postgres(database: str, host: str = "127.0.0.1", user: str = "postgres") -> str:
    """Drop and re-create `database` on the local PostgreSQL server; returns its URL."""
    for command in (["dropdb", "--if-exists"], ["createdb"]):
        subprocess.run([*command, "-h", host, "-U", user, database], check=True)
    return f"postgres://{user}@{host}:5432/{database}"


def onnx_session(embedder: Any, *, spinning: bool) -> Any:
    """A second onnxruntime session on `embedder`'s model (LocalOnnxEmbedder) whose idle
    intra-op threads spin (`spinning`) or sleep (`session.intra_op.allow_spinning`)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = embedder._threads  # noqa: SLF001 - diagnostics only
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(
        str(embedder._files.model),  # noqa: SLF001
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )


def wait_for_quiet(
    max_wait_s: float = 60.0, threshold: float = QUIET_CORES, window_s: float = 3.0
) -> dict:
    """Wait (idle) until other processes use less than `threshold` cores over a window.

    Gives up after `max_wait_s` and says so; the measurement's own load figure still
    records how busy the machine was.
    """
    waited = 0.0
    while True:
        monitor = LoadMonitor()
        time.sleep(window_s)
        other = monitor.stop()["other_cores"]
        waited += window_s
        if other < threshold:
            return {"waited_s": round(waited, 1), "quiet": True, "other_cores": other}
        if waited >= max_wait_s:
            print(f"  (machine still busy after {waited:.0f} s: {other:.2f} other cores)")
            return {"waited_s": round(waited, 1), "quiet": False, "other_cores": other}


def _openblas():
    """numpy's bundled OpenBLAS (scipy-openblas build) via ctypes, or None."""
    import ctypes

    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
        for path in paths:
            lib = ctypes.CDLL(path)
            if hasattr(lib, "scipy_openblas_set_num_threads64_"):
                return lib
    except OSError:
        pass
    return None


@contextmanager
def blas_threads(n: int) -> Iterator[bool]:
    """Temporarily run numpy's BLAS with `n` threads; yields False if that isn't possible."""
    lib = _openblas()
    if lib is None:
        yield False
        return
    before = lib.scipy_openblas_get_num_threads64_()
    lib.scipy_openblas_set_num_threads64_(n)
    try:
        yield True
    finally:
        lib.scipy_openblas_set_num_threads64_(before)
