import numpy as np

from ragengine.retrieval.embedders.memo import MemoizedEmbeddings


class CountingEmbedder:
    name = "counting"
    dimension = 3

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_documents(self, texts):
        self.seen.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_each_text_is_embedded_once_and_order_is_kept():
    inner = CountingEmbedder()
    memo = MemoizedEmbeddings(inner)

    first = memo(["a", "bb", "a"])
    second = memo(["bb", "ccc"])

    assert inner.seen == ["a", "bb", "ccc"]
    assert first[:, 0].tolist() == [1, 2, 1]
    assert second[:, 0].tolist() == [2, 3]


def test_the_memo_is_bounded_and_evicts_the_least_recently_used():
    inner = CountingEmbedder()
    memo = MemoizedEmbeddings(inner, max_entries=2)
    memo(["a", "b"])
    memo(["a"])  # "a" is now the most recent
    memo(["c"])  # evicts "b"

    assert len(memo) == 2
    memo(["a", "b"])
    assert inner.seen == ["a", "b", "c", "b"]
