"""OpenAI and Ollama embedders against a local server replaying real-format responses."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ragengine.llm.resilience import CircuitBreaker
from ragengine.llm.types import CircuitOpen, ProviderConfig, ProviderError
from ragengine.retrieval.embedders.ollama_embedder import OllamaEmbedder
from ragengine.retrieval.embedders.openai_embedder import OpenAIEmbedder
from ragengine.retrieval.types import Embedder
from tests.ragengine.llm import provider_fixtures as shared
from tests.ragengine.llm.provider_fixtures import OPENAI_FAKE_KEY as FAKE_KEY
from tests.ragengine.llm.provider_fixtures import OPENAI_KEY_ENV as KEY_ENV
from tests.ragengine.llm.provider_fixtures import fast_retries
from tests.ragengine.llm.replay_server import FakeClock, Reply, load_fixture

EMBEDDINGS = "/v1/embeddings"
EMBED = "/api/embed"

# The shared fixtures, bound here for pytest to find (the llm conftest does not reach here).
server, sleep, openai_key = shared.server, shared.sleep, shared.openai_key
# Every test runs with a fake key and, at the end, checks no log record leaked it.
pytestmark = pytest.mark.usefixtures("openai_key")


def openai_embedder(server, sleep, *, dimension: int = 8, **kwargs) -> OpenAIEmbedder:
    config = ProviderConfig(
        name="openai-test", kind="openai", base_url=f"{server.url}/v1", api_key_env=KEY_ENV
    )
    policy = fast_retries(sleep, max_wait_s=0.02, jitter_s=0.0)
    return OpenAIEmbedder(
        config, "text-embedding-3-small", dimension, retry_policy=policy, **kwargs
    )


def ollama_embedder(server, sleep, *, dimension: int = 384) -> OllamaEmbedder:
    config = ProviderConfig(name="local-ollama", kind="ollama", base_url=server.url)
    policy = fast_retries(sleep, max_wait_s=0.02, jitter_s=0.0)
    return OllamaEmbedder(config, "all-minilm", dimension, retry_policy=policy)


def embeddings_reply(data: list[dict]) -> Reply:
    """The recorded response cut down to `data`, re-indexed as the API would."""
    reply = Reply.from_fixture("openai_embeddings")
    body = copy.deepcopy(reply.body)
    body["data"] = [dict(item, index=i) for i, item in enumerate(data)]
    return Reply(status=200, headers=reply.headers, body=body)


def test_openai_embedder_sends_the_request_and_normalises(server, sleep):
    fixture = load_fixture("openai_embeddings")
    server.script(EMBEDDINGS, Reply.from_fixture("openai_embeddings"))
    embedder = openai_embedder(server, sleep)
    assert isinstance(embedder, Embedder)
    assert embedder.name == "openai:text-embedding-3-small@8"
    assert embedder.dimension == 8
    texts = fixture["request"]["json"]["input"]

    vectors = embedder.embed_documents(texts)

    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    raw = np.array([d["embedding"] for d in fixture["response"]["body"]["data"]])
    np.testing.assert_allclose(vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5)
    assert vectors[2] @ vectors[0] > vectors[2] @ vectors[1], "question sits near its passage"
    (sent,) = server.requests_to(EMBEDDINGS)
    assert sent.json == fixture["request"]["json"]
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_openai_embedder_batches_and_keeps_the_input_order(server, sleep):
    data = load_fixture("openai_embeddings")["response"]["body"]["data"]
    # The API may list items in any order; `index` says which input each belongs to.
    first = embeddings_reply(data[:2])
    first.body["data"].reverse()
    server.script(EMBEDDINGS, first, embeddings_reply(data[2:]))
    embedder = openai_embedder(server, sleep, batch_size=2)

    vectors = embedder.embed_documents(["a", "", "c"])

    batches = [r.json["input"] for r in server.requests_to(EMBEDDINGS)]
    assert batches == [["a", " "], ["c"]], "empty text is sent as a space (the API rejects it)"
    raw = np.array([d["embedding"] for d in data], dtype=np.float32)
    np.testing.assert_allclose(vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5)


def test_openai_embedder_query_and_empty_input(server, sleep):
    data = load_fixture("openai_embeddings")["response"]["body"]["data"]
    server.script(EMBEDDINGS, embeddings_reply(data[2:]))
    embedder = openai_embedder(server, sleep)

    assert embedder.embed_documents([]).shape == (0, 8)
    query = embedder.embed_query("How many vacation days do I get?")
    assert query.shape == (8,) and query.dtype == np.float32
    assert len(server.requests) == 1


def test_openai_embedder_retries_transient_errors(server, sleep):
    server.script(
        EMBEDDINGS, Reply.from_fixture("openai_error_500"), Reply.from_fixture("openai_embeddings")
    )
    embedder = openai_embedder(server, sleep)

    vectors = embedder.embed_documents(["a", "b", "c"])

    assert vectors.shape == (3, 8)
    assert len(server.requests_to(EMBEDDINGS)) == 2
    assert len(sleep.waits) == 1


def test_openai_embedder_rejects_a_dimension_mismatch(server, sleep):
    server.script(EMBEDDINGS, Reply.from_fixture("openai_embeddings"))
    embedder = openai_embedder(server, sleep, dimension=16)

    with pytest.raises(ProviderError, match="expected \\(3, 16\\)") as caught:
        embedder.embed_documents(["a", "b", "c"])
    assert caught.value.transient is False


def test_openai_embedder_goes_through_its_breaker(server, sleep):
    server.script(EMBEDDINGS, Reply.from_fixture("openai_error_500"))
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=FakeClock())
    embedder = openai_embedder(server, sleep, breaker=breaker)

    with pytest.raises(ProviderError):
        embedder.embed_query("x")
    with pytest.raises(CircuitOpen):
        embedder.embed_query("x")
    assert len(server.requests) == 2  # max_retries=2 would have allowed 3


def test_token_counts_never_undercount(server, sleep):
    text = "Full-time employees accrue 1.5 vacation days per month."
    # 14 tokens in cl100k_base, the encoding of OpenAI's embedding models.
    assert openai_embedder(server, sleep).count_tokens(text) >= 14
    assert ollama_embedder(server, sleep).count_tokens(text) >= 14
    assert openai_embedder(server, sleep).count_tokens("") == 0


def test_ollama_embedder_embeds_and_normalises(server, sleep):
    fixture = load_fixture("ollama_embed")
    server.script(EMBED, Reply.from_fixture("ollama_embed"))
    embedder = ollama_embedder(server, sleep)
    assert isinstance(embedder, Embedder)
    assert embedder.name == "ollama:all-minilm"

    vectors = embedder.embed_documents(fixture["request"]["json"]["input"])

    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        vectors, np.array(fixture["response"]["body"]["embeddings"]), atol=1e-6
    )
    (sent,) = server.requests_to(EMBED)
    assert sent.json["model"] == "all-minilm"
    assert sent.json["input"] == fixture["request"]["json"]["input"]


def test_ollama_embedder_missing_model_is_readable(server, sleep):
    missing = {"error": 'model "all-minilm" not found, try pulling it first'}
    server.script(EMBED, Reply(status=404, body=missing))
    embedder = ollama_embedder(server, sleep)

    with pytest.raises(ProviderError, match="ollama pull all-minilm") as caught:
        embedder.embed_query("x")
    assert caught.value.transient is False
    assert len(server.requests) == 1


def test_ollama_embedder_rejects_a_dimension_mismatch(server, sleep):
    server.script(EMBED, Reply.from_fixture("ollama_embed"))
    embedder = ollama_embedder(server, sleep, dimension=768)

    with pytest.raises(ProviderError, match="dimension"):
        embedder.embed_documents(["a", "b"])


@pytest.mark.parametrize("variable", ["SLACK_BOT_TOKEN", "DJANGO_SECRET_KEY", "DATABASE_URL"])
def test_an_embedder_never_sends_a_variable_outside_the_allow_list(
    server, sleep, monkeypatch, caplog, variable
):
    monkeypatch.setenv(variable, "the-project-s-own-secret")
    server.script(EMBEDDINGS, Reply.from_fixture("openai_embeddings"))
    config = ProviderConfig(
        name="openai-test", kind="openai", base_url=f"{server.url}/v1", api_key_env=variable
    )
    embedder = OpenAIEmbedder(config, "text-embedding-3-small", 8, retry_policy=fast_retries(sleep))

    with pytest.raises(ProviderError, match=variable) as caught:
        embedder.embed_query("x")

    assert caught.value.transient is False
    assert server.requests == []
    shared.assert_not_logged(caplog, "the-project-s-own-secret")
