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
