"""The shared provider-test fixtures, for every test in this directory."""

from tests.ragengine.llm.provider_fixtures import openai_key, server, sleep

__all__ = ["openai_key", "server", "sleep"]
