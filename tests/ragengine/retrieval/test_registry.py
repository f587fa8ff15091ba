import pytest

from ragengine.llm.types import ProviderError
from ragengine.retrieval import registry
from ragengine.retrieval.embedders.openai_embedder import OpenAIEmbedder
from ragengine.retrieval.stores.weaviate_store import WeaviateConfig


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


def weaviate_settings(settings, **values) -> None:
    defaults = {
        "WEAVIATE_URL": "https://vectors.example.internal",
        "WEAVIATE_GRPC_PORT": 443,
        "WEAVIATE_GRPC_HOST": "grpc-vectors.example.internal",
        "WEAVIATE_API_KEY_ENV": "ARANDU_TEST_WEAVIATE_KEY",
        "WEAVIATE_TIMEOUT_S": 7.5,
        "WEAVIATE_COLLECTION": "AranduOther",
    }
    for name, value in {**defaults, **values}.items():
        setattr(settings, name, value)


def test_the_weaviate_connection_is_read_from_settings(settings, monkeypatch):
    """One reading of WEAVIATE_* for the serving store and for migrate_store."""
    weaviate_settings(settings)
    assert registry.weaviate_config() == WeaviateConfig(
        url="https://vectors.example.internal",
        grpc_port=443,
        grpc_host="grpc-vectors.example.internal",
        api_key_env="ARANDU_TEST_WEAVIATE_KEY",
        timeout_s=7.5,
        collection="AranduOther",
    )

    # Blank values mean the documented defaults, as WeaviateConfig.from_env reads them.
    weaviate_settings(
        settings, WEAVIATE_GRPC_HOST="", WEAVIATE_API_KEY_ENV="", WEAVIATE_COLLECTION=""
    )
    blank = registry.weaviate_config()
    assert (blank.grpc_target, blank.api_key_env, blank.collection) == (
        "vectors.example.internal:443",
        "WEAVIATE_API_KEY",
        "AranduChunk",
    )

    # The settings decide, not a variable they did not read (tests override settings).
    monkeypatch.setenv("WEAVIATE_URL", "http://elsewhere.example.internal:8080")
    weaviate_settings(settings, WEAVIATE_URL="")
    with pytest.raises(ValueError, match="WEAVIATE_URL is not set"):
        registry.weaviate_config()
    weaviate_settings(settings, WEAVIATE_COLLECTION="chunks")
    with pytest.raises(ValueError, match="WEAVIATE_COLLECTION must start with a capital"):
        registry.weaviate_config()


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


def test_the_default_embedder_is_use_multilingual(settings):
    """The settings' defaults build USE-multilingual v3 (docs/PERFORMANCE.md section 19)."""
    from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

    settings.ARANDU_EMBEDDER = "local"
    settings.ARANDU_EMBEDDER_MODEL = ""
    embedder = registry.get_embedder()
    assert isinstance(embedder, UseMultilingualEmbedder)
    assert embedder.name == "local:universal-sentence-encoder-multilingual-v3"
    assert embedder.dimension == 512


def test_local_models_are_picked_by_name_and_rebuilt_from_a_sets_embedder(settings):
    settings.ARANDU_EMBEDDER = "local"
    settings.ARANDU_EMBEDDER_MODEL = "all-minilm-l6-v2"
    minilm = registry.get_embedder()
    assert minilm.name == "local:all-MiniLM-L6-v2-onnx-int8"
    assert registry.embedder_named(minilm.name) is minilm
    use = registry.embedder_named("local:universal-sentence-encoder-multilingual-v3")
    assert use is not None and use.dimension == 512
    assert registry.embedder_named("openai:text-embedding-3-small") is None
    with pytest.raises(ValueError, match="Unknown local embedding model"):
        registry.local_embedder("bert-huge")


def test_each_vector_space_is_its_own_store(settings, tmp_path):
    settings.ARANDU_STORE_DIR = tmp_path / "store"
    space = registry.space_name("local:universal-sentence-encoder-multilingual-v3")
    assert space == "local_universal_sentence_encoder_multilingual_v3"
    main, other = registry.get_vector_store(), registry.get_vector_store(space=space)
    assert main is not other
    assert other.path == tmp_path / "store" / "spaces" / space
    with pytest.raises(ValueError, match="Not a vector space name"):
        registry.get_vector_store(space="../elsewhere")


def test_a_weaviate_space_is_a_collection_beside_the_configured_one(settings, monkeypatch):
    weaviate_settings(settings, WEAVIATE_COLLECTION="AranduChunk")
    settings.ARANDU_VECTOR_STORE = "weaviate"
    seen = []
    monkeypatch.setattr(registry, "_weaviate_store", lambda config: seen.append(config))
    registry.get_vector_store(space="local_use")
    registry.get_vector_store()
    assert [c.collection for c in seen] == ["AranduChunk_local_use", "AranduChunk"]
