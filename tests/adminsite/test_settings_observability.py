"""The observability settings: bad values stop start-up naming the variable; the metrics
folder follows ARANDU_METRICS_DIR, whatever a parent process left in the environment."""

from __future__ import annotations

import pytest

from tests.adminsite.test_settings import load_settings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ARANDU_LOG_FORMAT": "xml"}, "ARANDU_LOG_FORMAT"),
        ({"ARANDU_METRICS_ALLOW": "10.0.0.0/8,not-a-network"}, "ARANDU_METRICS_ALLOW"),
        ({"ARANDU_METRICS_TOKEN": "short"}, "ARANDU_METRICS_TOKEN"),
        ({"ARANDU_WORKER_STALE_S": "30"}, "ARANDU_WORKER_STALE_S"),
        ({"ARANDU_SENTRY_SEND_QUESTIONS": "maybe"}, "ARANDU_SENTRY_SEND_QUESTIONS"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(tmp_path, env, message):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_json_logs_and_metrics_settings_are_read(tmp_path):
    result = load_settings(
        tmp_path,
        show="s.LOGGING['handlers']['console']['formatter'], s.ARANDU_METRICS_NETWORKS, "
        "__import__('os').environ['PROMETHEUS_MULTIPROC_DIR']",
        ARANDU_LOG_FORMAT="json",
        ARANDU_METRICS_ALLOW="10.0.0.0/8",
        ARANDU_METRICS_DIR=str(tmp_path / "m"),
        PROMETHEUS_MULTIPROC_DIR="/somewhere/a/parent/left",
    )
    assert result.returncode == 0, result.stderr
    formatter, networks, folder = result.stdout.split(" ", 1)[0], *result.stdout.rsplit(" ", 1)
    assert formatter == "json"
    assert "IPv4Network('10.0.0.0/8')" in networks
    assert folder.strip().startswith(f"{tmp_path / 'm'}/")
    assert (tmp_path / "m").is_dir()
