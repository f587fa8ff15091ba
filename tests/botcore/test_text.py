"""Splitting long answers for platforms that cap message sizes."""

from __future__ import annotations

from botcore.text import split_text


def test_short_text_is_one_piece_and_blank_text_none():
    assert split_text("  hello  ", limit=10) == ["hello"]
    assert split_text("   ", limit=10) == []


def test_cuts_prefer_paragraphs_then_lines_then_words():
    assert split_text("aaaa bbbb\n\ncccc", limit=12) == ["aaaa bbbb", "cccc"]
    assert split_text("aaaa bbbb\ncccc dd", limit=12) == ["aaaa bbbb", "cccc dd"]
    assert split_text("aaaa bbbb cccc", limit=12) == ["aaaa bbbb", "cccc"]


def test_a_boundary_in_the_first_half_is_ignored_for_a_hard_cut():
    assert split_text("a " + "x" * 20, limit=10) == ["a " + "x" * 8, "x" * 10, "x" * 2]


def test_hard_cut_decides_where_a_word_is_cut():
    pieces = split_text("x" * 25, limit=10, hard_cut=lambda rest, limit: limit - 2)
    assert pieces == ["x" * 8, "x" * 8, "x" * 9]
    assert all(len(p) <= 10 for p in pieces)
