from ragengine.composition.citations import cited_sources, renumber_citations
from ragengine.retrieval.types import SearchHit


def hit(n: int, *, source: str = "") -> SearchHit:
    return SearchHit(
        id=f"d{n}:0",
        knowledge_set="1",
        document_id=str(n),
        ordinal=0,
        text=f"Passage number {n}. " * 40,
        metadata={"title": f"Doc {n}", "location": f"Part {n}", "source": source},
        score=1.0 / n,
        similarity=0.5,
        lexical_score=0.0,
    )


def test_renumber_citations_orders_by_first_use_and_drops_unknown_numbers() -> None:
    text, order = renumber_citations("A [3]. B [1][3]. C [1, 2]. D [9].", source_count=3)
    assert text == "A [1]. B [2][1]. C [2][3]. D."
    assert order == [3, 1, 2]


def test_renumber_citations_leaves_other_text_alone() -> None:
    assert renumber_citations("No sources here.", source_count=2) == ("No sources here.", [])
    assert renumber_citations("Note : see [2] .", source_count=2) == ("Note : see [1] .", [2])


def test_cited_sources_lists_only_cited_passages_in_citation_order():
    hits = [hit(1), hit(2, source="https://intranet.example/policy"), hit(3)]

    text, sources = cited_sources("Second [2], first [1], invented [7].", hits)

    assert text == "Second [1], first [2], invented."
    assert [(s.number, s.title, s.document_id) for s in sources] == [
        (1, "Doc 2", 2),
        (2, "Doc 1", 1),
    ]
    assert sources[0].link == "https://intranet.example/policy" and sources[1].link == ""
    assert len(sources[0].snippet) <= 281 and sources[0].snippet.endswith("…")


def test_brackets_inside_inline_code_are_not_citations() -> None:
    # A quoted configuration line holds a list of numbers, not source markers.
    text, order = renumber_citations(
        "- `RETRY_DELAYS_SECONDS = [10, 60, 300]` [2]\n- `ports = [1]` (web) [1]", source_count=2
    )
    assert text == "- `RETRY_DELAYS_SECONDS = [10, 60, 300]` [1]\n- `ports = [1]` (web) [2]"
    assert order == [2, 1]
