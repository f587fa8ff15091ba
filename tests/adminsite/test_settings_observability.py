"""The observability settings are read (bad values: tests/adminsite/test_settings.py); the
metrics folder follows ARANDU_METRICS_DIR, whatever a parent process left in the environment."""

from __future__ import annotations

from tests.adminsite.test_settings import load_settings


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
