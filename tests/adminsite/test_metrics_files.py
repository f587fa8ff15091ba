"""The fast reader of the metric files says exactly what prometheus-client's own
`MultiProcessCollector` says, for every kind of metric the engine records."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from adminsite.metrics_files import FilesExposition, read_entries

ROOT = Path(__file__).resolve().parents[2]

RECORD = textwrap.dedent(
    """
    import sys
    from prometheus_client import Counter, Gauge, Histogram
    n = int(sys.argv[1])
    c = Counter("t_questions", "Questions.", ["door", "tier"], registry=None)
    h = Histogram("t_seconds", "Stage time.", ["stage"], buckets=(0.01, 0.1, 1), registry=None)
    g_max = Gauge("t_circuit", "Worst.", ["provider"], multiprocess_mode="livemax", registry=None)
    g_sum = Gauge("t_inflight", "Sum.", multiprocess_mode="livesum", registry=None)
    g_all = Gauge("t_rss", "Each.", multiprocess_mode="all", registry=None)
    g_min = Gauge("t_low", "Min.", multiprocess_mode="min", registry=None)
    g_new = Gauge("t_last", "Recent.", multiprocess_mode="mostrecent", registry=None)
    for i in range(n * 10):
        c.labels("slack" if i % 2 else 'quote"and\\\\newline\\n', f"tier-{i % 7}").inc(i)
        h.labels(["embed", "generate"][i % 2]).observe(i / 50)
    g_max.labels("openai").set(n)
    g_sum.set(n)
    g_all.set(n * 100)
    g_min.set(-n)
    g_new.set(n)
    """
)


def families(text: str) -> dict:
    return {
        f.name: (
            f.type,
            sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in f.samples),
        )
        for f in text_string_to_metric_families(text)
    }


def test_the_fast_reader_matches_prometheus_client(tmp_path):
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (1, 2, 3):
        subprocess.run(
            [sys.executable, "-c", RECORD, str(n)], env=environment, check=True, timeout=60
        )
    files = sorted(str(p) for p in tmp_path.glob("*.db"))
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    expected = generate_latest(registry).decode()

    exposition = FilesExposition()
    first = exposition.text(files)
    again = exposition.text(files)  # from the kept keys and prefixes

    assert families(first) == families(expected)
    assert again == first
    doors = {k[1][0][1] for k in families(first)["t_questions"][1]}
    assert doors == {"slack", 'quote"and\\newline\n'}  # escaped, still one line each


def test_a_file_cut_mid_entry_or_gone_is_read_up_to_what_is_whole(tmp_path):
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", RECORD, "1"], env=environment, check=True, timeout=60)
    (counter,) = tmp_path.glob("counter_*.db")
    whole = list(read_entries(str(counter)))
    data = bytearray(counter.read_bytes())
    used = int.from_bytes(data[:4], "little")
    data[:4] = (used + 40).to_bytes(4, "little")  # claims more than was written
    counter.write_bytes(bytes(data[: used + 10]))

    assert list(read_entries(str(counter))) == whole
    assert list(read_entries(str(tmp_path / "gone.db"))) == []
