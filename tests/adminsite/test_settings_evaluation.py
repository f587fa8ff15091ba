"""The evaluation settings fail loudly on bad values, naming the variable."""

from __future__ import annotations

import pytest

from tests.adminsite.test_settings import load_settings


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ARANDU_EVAL_BUDGET_CAP": "lots"}, "ARANDU_EVAL_BUDGET_CAP"),
        ({"ARANDU_EVAL_BUDGET_CAP": "-1"}, "ARANDU_EVAL_BUDGET_CAP"),
        ({"ARANDU_EVAL_CONCURRENCY": "0"}, "ARANDU_EVAL_CONCURRENCY"),
        ({"ARANDU_EVAL_STALE_MINUTES": "0"}, "ARANDU_EVAL_STALE_MINUTES"),
        ({"ARANDU_PUBLIC_URL": "arandu.acme.example"}, "ARANDU_PUBLIC_URL"),
    ],
)
def test_bad_evaluation_values_fail_loudly(tmp_path, env, message):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr
