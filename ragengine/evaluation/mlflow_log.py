"""Each finished evaluation run, also in MLflow when MLFLOW_TRACKING_URI is set.

One MLflow run per evaluation run (experiment ARANDU_MLFLOW_EXPERIMENT) with the run's
settings as parameters and its summary as an artifact, and one child run per target with
the target's scores, latency, tokens and cost as metrics: MLflow's run comparison is then
the model benchmark. Logging never fails an evaluation: an MLflow error is kept in the
summary (`summary["mlflow"]["error"]`) and logged.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from django.conf import settings

from ragengine.evaluation.summary import QUALITY_METRICS
from ragengine.models import EvalRun

logger = logging.getLogger(__name__)

_STATUS = {"done": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def _metrics(target: dict[str, Any]) -> dict[str, float]:
    values: dict[str, float | None] = {
        name: target.get("metrics", {}).get(name, {}).get("value")
        for name in (*QUALITY_METRICS, "faithfulness", "relevance", "failure_rate")
    }
    for stage, data in target.get("latency_ms", {}).items():
        values[f"latency_{stage}_p50_ms"] = data.get("p50")
        values[f"latency_{stage}_p95_ms"] = data.get("p95")
    values |= {
        "cases": target.get("cases"),
        "judged": target.get("judged"),
        "tokens_in": target.get("tokens_in"),
        "tokens_out": target.get("tokens_out"),
        "cost": float(target.get("cost") or 0),
        "cost_per_case": float(target["cost_per_case"]) if target.get("cost_per_case") else None,
    }
    return {_KEY.sub("_", k): float(v) for k, v in values.items() if v is not None}


def run_log_to_mlflow(*, run: EvalRun) -> dict[str, Any] | None:
    """Log `run`; returns what to keep in its summary (ids, or the error), None when
    MLflow is not configured."""
    uri = settings.MLFLOW_TRACKING_URI
    if not uri:
        return None
    try:
        return _log(run, uri)
    except Exception as exc:  # an MLflow problem must never fail the evaluation
        logger.exception("mlflow logging failed", extra={"run_id": run.pk})
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def _log(run: EvalRun, uri: str) -> dict[str, Any]:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    name = settings.ARANDU_MLFLOW_EXPERIMENT
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    now = int(time.time() * 1000)
    base_tags = {
        "arandu.run_id": str(run.pk),
        "arandu.eval_set": run.eval_set.name,
        "arandu.status": run.status,
    }
    parent = client.create_run(
        experiment_id,
        run_name=f"{run.eval_set.name} run {run.pk}",
        tags=base_tags | {"arandu.flagged": str(run.flagged).lower()},
    )
    params = {
        "eval_set": run.eval_set.name,
        "targets": ", ".join(run.summary.get("targets", {})),
        "use_cache": run.use_cache,
        "budget_cap": run.budget_cap,
        "k": run.k,
        "concurrency": run.concurrency,
        "cases_total": run.cases_total,
    }
    client.log_batch(parent.info.run_id, params=[Param(k, str(v)[:500]) for k, v in params.items()])
    client.log_text(parent.info.run_id, json.dumps(run.summary, indent=2), "summary.json")
    children = {}
    for spec, target in run.summary.get("targets", {}).items():
        child = client.create_run(
            experiment_id,
            run_name=spec,
            tags=base_tags | {"arandu.target": spec, "mlflow.parentRunId": parent.info.run_id},
        )
        client.log_batch(
            child.info.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in _metrics(target).items()],
            params=[Param("target", spec)],
        )
        client.set_terminated(child.info.run_id, status=_STATUS.get(run.status, "FINISHED"))
        children[spec] = child.info.run_id
    client.set_terminated(parent.info.run_id, status=_STATUS.get(run.status, "FINISHED"))
    logger.info("run logged to mlflow", extra={"run_id": run.pk, "mlflow_run": parent.info.run_id})
    return {"experiment_id": experiment_id, "run_id": parent.info.run_id, "targets": children}
