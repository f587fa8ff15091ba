"""The optional LLM judge: faithfulness and relevance per case from a chosen tier's model;
a judgement that can't be had is "not judged" with the reason, never NaN."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from ragengine.evaluation.judge import JudgeReplyError, parse_judgement
from ragengine.evaluation.runs import RunError, run_start
from ragengine.models import EvalResult, Tier, TierModel, UsageRecord
from tests.ragengine.evaluation.conftest import CHAT, endpoint_at
from tests.ragengine.llm.replay_server import ReplayServer, Reply, load_fixture

pytestmark = pytest.mark.django_db


def reply_saying(text: str) -> Reply:
    body = copy.deepcopy(load_fixture("openai_chat_completion")["response"]["body"])
    body["choices"][0]["message"]["content"] = text
    return Reply(body=body)


@pytest.fixture
def judge_server():
    with ReplayServer() as server:
        yield server


def judge_tier(url: str) -> Tier:
    tier = Tier.objects.create(name="Judge")
    TierModel.objects.create(
        tier=tier, endpoint=endpoint_at(url, name="judge"), model="gpt-4o-mini"
    )
    return tier


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"faithfulness": 1, "relevance": 0.5, "reason": "ok"}', (1.0, 0.5, "ok")),
        ('Here: {"faithfulness": 0.25, "relevance": 1.0}\nThanks', (0.25, 1.0, "")),
    ],
)
def test_judgements_are_read_from_the_reply(text, expected):
    assert parse_judgement(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("Looks faithful to me.", "no JSON object"),
        ('{"faithfulness": 0.9, "relevance": }', "not valid JSON"),
        ('{"faithfulness": 9, "relevance": 1}', "faithfulness 9 is outside 0–1"),
        ('{"faithfulness": "high", "relevance": 1}', "no number for faithfulness"),
        ('{"faithfulness": true, "relevance": 1}', "no number for faithfulness"),
        ('{"faithfulness": NaN, "relevance": 1}', "outside 0–1"),
    ],
)
def test_replies_that_are_not_judgements_say_why(text, reason):
    with pytest.raises(JudgeReplyError, match=reason):
        parse_judgement(text)


def judged_rows(run):
    return list(EvalResult.objects.filter(run=run).order_by("position"))


def test_a_run_with_a_judge_grades_the_answers_it_can(eval_set, judge_server):
    judge_server.script(
        CHAT, reply_saying('{"faithfulness": 0.75, "relevance": 1, "reason": "mostly"}')
    )
    run = run_start(
        eval_set=eval_set, specs=["extractive"], judge_tier=judge_tier(judge_server.url)
    )

    run.refresh_from_db()
    rows = judged_rows(run)
    graded = [r for r in rows if r.judge.get("judged")]
    assert graded and all(r.judge["faithfulness"] == 0.75 for r in graded)
    assert all(r.judge == {"judged": False, "reason": "not judged: the answer declined"}
               for r in rows if r.must_refuse)  # fmt: skip
    summary = run.summary["targets"]["extractive"]
    assert summary["judged"] == len(graded)
    assert summary["metrics"]["faithfulness"] == {"value": 0.75, "n": len(graded), "total": 6}
    # The judge saw the cited sources' text and the answer.
    sent = judge_server.requests_to(CHAT)[0].json["messages"][1]["content"]
    assert "Cited sources:\n[1]" in sent and "Answer:\n" in sent
    spend = UsageRecord.objects.filter(mode="judge", channel=f"eval:run:{run.pk}")
    assert spend.count() == len(graded) and sum(r.cost for r in spend) > 0


@pytest.mark.parametrize(
    "reply, reason",
    [
        (reply_saying("I think it is fine."), "not judged: the judge's reply had no JSON object"),
        (Reply.from_fixture("openai_error_500"), "not judged: judge:gpt-4o-mini failed"),
    ],
)
def test_an_unusable_judge_leaves_cases_not_judged_with_the_reason(
    eval_set, judge_server, reply, reason
):
    judge_server.script(CHAT, reply)
    run = run_start(
        eval_set=eval_set, specs=["extractive"], judge_tier=judge_tier(judge_server.url)
    )

    run.refresh_from_db()
    assert run.status == "done"
    answered = [r for r in judged_rows(run) if not r.must_refuse and r.sources]
    assert answered and all(r.judge["reason"].startswith(reason) for r in answered)
    summary = run.summary["targets"]["extractive"]
    assert summary["judged"] == 0
    assert summary["metrics"]["faithfulness"] == {"value": None, "n": 0, "total": 6}
    assert "NaN" not in json.dumps(run.summary)  # JSON never carries a NaN


def test_the_judge_never_spends_past_the_runs_cap(eval_set, judge_server):
    judge_server.script(CHAT, reply_saying('{"faithfulness": 1, "relevance": 1}'))
    run = run_start(
        eval_set=eval_set,
        specs=["extractive"],
        judge_tier=judge_tier(judge_server.url),
        budget_cap=Decimal("0.00000001"),
    )
    reasons = {r.judge.get("reason") for r in judged_rows(run) if not r.must_refuse and r.sources}
    assert reasons == {"not judged: the run's budget for the judge is spent"}
    assert judge_server.requests_to(CHAT) == []


def test_a_judge_tier_without_a_usable_model_is_refused_at_start(eval_set):
    with pytest.raises(RunError, match="has no model with a price"):
        run_start(eval_set=eval_set, specs=["extractive"], judge_tier=Tier.objects.create(name="J"))
