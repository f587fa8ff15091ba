"""The metric files of every process, added up and written as Prometheus text, fast.

prometheus-client's own `MultiProcessCollector` decodes every key of every file as JSON
and escapes every label on every scrape: about a second for 10k label combinations on
this machine, twenty times the 50 ms a scrape may take. A file only ever grows (a key
keeps its place once written), so this reader indexes each file once: which series each
entry belongs to and where its value sits. A scrape then reads the files' bytes, picks
the values with numpy, adds them up per series and joins the lines it rendered before.
Same file format, same rules per metric type as prometheus-client
(tests/adminsite/test_metrics_files.py compares the two).
"""

from __future__ import annotations

import json
import math
import os
import struct
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

_INT = struct.Struct("i")
_DOUBLE = struct.Struct("d")
_SUMMED_GAUGES = ("sum", "livesum")


@dataclass(frozen=True, slots=True)
class _Series:
    metric: str  # the family: "arandu_questions"
    kind: str  # counter | gauge | histogram | summary
    mode: str  # a gauge's multiprocess mode
    sample: str  # "arandu_questions_total", "arandu_stage_seconds_bucket"
    labels: tuple[tuple[str, str], ...]  # sorted, without "le"
    le: float | None  # a histogram bucket's bound
    help: str
    prefix: str  # the rendered `sample{labels} `


@dataclass(slots=True)
class _FileIndex:
    """What one file holds, up to `parsed` bytes: per entry its series and the double
    index of its value (the timestamp follows it)."""

    parsed: int = 8
    head: bytes = b""  # the first entry's bytes: a file emptied and written again differs
    series: list[int] = field(default_factory=list)
    value_at: list[int] = field(default_factory=list)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def _entries(data: bytes, start: int, used: int) -> Iterator[tuple[bytes, int, int]]:
    """(raw key, value offset, end) of the whole entries in data[start:used]."""
    pos = start
    while pos + 4 <= used:
        length = _INT.unpack_from(data, pos)[0]
        if length <= 0 or pos + 4 + length > used:
            return  # a writer is adding this entry: read it next time
        key = data[pos + 4 : pos + 4 + length]
        value_at = pos + 4 + length + (8 - (length + 4) % 8)
        if value_at + 16 > used:
            return
        yield key, value_at, value_at + 16
        pos = value_at + 16


def read_entries(path: str) -> list[tuple[bytes, float, float]]:
    """(raw key, value, timestamp) of one file; nothing if it vanished (a reset)."""
    data = _read(path)
    if data is None:
        return []
    used = min(_INT.unpack_from(data, 0)[0], len(data))
    return [
        (key, _DOUBLE.unpack_from(data, at)[0], _DOUBLE.unpack_from(data, at + 8)[0])
        for key, at, _ in _entries(data, 8, used)
    ]


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return None
    return data if len(data) >= 8 else None


