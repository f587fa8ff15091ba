"""Answer → Discord messages: splitting, embed limits, links, notices, no pings."""

from __future__ import annotations

import discord

from botcore.conversation import Outcome, apology
from botcore.discord.render import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELDS_LIMIT,
    EMBED_FOOTER_LIMIT,
    EMBED_TOTAL_LIMIT,
    MESSAGE_LIMIT,
    answer_embeds,
    render_outcome,
    send_kwargs,
    source_line,
    split_text,
    thread_name,
)
from ragengine.ask_types import Answer, AnswerMode, Source

RID = "0123456789ab"


def source(number: int, *, title: str = "Vacation policy", link: str = "", location=None):
    return Source(
        number=number,
        title=title,
        location=location if location is not None else f"handbook/vacation.md#{number}",
        snippet="…",
        score=0.5,
        document_id=number,
        link=link,
    )


def outcome(text: str = "You get 25 working days [1].", **fields) -> Outcome:
    fields.setdefault("sources", [source(1)])
    answer = Answer(text=text, mode=fields.pop("mode", AnswerMode.EXTRACTIVE), **fields)
    answer.request_id = RID
    return Outcome(RID, answer, 12.0)


def test_short_answer_is_one_message_with_sources_and_buttons():
    (reply,) = render_outcome(outcome())

    assert reply.content == "You get 25 working days [1]."
    (embed,) = reply.embeds
    assert embed.title == "Sources"
    assert embed.description == "[1] Vacation policy — handbook/vacation.md#1"
    assert reply.feedback_request_id == RID


def test_long_answer_is_split_at_2000_characters_with_extras_on_the_last_part():
    paragraphs = [
        f"Paragraph {i}: " + "vacation days are counted per year. " * 20 for i in range(8)
    ]
    text = "\n\n".join(paragraphs)
    assert len(text) > 2 * MESSAGE_LIMIT

    replies = render_outcome(outcome(text))

    assert len(replies) >= 3
    assert all(0 < len(r.content) <= MESSAGE_LIMIT for r in replies)
    assert " ".join(" ".join(r.content for r in replies).split()) == " ".join(text.split())
    assert all(not r.embeds and not r.feedback_request_id for r in replies[:-1])
    assert replies[-1].embeds and replies[-1].feedback_request_id == RID
    assert replies[1].content.startswith("Paragraph")  # cut at a paragraph boundary


def test_split_cuts_a_word_longer_than_a_message_hard():
    parts = split_text("x" * 4500)
    assert [len(p) for p in parts] == [2000, 2000, 500]


def test_embed_respects_discord_limits_with_many_long_sources_and_notices():
    sources = [source(i, title="T" * 180, location="L" * 180) for i in range(1, 61)]
    notices = ["You have used 85% of this month's budget. " * 20, "Fallback model used. " * 30]

    (reply,) = render_outcome(outcome(sources=sources, notices=notices))

    (embed,) = reply.embeds
    assert len(embed.description) <= EMBED_DESCRIPTION_LIMIT
    assert embed.description.splitlines()[-1].startswith("…and ")
    assert embed.description.splitlines()[0].startswith("[1] ")
    assert len(embed.fields) <= EMBED_FIELDS_LIMIT
    assert len(embed.footer.text) <= EMBED_FOOTER_LIMIT
    assert embed.footer.text.startswith("You have used 85%")
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert len(embed.to_dict()["description"]) <= EMBED_DESCRIPTION_LIMIT


def test_titles_link_only_to_web_links_and_are_escaped():
    linked = source_line(source(2, title="Leave [2024]", link="https://wiki.example/a_(b)"))
    assert linked == (
        "[2] [Leave \\[2024\\]](https://wiki.example/a_(b%29) — handbook/vacation.md#2"
    )
    assert source_line(source(3, link="/srv/docs/file.md", location="")) == "[3] Vacation policy"


def test_notices_go_to_the_footer_or_a_notes_embed():
    (with_sources,) = render_outcome(outcome(notices=["Cached answer from 5 minutes ago."]))
    assert with_sources.embeds[0].footer.text == "Cached answer from 5 minutes ago."

    (without,) = render_outcome(outcome(sources=[], notices=["Extractive answer: no model."]))
    (embed,) = without.embeds
    assert embed.title == "Notes" and embed.description == "Extractive answer: no model."


def test_refused_and_failed_outcomes_are_plain_text_without_buttons():
    refused = outcome("You've reached today's question limit.", mode=AnswerMode.REFUSED, sources=[])
    (reply,) = render_outcome(refused)
    assert reply.content == "You've reached today's question limit."
    assert not reply.embeds and not reply.feedback_request_id

    failed = Outcome("feedc0ffee12", None, 3.0, apology("feedc0ffee12"))
    (reply,) = render_outcome(failed)
    assert "feedc0ffee12" in reply.content
    assert not reply.embeds and not reply.feedback_request_id
    assert "view" not in send_kwargs(reply)


def test_send_kwargs_never_ping_and_carry_the_feedback_buttons():
    (reply,) = render_outcome(outcome("@everyone <@123> read [1]"))

    kwargs = send_kwargs(reply)

    assert kwargs["allowed_mentions"].to_dict() == discord.AllowedMentions.none().to_dict()
    assert kwargs["allowed_mentions"].to_dict()["parse"] == []
    assert [item.custom_id for item in kwargs["view"].children] == [
        f"arandu:fb:up:{RID}",
        f"arandu:fb:down:{RID}",
    ]
    assert kwargs["view"].timeout is None


def test_request_ids_the_button_template_rejects_get_no_buttons():
    odd = outcome()
    odd.answer.request_id = "not-hex!"
    (reply,) = render_outcome(Outcome("not-hex!", odd.answer, 1.0))
    assert reply.feedback_request_id == "" and reply.embeds


def test_ask_quotes_the_question_and_thread_names_stay_short():
    (reply,) = render_outcome(outcome(), question="How  many\nvacation days?")
    assert reply.content.startswith("> How many vacation days?\nYou get 25")
    name = thread_name("why " * 60)
    assert len(name) <= 90 and name.endswith("…")
    assert thread_name("   ") == "Question"


def test_embed_titles_are_the_engines_labels():
    labels = {"sources": "Fontes", "notes": "Notas"}
    with_sources = answer_embeds(
        Answer(text="x [1]", mode=AnswerMode.EXTRACTIVE, sources=[source(1)], labels=labels)
    )
    notes_only = answer_embeds(
        Answer(text="x", mode=AnswerMode.EXTRACTIVE, notices=["Budget low."], labels=labels)
    )

    assert with_sources[0].title == "Fontes"
    assert notes_only[0].title == "Notas"
