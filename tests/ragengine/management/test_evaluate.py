"""`manage.py evaluate` for CI: the summary on stdout (or JSON), exit 1 under a bar."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ragengine.models import EvalRun
from tests.ragengine.evaluation.conftest import eval_set  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def evaluate(*args) -> str:
    out = StringIO()
    call_command("evaluate", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _inline(settings):
    settings.ARANDU_EVAL_CONCURRENCY = 1


def test_prints_the_summary_per_target(eval_set):  # noqa: F811
    text = evaluate("handbook")
    run = EvalRun.objects.get()
    assert f"Run {run.pk} of handbook: done, 6 answers" in text
    assert "extractive" in text and "refusal_accura" in text and "%" in text


def test_json_summary_and_bars_that_pass(eval_set):  # noqa: F811
    data = json.loads(evaluate("handbook", "--json", "--fail-under", "refusal_accuracy=0%"))
    assert data["status"] == "done" and data["under_bar"] == []
    metrics = data["targets"]["extractive"]["metrics"]
    assert metrics["fact_recall"]["total"] == 6 and metrics["fact_recall"]["n"] == 4
    assert data["bars"] == {"refusal_accuracy": 0.0}


def test_a_bar_not_met_exits_non_zero_after_printing_the_summary(eval_set):  # noqa: F811
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "evaluate", "handbook", "--json", "--fail-under", "fact_recall=1.01", stdout=out
        )
    assert caught.value.returncode == 2  # a bar above 1 is a usage error
    with pytest.raises(CommandError) as caught:
        call_command(
            "evaluate", "handbook", "--json", "--fail-under", "hit_at_k=100%",
            "--fail-under", "token_f1=0.99", stdout=out,
        )  # fmt: skip
    assert caught.value.returncode == 1
    assert "extractive token_f1" in str(caught.value)
    assert json.loads(out.getvalue())["under_bar"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "No evaluation set named 'nope'"),
        (["handbook", "--target", "tier:Nope"], "There is no tier named 'Nope'"),
        (["handbook", "--fail-under", "fact_recall"], "use METRIC=VALUE"),
        (["handbook", "--fail-under", "speed=0.5"], "use METRIC=VALUE"),
        (["handbook", "--fail-under", "fact_recall=high"], "is not a number"),
        (["handbook", "--budget-cap", "lots"], "--budget-cap must be a number"),
    ],
)
def test_bad_arguments_are_usage_errors(eval_set, args, message):  # noqa: F811
    with pytest.raises(CommandError, match=message) as caught:
        evaluate(*args)
    assert caught.value.returncode == 2  # manage.py exits with it
    assert not EvalRun.objects.exists()
