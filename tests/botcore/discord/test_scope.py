"""Which knowledge sets a Discord question reads, decided from trusted ids only, through
a real discord.py client fed gateway payloads and the fake Discord API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ragengine.selectors.channels import (
    UNKNOWN_CHANNEL_MESSAGE,
    UNSCOPED_CHANNEL_MESSAGE,
    UNSCOPED_DIRECT_MESSAGE,
)
from ragengine.services.members import member_resolve
from tests.botcore.conftest import SCOPE_QUESTION, ScopeSets
from tests.botcore.discord import payloads
from tests.botcore.discord.harness import replay
from tests.factories import ChannelBindingFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)

ANA = payloads.user(payloads.USER_ID, "ana")


def guild_workspace(scope_sets: ScopeSets, *, defaults=("public",), every_set=False):
    workspace = WorkspaceFactory(platform="discord", external_id=str(payloads.GUILD_ID))
    workspace.default_knowledge_sets.set([scope_sets[name] for name in defaults])
    return workspace


def guild_member(*, own=()):
    """Ana, known from the guild (as after her first question there)."""
    member = member_resolve(
        platform="discord", user_id=str(payloads.USER_ID), workspace_id=str(payloads.GUILD_ID)
    )
    member.knowledge_sets.set(own)
    return member


def reply_text(body: dict) -> str:
    embeds = "\n".join(e.get("description") or "" for e in body.get("embeds") or [])
    return f"{body.get('content') or ''}\n{embeds}"


def test_a_dm_from_a_guild_member_reads_the_guilds_defaults_not_every_set(discord_api, scope_sets):
    """Issue "Hardening" 1: a DM carries no guild id; the member's own guild decides."""
    guild_workspace(scope_sets)
    guild_member()
    dm_id = discord_api.next_id()

    replay(
        discord_api,
        messages=[
            payloads.message(
                id=discord_api.next_id(), channel_id=dm_id, author=ANA, content=SCOPE_QUESTION
            )
        ],
    )

    (posted,) = discord_api.posted_messages(dm_id)
    assert ScopeSets.cited(reply_text(posted.body)) == {"public"}


# --- the matrix: request kind × binding state × guild ---------------------------------

OTHER_GUILD_ID = 900000000000000099
ALL = None  # every set (an admin's explicit choice)
REFUSED_HERE = "refused in a channel"
REFUSED_DM = "refused in a DM"
REFUSED_UNKNOWN = "refused: channel unknown"
REFUSALS = {
    REFUSED_HERE: UNSCOPED_CHANNEL_MESSAGE,
    REFUSED_DM: UNSCOPED_DIRECT_MESSAGE,
    REFUSED_UNKNOWN: UNKNOWN_CHANNEL_MESSAGE,
}


@dataclass(frozen=True)
class World:
    bound_in: int | None = None  # the guild the channel's binding names; None: unbound
    defaults: bool = False  # the guild's default sets: {public}
    every_set: bool = False  # the guild's admin chose "every set"
    member_of: int | None = None  # Ana's guild (known from a question there); None: new
    own: bool = False  # Ana has sets of her own: {mine}


G = payloads.GUILD_ID
BOUND = World(bound_in=G, defaults=True, member_of=G, own=True)
BOUND_BY_OTHER_GUILD = World(bound_in=OTHER_GUILD_ID, defaults=True, member_of=G)
UNBOUND = World(defaults=True, member_of=G)
MEMBER_OF_OTHER_GUILD = World(defaults=True, member_of=OTHER_GUILD_ID)
NOTHING = World()
EVERY_SET = World(every_set=True, member_of=G)


def build(world: World, sets: dict) -> None:
    guild = WorkspaceFactory(
        platform="discord", external_id=str(G), answers_from_every_set=world.every_set
    )
    if world.defaults:
        guild.default_knowledge_sets.set([sets["public"]])
    other = WorkspaceFactory(platform="discord", external_id=str(OTHER_GUILD_ID))
    other.default_knowledge_sets.set([sets["hr"]])
    if world.bound_in is not None:
        ChannelBindingFactory(
            platform="discord",
            workspace_id=str(world.bound_in),
            channel_id=str(payloads.CHANNEL_ID),
            sets=[sets["hr"]],
        )
    if world.member_of is not None:
        member = member_resolve(
            platform="discord", user_id=str(payloads.USER_ID), workspace_id=str(world.member_of)
        )
        member.knowledge_sets.set([sets["mine"]] if world.own else [])


def thread_of_general(api, *, owner: int = payloads.USER_ID) -> dict:
    return payloads.thread_channel(
        id=api.next_id(), parent_id=payloads.CHANNEL_ID, owner_id=owner, name="Chat"
    )


def _in_thread(api, *, owner: int, mention: bool) -> None:
    thread = thread_of_general(api, owner=owner)
    make = payloads.mention_message if mention else _plain_message
    replay(
        api,
        messages=[make(id=api.next_id(), channel_id=int(thread["id"]), content=SCOPE_QUESTION)],
        guilds=[payloads.guild_create(threads=[thread])],
    )


def _plain_message(*, id: int, channel_id: int, content: str) -> dict:
    return payloads.message(
        id=id, channel_id=channel_id, author=ANA, content=content, guild_id=payloads.GUILD_ID
    )


def _uncached(api, *, known_to_discord: bool) -> None:
    """A mention in a channel the client's cache doesn't hold (e.g. a thread it never
    saw created): only Discord's API can tell its parent."""
    thread = thread_of_general(api)
    if known_to_discord:
        api.state.channels[int(thread["id"])] = thread
    replay(
        api,
        messages=[
            payloads.mention_message(
                id=api.next_id(), channel_id=int(thread["id"]), content=SCOPE_QUESTION
            )
        ],
    )


