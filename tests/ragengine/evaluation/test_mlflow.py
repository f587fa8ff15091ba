"""With MLFLOW_TRACKING_URI set, each finished run is also in MLflow (a local file store
here): a parent run with the settings and the summary, a child run per target with its
metrics. An MLflow that fails never fails the evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragengine.evaluation.runs import run_start

pytestmark = pytest.mark.django_db
mlflow = pytest.importorskip("mlflow")


def test_a_finished_run_is_logged_with_a_child_run_per_target(
    eval_set, settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3: the file store on request
    settings.MLFLOW_TRACKING_URI = (tmp_path / "mlruns").as_uri()
    settings.ARANDU_MLFLOW_EXPERIMENT = "arandu-test"

    run = run_start(eval_set=eval_set, specs=["extractive"])

    run.refresh_from_db()
    logged = run.summary["mlflow"]
    client = mlflow.tracking.MlflowClient(tracking_uri=settings.MLFLOW_TRACKING_URI)
    parent = client.get_run(logged["run_id"])
    assert parent.info.status == "FINISHED"
    assert (
        parent.data.params["eval_set"] == "handbook" and parent.data.params["use_cache"] == "False"
    )
    assert parent.data.tags["arandu.run_id"] == str(run.pk)
    child = client.get_run(logged["targets"]["extractive"])
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    target = run.summary["targets"]["extractive"]
    assert child.data.metrics["fact_recall"] == pytest.approx(
        target["metrics"]["fact_recall"]["value"]
    )
    assert child.data.metrics["cases"] == 6
    assert child.data.metrics["latency_total_p95_ms"] == pytest.approx(
        target["latency_ms"]["total"]["p95"]
    )
    assert child.data.metrics["token_f1"] == pytest.approx(target["metrics"]["token_f1"]["value"])
    artifact = client.download_artifacts(parent.info.run_id, "summary.json", str(tmp_path))
    assert json.loads(Path(artifact).read_text())["targets"]["extractive"]["cases"] == 6


def test_mlflow_failing_is_recorded_and_the_run_still_done(
    eval_set, settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the store should be")
    settings.MLFLOW_TRACKING_URI = blocked.as_uri()

    run = run_start(eval_set=eval_set, specs=["extractive"])

    run.refresh_from_db()
    assert run.status == "done"
    assert run.summary["mlflow"]["error"]


def test_without_a_tracking_uri_nothing_is_logged(eval_set, settings):
    settings.MLFLOW_TRACKING_URI = ""
    run = run_start(eval_set=eval_set, specs=["extractive"])
    run.refresh_from_db()
    assert "mlflow" not in run.summary
