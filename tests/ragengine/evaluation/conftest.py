"""Evaluation fixtures: the handbook with a small set of its example cases, and a model
endpoint answering from a local replay server (the OpenAI wire format, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragengine.evaluation.cases_io import eval_cases_import, parse_cases
from ragengine.llm.registry import reset_providers
from ragengine.models import EvalSet, ProviderEndpoint
from tests.ragengine.llm.replay_server import ReplayServer, Reply

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "evaluation" / "handbook.jsonl"
CHAT = "/v1/chat/completions"
# Two English, two Portuguese, one of each unanswerable: every kind of case, quickly.
SMALL = (
    "How many vacation days do I get per year?",
    "What is the minimum length for a password?",
    "Qual é o limite diário para alimentação em viagens a trabalho?",
    "Qual é a operadora do plano de saúde?",
    "What is the CEO's favourite colour?",
    "Qual é o preço das ações da Acme na bolsa?",
)


def example_cases(questions=SMALL):
    cases = parse_cases(EXAMPLE.read_bytes(), filename=EXAMPLE.name)
    return [c for c in cases if questions is None or c.question in questions]


@pytest.fixture
def eval_set(handbook) -> EvalSet:
    eval_set = EvalSet.objects.create(name="handbook")
    eval_set.knowledge_sets.set([handbook])
    eval_cases_import(eval_set=eval_set, cases=example_cases())
    return eval_set


@pytest.fixture(autouse=True)
def _one_question_at_a_time(settings):
    """Runs ask inline: other threads can't see a test's uncommitted rows (the concurrent
    test commits for real)."""
    settings.ARANDU_EVAL_CONCURRENCY = 1


@pytest.fixture(autouse=True)
def _fresh_providers(monkeypatch):
    monkeypatch.setenv("ARANDU_TEST_OPENAI_API_KEY", "sk-test-fake-key")
    reset_providers()
    yield
    reset_providers()


@pytest.fixture
def model_server():
    """Answers every chat request with a recorded completion citing source [1]."""
    with ReplayServer() as server:
        server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
        yield server


def endpoint_at(url: str, name: str = "stub") -> ProviderEndpoint:
    return ProviderEndpoint.objects.create(
        name=name,
        kind="openai",
        base_url=f"{url}/v1",
        api_key_env="ARANDU_TEST_OPENAI_API_KEY",
        max_retries=0,
        timeout_s=5.0,
    )


@pytest.fixture
def stub_endpoint(model_server) -> ProviderEndpoint:
    return endpoint_at(model_server.url)
