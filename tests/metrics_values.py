"""Read the metric values this test process recorded (its own multiprocess files), so
tests running in parallel in other processes never change what a test sees."""

from __future__ import annotations

import glob
import os

from prometheus_client.multiprocess import MultiProcessCollector


def own_value(sample: str, **labels: str) -> float:
    """The sum of `sample` (e.g. "arandu_questions_total") over this process's series
    whose labels include `labels`."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    files = glob.glob(os.path.join(folder, f"*_{os.getpid()}.db"))
    total = 0.0
    for metric in MultiProcessCollector.merge(files, accumulate=True):
        for s in metric.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def scraped_value(text: str, sample: str, **labels: str) -> float | None:
    """A sample's value in a Prometheus text exposition (None when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None
