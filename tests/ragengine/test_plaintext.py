"""The one rule for characters nobody types: refused in questions and comments, removed
from text the engine only reads."""

from __future__ import annotations

import pytest

from ragengine.plaintext import readable, unreadable_characters, unreadable_problem

KEPT = [
    "tab\tnewline\ncarriage return\r\n",
    "family 👨‍👩‍👧 (zero-width joiners), flag 🇧🇷, accents ação",
    "right-to-left \u200fمرحبا\u200e and a line separator\u2028here",
    "no-break\u00a0space, soft\u00adhyphen, emoji 😀",
]


@pytest.mark.parametrize("text", KEPT)
def test_what_people_type_is_kept_as_it_is(text):
    assert unreadable_characters(text) == []
    assert unreadable_problem(text, what="That question") is None
    assert readable(text) == text


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a\x00b", ["U+0000"]),
        ("\x1b[31mred\x1b[0m", ["U+001B"]),
        (
            "vt\x0b ff\x0c del\x7f nel\x85 csi\x9b",
            ["U+000B", "U+000C", "U+007F", "U+0085", "U+009B"],
        ),
        ("half \ud83d emoji, other half \ude00", ["U+D83D", "U+DE00"]),
    ],
)
def test_control_characters_and_lone_surrogates_are_named(text, found):
    assert unreadable_characters(text) == found


def test_the_message_names_a_few_and_hints_at_emoji():
    one = unreadable_problem("x\x00y", what="The comment")
    many = unreadable_problem("\x01\x02\x03\x04", what="That question")
    emoji = unreadable_problem("hi \ud83d", what="That question")

    assert one == (
        "The comment contains a character that can't be read: U+0000. "
        "Please retype it, or paste it as plain text."
    )
    assert "contains characters that can't be read: U+0001, U+0002, U+0003, …." in many
    assert "U+D83D (half of an emoji?)" in emoji


def test_readable_removes_controls_and_marks_lone_surrogates():
    assert readable("a\x00b\x1bc\td\ne\ud83df") == "abc\td\ne\ufffdf"
    cleaned = readable("\ud800" * 3 + "\x00")
    assert cleaned == "\ufffd" * 3
    cleaned.encode("utf-8")  # what the tokenizer and the HTTP clients need
