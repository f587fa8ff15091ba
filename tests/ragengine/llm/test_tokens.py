"""Token counting: exact and offline for OpenAI families, a safe estimate for the rest."""

from __future__ import annotations

import gzip
import sys
import warnings
from importlib import resources
from pathlib import Path

import pytest

from ragengine.llm import tokens
from ragengine.llm.tokens import (
    CL100K,
    O200K,
    count_tokens,
    encoding_for,
    safe_estimate,
    tiktoken_cache_file,
    tokenizer_for,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "handbook"

MIXED_PARAGRAPH = (
    "Política de férias: cada colaborador tem direito a 30 dias corridos por ano, que podem "
    "ser divididos em até três períodos (um deles com pelo menos 14 dias). Employees on the "
    "US payroll get 15 vacation days per year; unused days roll over up to 5 days. Pedidos "
    "de reembolso acima de R$ 1.500,00 precisam da aprovação do gestor — see section 4.2 of "
    "the Expense Policy (https://intranet.acme.com/rh/reembolso?lang=pt-BR)."
)
# Text that a flat chars/3 estimate undercounts badly.
HARD_TEXTS = {
    "uuids": " ".join(["3f2b9c1e-8a7d-4e2f-9b1c-0d5e6f7a8b9c"] * 10),
    "hashes": "sha256 223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7 " * 5,
    "base64": "Y2wxMDBrX2Jhc2UudGlrdG9rZW4gaXMgdGhlIGVuY29kaW5nIHVzZWQgYnkgR1BULTQ=" * 5,
    "numbers": "Tel: (11) 3456-7890, CPF 123.456.789-00, R$ 1.234,56 em 12/03/2024 " * 5,
    "code": "def f(x):\n    return {'a': [1, 2, 3], \"b\": x**2}  # comment\n" * 5,
    "russian": "Привет, как дела? Это тестовое предложение на русском языке. " * 3,
    "japanese": "日本語のテキストはトークンが多くなります。東京都の天気は晴れです。" * 3,
    "emoji": "Great job 🎉🎉 👍🏽 🚀 ✅ ❤️ " * 5,
    "special-token text": "<|endoftext|> ignore this <|im_start|>system",
}


@pytest.fixture
def fresh_counters(monkeypatch):
    """Counters are cached per family; tests that change what is installed start clean,
    and an encoding tiktoken loads here must not stay in its registry for later tests."""
    import tiktoken.registry

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    tokens._counter_for_encoding.cache_clear()
    yield
    tokens._counter_for_encoding.cache_clear()


def _real_counts(text: str) -> dict[str, int]:
    return {
        "cl100k": count_tokens(text, model="gpt-4"),
        "o200k": count_tokens(text, model="gpt-4o"),
    }


# Token ids published in OpenAI's cookbook ("How to count tokens with tiktoken").
@pytest.mark.parametrize(
    ("text", "cl100k", "o200k"),
    [
        ("hello world", 2, 2),
        ("tiktoken is great!", 6, 6),
        ("antidisestablishmentarianism", 6, 6),
        ("2 + 2 = 4", 7, 7),
        ("お誕生日おめでとう", 9, 8),
        ("", 0, 0),
    ],
)
def test_openai_families_count_exactly(text: str, cl100k: int, o200k: int) -> None:
    assert count_tokens(text, model="gpt-4") == cl100k
    assert count_tokens(text, model="gpt-3.5-turbo") == cl100k
    assert count_tokens(text, model="gpt-4o-mini") == o200k
    assert count_tokens(text, model="gpt-4.1") == o200k


def test_real_encoder_reproduces_published_token_ids() -> None:
    """Same ids as tiktoken, not just the same count (the files are OpenAI's own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # bpe-openai's data loading
        import bpe_openai

    text = "tiktoken is great!"
    assert bpe_openai.get_encoding(CL100K).encode_ordinary(text) == [83, 1609, 5963, 374, 2294, 0]
    assert bpe_openai.get_encoding(O200K).encode_ordinary(text) == [83, 8251, 2488, 382, 2212, 0]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", O200K),
        ("gpt-4o-mini-2024-07-18", O200K),
        ("chatgpt-4o-latest", O200K),
        ("GPT-4.1-nano", O200K),
        ("gpt-5-mini", O200K),
        ("o1", O200K),
        ("o3-mini", O200K),
        ("o4-mini", O200K),
        ("openai/gpt-4o", O200K),
        ("ft:gpt-4o-mini:acme::abc123", O200K),
        ("gpt-oss:20b", O200K),
        ("gpt-4", CL100K),
        ("gpt-4-turbo", CL100K),
        ("gpt-3.5-turbo-0125", CL100K),
        ("gpt-35-turbo", CL100K),
        ("text-embedding-3-small", CL100K),
        ("llama3.2:3b", None),
        ("qwen2.5:7b", None),
        ("mistral", None),
        ("claude-3-5-sonnet-latest", None),
        ("gemini-2.0-flash", None),
        ("olmo2", None),
        ("", None),
    ],
)
def test_encoding_for_model_names(model: str, expected: str | None) -> None:
    assert encoding_for(model) == expected


def test_counters_are_shared_per_family() -> None:
    assert tokenizer_for("gpt-4o") is tokenizer_for("gpt-4.1-mini")
    assert tokenizer_for("gpt-4") is tokenizer_for("gpt-3.5-turbo")
    assert tokenizer_for("gpt-4o") is not tokenizer_for("gpt-4")


def test_unknown_models_use_the_safe_estimate() -> None:
    assert tokenizer_for("llama3.1:8b") is safe_estimate
    assert tokenizer_for("some-new-model") is safe_estimate
    assert count_tokens(MIXED_PARAGRAPH, model="qwen2.5") == safe_estimate(MIXED_PARAGRAPH)


def test_estimate_is_at_least_the_real_count_on_mixed_portuguese_english() -> None:
    estimate = safe_estimate(MIXED_PARAGRAPH)
    real = _real_counts(MIXED_PARAGRAPH)
    assert estimate >= max(real.values()), (estimate, real)


@pytest.mark.parametrize("name", sorted(HARD_TEXTS))
def test_estimate_is_safe_where_chars_over_three_is_not(name: str) -> None:
    text = HARD_TEXTS[name]
    assert safe_estimate(text) >= max(_real_counts(text).values())


@pytest.mark.parametrize(
    "filename", ["employee-handbook.md", "politica-de-reembolso.md", "faq-export.jsonl"]
)
def test_estimate_is_safe_but_not_absurd_on_handbook_text(filename: str) -> None:
    text = (EXAMPLES / filename).read_text(encoding="utf-8")
    real = max(_real_counts(text).values())
    for paragraph in (p for p in text.split("\n\n") if p.strip()):
        assert safe_estimate(paragraph) >= max(_real_counts(paragraph).values()), paragraph
    # The over-count is the price of safety; more than 2x would waste a local model's context.
    assert real <= safe_estimate(text) <= 2 * real


def test_estimate_never_exceeds_the_byte_bound() -> None:
    for text in ("a", "😀", "日本", "x" * 50, "1", ""):
        assert safe_estimate(text) <= len(text.encode()) + 1


def test_oversized_input_falls_back_to_the_estimate_instead_of_raising() -> None:
    text = "palavra " * 140_000  # over bpe-openai's 1M-character input limit
    assert count_tokens(text, model="gpt-4o") == safe_estimate(text)


def _block_bpe_openai(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "bpe_openai", None)  # import now raises ImportError


def _fail_if_tiktoken_loads(monkeypatch) -> None:
    import tiktoken

    def refuse(name: str):
        raise AssertionError(f"tiktoken.get_encoding({name!r}) would download the file")

    monkeypatch.setattr(tiktoken, "get_encoding", refuse)


def test_without_bpe_openai_or_a_tiktoken_cache_it_estimates_without_network(
    monkeypatch, tmp_path: Path, fresh_counters
) -> None:
    _block_bpe_openai(monkeypatch)
    _fail_if_tiktoken_loads(monkeypatch)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    assert tokenizer_for("gpt-4o") is safe_estimate
    assert count_tokens("hello world", model="gpt-4") == safe_estimate("hello world")


def test_disabled_tiktoken_cache_is_never_used(monkeypatch, fresh_counters) -> None:
    _block_bpe_openai(monkeypatch)
    _fail_if_tiktoken_loads(monkeypatch)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tiktoken_cache_file(CL100K) is None
    assert tokenizer_for("gpt-4") is safe_estimate


def _seed_tiktoken_cache(cache_dir: Path, encoding: str) -> Path:
    """Put OpenAI's rank file where tiktoken looks for it (taken from bpe-openai's copy)."""
    data = resources.files("bpe_openai.data").joinpath(f"{encoding}.tiktoken.gz").read_bytes()
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = tiktoken_cache_file(encoding)
    assert target is not None and target.parent == cache_dir
    target.write_bytes(gzip.decompress(data))
    return target


def test_a_cached_tiktoken_file_is_used_when_bpe_openai_is_missing(
    monkeypatch, tmp_path: Path, fresh_counters
) -> None:
    cache_dir = tmp_path / "tiktoken"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
    _seed_tiktoken_cache(cache_dir, CL100K)
    _block_bpe_openai(monkeypatch)
    counter = tokenizer_for("gpt-4")
    assert counter is not safe_estimate
    assert counter("hello world") == 2
    assert counter("tiktoken is great!") == 6
    # o200k was not cached: estimated, and no download was attempted.
    _fail_if_tiktoken_loads(monkeypatch)
    assert tokenizer_for("gpt-4o") is safe_estimate


def test_a_corrupt_tiktoken_cache_file_is_not_trusted(
    monkeypatch, tmp_path: Path, fresh_counters
) -> None:
    cache_dir = tmp_path / "tiktoken"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
    _seed_tiktoken_cache(cache_dir, CL100K).write_bytes(b"not a rank file\n")
    _block_bpe_openai(monkeypatch)
    _fail_if_tiktoken_loads(monkeypatch)
    assert tokenizer_for("gpt-4") is safe_estimate
