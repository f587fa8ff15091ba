"""Answer → Block Kit, and a thread's messages → Turns (no database, no server)."""

from __future__ import annotations

import re

from botcore.conversation import Outcome
from botcore.slack import blocks
from botcore.slack.history import thread_turns
from ragengine.ask_types import Answer, AnswerMode, Source, Turn


def source(
    number: int, *, title: str = "Handbook", link: str = "", location: str = "Leave"
) -> Source:
    return Source(number, title, location, "snippet", 0.9, number, link)


def answer(text: str = "You get 25 days [1].", **kwargs) -> Answer:
    defaults = {"mode": AnswerMode.EXTRACTIVE, "sources": [source(1)], "request_id": "req123"}
    return Answer(text=text, **(defaults | kwargs))


def test_escaping_keeps_user_text_from_forming_links_or_mentions():
    assert blocks.to_mrkdwn("a < b & c > d <@U1>") == "a &lt; b &amp; c &gt; d &lt;@U1&gt;"


def test_markdown_bold_headings_and_links_become_mrkdwn():
    converted = blocks.to_mrkdwn(
        "# Leave\n**25 days** per year, see [the **policy**](https://x.test/a?b=1&c=2) [1]."
    )
    assert converted == (
        "*Leave*\n*25 days* per year, see <https://x.test/a?b=1&amp;c=2|the policy> [1]."
    )


def test_link_label_and_url_cannot_break_out_of_the_link():
    assert (
        blocks.link("https://x.test/a|b c", "A|B <x>") == "<https://x.test/a%7Cb%20c|A¦B &lt;x&gt;>"
    )


def test_long_text_is_split_into_sections_under_the_limit_at_word_boundaries():
    text = " ".join(f"word{i:05d}" for i in range(1200))  # ~12,000 characters

    message = blocks.answer_message(answer(text))
    sections = [b for b in message.blocks if b.get("block_id", "").startswith("answer-")]

    assert len(sections) >= 4
    assert all(len(s["text"]["text"]) <= blocks.SECTION_MAX_CHARS for s in sections)
    assert " ".join(s["text"]["text"] for s in sections) == text


def test_split_never_cuts_an_entity():
    text = "&amp;" * 1000  # no spaces at all
    parts = blocks.split_text(text, limit=3000)
    assert "".join(parts) == text
    assert all(p.startswith("&amp;") and p.endswith(";") for p in parts)


def test_message_stays_under_fifty_blocks():
    text = "\n\n".join("x" * 2900 for _ in range(80))

    message = blocks.answer_message(answer(text, notices=["Budget at 80%."]))

    assert len(message.blocks) == blocks.MAX_BLOCKS
    assert message.blocks[-1]["type"] == "actions"  # buttons and sources are kept
    assert message.blocks[-2]["type"] == "context"
    assert message.blocks[-4]["text"]["text"].endswith(blocks.TRUNCATED)


def test_sources_link_titles_and_notices_get_an_emoji_line_each():
    message = blocks.answer_message(
        answer(
            "See [1] and [2].",
            sources=[
                source(2, title="Security", location="Passwords"),
                source(1, title="Handbook", link="https://wiki.test/hb"),
            ],
            notices=["Answered without a model.", "80% of your daily budget is used."],
        )
    )
    (sources,) = [b for b in message.blocks if b.get("block_id") == "sources-0"]
    assert sources["text"]["text"] == (
        "*Sources*\n[1] *<https://wiki.test/hb|Handbook>* — Leave\n[2] *Security* — Passwords"
    )
    (context,) = [b for b in message.blocks if b["type"] == "context"]
    lines = context["elements"][0]["text"].split("\n")
    assert lines == [
        ":information_source: Answered without a model.",
        ":information_source: 80% of your daily budget is used.",
    ]
    (actions,) = [b for b in message.blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("feedback_up", "req123"),
        ("feedback_down", "req123"),
    ]


def test_refused_answer_is_only_its_text():
    message = blocks.answer_message(
        answer(
            "You've reached the limit of 5 questions per hour.", mode=AnswerMode.REFUSED, sources=[]
        )
    )
    assert [b["type"] for b in message.blocks] == ["section"]
    assert message.text == "You've reached the limit of 5 questions per hour."