def _dm(api) -> None:
    replay(
        api,
        messages=[
            payloads.message(
                id=api.next_id(), channel_id=api.next_id(), author=ANA, content=SCOPE_QUESTION
            )
        ],
    )


def _slash(api, **kwargs) -> None:
    replay(
        api,
        interactions=[payloads.ask_command(id=api.next_id(), question=SCOPE_QUESTION, **kwargs)],
    )


SEND = {
    "mention": lambda api: replay(
        api, messages=[payloads.mention_message(id=api.next_id(), content=SCOPE_QUESTION)]
    ),
    "thread": lambda api: _in_thread(api, owner=payloads.USER_ID, mention=True),
    "bot-thread": lambda api: _in_thread(api, owner=payloads.BOT_ID, mention=False),
    "uncached-thread": lambda api: _uncached(api, known_to_discord=True),
    "uncached-unknown": lambda api: _uncached(api, known_to_discord=False),
    "dm": _dm,
    "slash": lambda api: _slash(api),
    "slash-thread": lambda api: _slash(api, channel=thread_of_general(api)),
    "slash-dm": lambda api: _slash(
        api, guild_id=None, channel=payloads.dm_channel(id=api.next_id(), recipient=ANA)
    ),
    "slash-in-someone-elses-dm": lambda api: _slash(
        api,
        guild_id=None,
        context=2,
        channel=payloads.dm_channel(
            id=api.next_id(), recipient=payloads.user(payloads.OTHER_USER_ID, "ben")
        ),
    ),
    "slash-no-channel": lambda api: _slash(api, channel=payloads.NO_CHANNEL),
}

CASES = [
    ("mention", BOUND, ("hr",)),
    ("mention", BOUND_BY_OTHER_GUILD, ("hr",)),
    ("mention", UNBOUND, ("public",)),
    ("mention", NOTHING, REFUSED_HERE),
    ("mention", EVERY_SET, ALL),
    ("thread", BOUND, ("hr",)),
    ("thread", BOUND_BY_OTHER_GUILD, ("hr",)),
    ("thread", UNBOUND, ("public",)),
    ("thread", NOTHING, REFUSED_HERE),
    ("bot-thread", BOUND, ("hr",)),
    ("bot-thread", UNBOUND, ("public",)),
    ("uncached-thread", BOUND, ("hr",)),
    ("uncached-thread", UNBOUND, ("public",)),
    ("uncached-unknown", BOUND, REFUSED_UNKNOWN),
    ("uncached-unknown", EVERY_SET, REFUSED_UNKNOWN),
    ("dm", BOUND, ("mine",)),
    ("dm", UNBOUND, ("public",)),
    ("dm", MEMBER_OF_OTHER_GUILD, ("hr",)),
    ("dm", NOTHING, REFUSED_DM),
    ("dm", EVERY_SET, ALL),
    ("slash", BOUND, ("hr",)),
    ("slash", BOUND_BY_OTHER_GUILD, ("hr",)),
    ("slash", UNBOUND, ("public",)),
    ("slash", NOTHING, REFUSED_HERE),
    ("slash", EVERY_SET, ALL),
    ("slash-thread", BOUND, ("hr",)),
    ("slash-thread", UNBOUND, ("public",)),
    ("slash-dm", BOUND, ("mine",)),
    ("slash-dm", UNBOUND, ("public",)),
    ("slash-dm", MEMBER_OF_OTHER_GUILD, ("hr",)),
    ("slash-dm", NOTHING, REFUSED_DM),
    ("slash-in-someone-elses-dm", BOUND, REFUSED_HERE),
    ("slash-no-channel", BOUND, REFUSED_UNKNOWN),
    ("slash-no-channel", EVERY_SET, REFUSED_UNKNOWN),
]
WORLD_NAMES = {
    BOUND: "bound",
    BOUND_BY_OTHER_GUILD: "bound-under-another-guild",
    UNBOUND: "unbound",
    MEMBER_OF_OTHER_GUILD: "member-of-another-guild",
    NOTHING: "nothing",
    EVERY_SET: "every-set",
}


def shown(api) -> str:
    """Everything the bot posted: channel messages and interaction follow-ups."""
    posts = api.calls("POST", r"/channels/\d+/messages") + api.calls(
        "POST", rf"/webhooks/{payloads.APP_ID}/[^/]+"
    )
    return "\n".join(reply_text(p.body) for p in posts)


@pytest.mark.parametrize(
    ("how", "world", "expected"),
    CASES,
    ids=[f"{how}-{WORLD_NAMES[world]}" for how, world, _ in CASES],
)
def test_scope_matrix(discord_api, empty_scope_sets, scopes, how, world, expected):
    build(world, empty_scope_sets)

    SEND[how](discord_api)

    (channel,) = scopes
    text = shown(discord_api)
    if expected in REFUSALS:
        assert channel.knowledge_sets == () and channel.refusal == REFUSALS[expected]
        assert REFUSALS[expected].split(":")[0].split(",")[0] in text  # the asker reads why
    else:
        assert channel.knowledge_sets == expected
        assert "can't" not in text


def test_a_member_first_seen_in_a_dm_reads_their_guilds_defaults_once_they_ask_there(
    discord_api, empty_scope_sets, scopes
):
    build(World(defaults=True), empty_scope_sets)  # Ana is new

    _dm(discord_api)  # first contact: no guild known yet
    replay(
        discord_api, messages=[payloads.mention_message(id=discord_api.next_id(), content="hi?")]
    )
    _dm(discord_api)

    first_dm, _, later_dm = scopes
    assert first_dm.refusal == UNSCOPED_DIRECT_MESSAGE
    assert later_dm.knowledge_sets == ("public",)