class FilesExposition:
    """Keeps the files' indexes and the series' rendered prefixes between scrapes; one
    per process, shared by its threads (a scrape at a time)."""

    def __init__(self) -> None:
        self._series: list[_Series] = []
        self._ids: dict[tuple, int] = {}
        self._files: dict[str, _FileIndex] = {}
        self._layout_cache: list = []
        self._layout_for = -1
        self._lock = threading.Lock()

    def _series_id(self, raw: bytes, kind: str, mode: str, pid: str) -> int:
        ident = (raw, kind, mode, pid if mode in ("all", "liveall") else "")
        found = self._ids.get(ident)
        if found is not None:
            return found
        metric, sample, labels, help_text = json.loads(raw.decode("utf-8"))
        le = labels.pop("le", None) if sample.endswith("_bucket") else None
        pairs = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        if mode in ("all", "liveall"):
            pairs = (*pairs, ("pid", pid))
        shown = (*pairs, ("le", _number(float(le)))) if le is not None else pairs
        rendered = ",".join(f'{k}="{_escape_label(v)}"' for k, v in shown)
        self._series.append(
            _Series(
                metric=metric,
                kind=kind,
                mode=mode,
                sample=sample,
                labels=pairs,
                le=float(le) if le is not None else None,
                help=help_text,
                prefix=f"{sample}{{{rendered}}} " if rendered else f"{sample} ",
            )
        )
        self._ids[ident] = len(self._series) - 1
        return len(self._series) - 1

    def _index(self, path: str, data: bytes) -> _FileIndex:
        name = os.path.basename(path)
        parts = name.split("_")
        kind = parts[0]
        mode = parts[1] if kind == "gauge" else ""
        pid = parts[-1][:-3]
        index = self._files.get(path)
        used = min(_INT.unpack_from(data, 0)[0], len(data))
        stale = index is not None and (
            used < index.parsed or data[8 : 8 + len(index.head)] != index.head
        )
        if index is None or stale:  # new, or emptied and written again
            index = self._files[path] = _FileIndex()
        for key, value_at, end in _entries(data, index.parsed, used):
            if not index.series:
                index.head = data[8 : 12 + len(key)]
            index.series.append(self._series_id(key, kind, mode, pid))
            index.value_at.append(value_at // 8)
            index.parsed = end
        return index

    def text(self, files: Iterable[str]) -> str:
        with self._lock:
            return self._text(list(files))

    def _text(self, files: list[str]) -> str:
        summed_ids: list[np.ndarray] = []
        summed_values: list[np.ndarray] = []
        other: dict[int, tuple[float, float]] = {}  # gauges kept by max/min/recent/each
        for path in files:
            data = _read(path)
            if data is None:
                continue
            index = self._index(path, data)
            if not index.series:
                continue
            doubles = np.frombuffer(data, dtype="<f8", count=len(data) // 8)
            at = np.fromiter(index.value_at, dtype=np.int64, count=len(index.value_at))
            values = doubles[at]
            first = self._series[index.series[0]]
            if first.kind != "gauge" or first.mode in _SUMMED_GAUGES:
                summed_ids.append(np.fromiter(index.series, dtype=np.int64))
                summed_values.append(values)
                continue
            stamps = doubles[at + 1]
            for sid, value, stamp in zip(
                index.series, values.tolist(), stamps.tolist(), strict=True
            ):
                other[sid] = _keep(self._series[sid].mode, other.get(sid), (value, stamp))
        present: dict[int, float] = {sid: v for sid, (v, _) in other.items()}
        if summed_ids:
            ids = np.concatenate(summed_ids)
            totals = np.bincount(ids, weights=np.concatenate(summed_values))
            seen = np.flatnonzero(np.bincount(ids))
            present.update(zip(seen.tolist(), totals[seen].tolist(), strict=True))
        return self._render(present)

    def _layout(self) -> list[tuple[str, _Series, list[int], list[list[int]]]]:
        """Per family, in name order: its first series, its plain series and its
        histograms' bucket groups (sorted by bound); rebuilt when series were added."""
        if self._layout_for == len(self._series):
            return self._layout_cache
        plain: dict[str, list[int]] = defaultdict(list)
        groups: dict[str, dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(list))
        for sid, series in enumerate(self._series):
            if series.le is None:
                plain[series.metric].append(sid)
            else:
                groups[series.metric][series.labels].append(sid)
        layout = []
        for metric in sorted(set(plain) | set(groups)):
            buckets = [
                sorted(group, key=lambda sid: self._series[sid].le)
                for group in groups[metric].values()
            ]
            head = self._series[(plain[metric] or buckets[0])[0]]
            layout.append((metric, head, plain[metric], buckets))
        self._layout_cache, self._layout_for = layout, len(self._series)
        return layout

    def _render(self, values: dict[int, float]) -> str:
        lines: list[str] = []
        series = self._series
        for metric, head, plain, buckets in self._layout():
            shown = [sid for sid in plain if sid in values]
            groups = [group for group in buckets if group[0] in values]
            if not shown and not groups:
                continue
            family = f"{metric}_total" if head.kind == "counter" else metric  # as the client
            lines.append(f"# HELP {family} {_escape_help(head.help)}")
            lines.append(f"# TYPE {family} {head.kind}")
            lines.extend(
                map(str.__add__, [series[sid].prefix for sid in shown], _numbers(values, shown))
            )
            for group in groups:
                running = 0.0
                for sid in group:
                    running += values.get(sid, 0.0)
                    lines.append(series[sid].prefix + _number(running))
                rendered = ",".join(f'{k}="{_escape_label(v)}"' for k, v in series[group[0]].labels)
                count = f"{metric}_count{{{rendered}}} " if rendered else f"{metric}_count "
                lines.append(count + _number(running))
        return "\n".join(lines) + "\n" if lines else ""


def _numbers(values: dict[int, float], ids: list[int]) -> Iterable[str]:
    picked = [values[sid] for sid in ids]
    if all(map(math.isfinite, picked)):
        return map(repr, picked)
    return map(_number, picked)


def _keep(mode: str, kept: tuple[float, float] | None, new: tuple[float, float]):
    if kept is None:
        return new
    if mode in ("max", "livemax"):
        return new if new[0] > kept[0] else kept
    if mode in ("min", "livemin"):
        return new if new[0] < kept[0] else kept
    if mode in ("mostrecent", "livemostrecent"):
        return new if new[1] > kept[1] else kept
    return new  # all/liveall: one series per process already
