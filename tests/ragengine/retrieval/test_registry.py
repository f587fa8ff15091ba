import pytest

from ragengine.llm.types import ProviderError
from ragengine.retrieval import registry
from ragengine.retrieval.embedders.openai_embedder import OpenAIEmbedder


def test_configured_remote_embedder_is_built_from_settings(settings):
    settings.ARANDU_EMBEDDER = "openai"
    settings.ARANDU_EMBEDDER_MODEL = "text-embedding-3-small"
    settings.ARANDU_EMBEDDER_URL = "http://127.0.0.1:9/v1"
    settings.ARANDU_EMBEDDER_DIMENSION = 512
    embedder = registry.get_embedder()
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.dimension == 512
    assert embedder.name.startswith("openai:text-embedding-3-small")


def test_store_instances_follow_the_data_dir(settings, tmp_path):
    first = registry.get_vector_store()
    settings.ARANDU_STORE_DIR = tmp_path / "elsewhere"
    assert registry.get_vector_store() is not first


def test_a_configured_embedder_key_variable_outside_the_allow_list_is_never_sent(
    settings, monkeypatch
):
    from tests.ragengine.llm.replay_server import ReplayServer, Reply

    monkeypatch.setenv("DJANGO_SECRET_KEY", "the-project-s-own-secret")
    settings.ARANDU_EMBEDDER = "openai"
    settings.ARANDU_EMBEDDER_MODEL = "text-embedding-3-small"
    settings.ARANDU_EMBEDDER_DIMENSION = 8
    settings.ARANDU_EMBEDDER_API_KEY_ENV = "DJANGO_SECRET_KEY"
    settings.ARANDU_API_KEY_ENV_ALLOWED = ["*_KEY"]
    with ReplayServer() as server:
        server.script("/v1/embeddings", Reply.from_fixture("openai_embeddings"))
        settings.ARANDU_EMBEDDER_URL = f"{server.url}/v1"

        with pytest.raises(ProviderError, match="never sent"):
            registry.get_embedder().embed_query("x")
        assert server.requests == []