def test_apology_names_the_request_id_without_buttons():
    outcome = Outcome("req999", None, 12.0, apology="Sorry, reference: req999")

    message = blocks.outcome_message(outcome)

    assert [b["type"] for b in message.blocks] == ["section"]
    assert "req999" in message.blocks[0]["text"]["text"]


def test_fallback_text_is_short_and_plain():
    message = blocks.answer_message(answer("**Bold** " + "word " * 100))
    assert len(message.text) <= blocks.FALLBACK_MAX_CHARS
    assert message.text.startswith("Bold word") and "**" not in message.text


BROADCASTS = "Post <!channel> or <!here|here>, then @everyone, @Channel and @here [1]."
LIVE_BROADCAST = re.compile(r"<!|@(?:everyone|channel|here)\b", re.IGNORECASE)


def test_fallback_text_cannot_notify_a_channel():
    answered = blocks.answer_message(answer(BROADCASTS + " Mail hr@acme.test & co."))
    refused = blocks.plain_message(BROADCASTS)

    for text in (answered.text, refused.text):
        assert LIVE_BROADCAST.search(text) is None, text
        assert "<" not in text and ">" not in text
        assert text.replace(blocks.WORD_JOINER, "").startswith(
            "Post &lt;!channel&gt; or &lt;!here|here&gt;, then @everyone, @Channel and @here"
        )
    assert "hr@acme.test" in answered.text and "&amp; co." in answered.text


def test_streaming_text_and_blocks_cannot_notify_a_channel_either():
    streamed = blocks.streaming_text(BROADCASTS)
    body = blocks.answer_message(answer(BROADCASTS)).blocks[0]["text"]["text"]

    for text in (streamed, body):
        assert LIVE_BROADCAST.search(text) is None, text


def test_a_long_fallback_is_never_cut_inside_an_escape():
    for pad in range(6):
        text = blocks.fallback_text("x" * (blocks.FALLBACK_MAX_CHARS - 4 - pad) + " & <b> " * 5)
        assert len(text) <= blocks.FALLBACK_MAX_CHARS
        assert text.endswith(blocks.TRUNCATED)
        assert text[:-1].rstrip().endswith(("x", "&amp;", "&lt;b&gt;")), text[-12:]


def test_defused_broadcasts_read_back_as_written_in_thread_history():
    from botcore.slack.history import answer_text

    message = blocks.answer_message(answer("Ask @here [1]."))
    assert answer_text({"blocks": message.blocks}) == "Ask @here [1]."


def test_thread_turns_roles_exclusions_and_limit():
    bot = {"user": "UBOT", "bot_id": "BBOT"}
    messages = [
        {"ts": "1", "user": "U1", "text": "<@UBOT> How many days &amp; hours?"},
        {
            "ts": "2",
            **bot,
            "text": "short fallback",
            "blocks": [
                blocks.section("You get *25* days [1].", block_id="answer-0"),
                blocks.section("*Sources*\n[1] Handbook", block_id="sources-0"),
            ],
        },
        {"ts": "3", "user": "U2", "text": "and sick days?", "subtype": "message_changed"},
        {"ts": "4", "user": "U3", "bot_id": "BOTHER", "text": "another bot"},
        {"ts": "5", **bot, "text": blocks.PLACEHOLDER_TEXT},
        {"ts": "6", "user": "U1", "text": "<@UBOT> the question being answered"},
        {"ts": "7", **bot, "text": blocks.PLACEHOLDER_TEXT},
    ]

    turns = thread_turns(
        messages, bot_user_id="UBOT", bot_id="BBOT", exclude_ts={"6", "7"}, limit=10
    )

    assert turns == (
        Turn("user", "How many days & hours?"),
        Turn("assistant", "You get *25* days [1]."),
    )
    assert thread_turns(messages, bot_user_id="UBOT", exclude_ts={"6"}, limit=1) == (
        Turn("assistant", "You get *25* days [1]."),
    )
    assert thread_turns(messages, bot_user_id="UBOT", limit=0) == ()


def test_sources_heading_is_the_engines_label_in_the_questions_language():
    portuguese = blocks.answer_message(answer(labels={"sources": "Fontes", "notes": "Notas"}))
    unlabelled = blocks.answer_message(answer())

    def sources_text(message) -> str:
        (block,) = [b for b in message.blocks if b.get("block_id") == "sources-0"]
        return block["text"]["text"]

    assert sources_text(portuguese).startswith("*Fontes*\n[1]")
    assert sources_text(unlabelled).startswith("*Sources*\n[1]")
