"""Which knowledge sets a Slack question reads, decided from trusted ids only, through the
real /slack/events endpoint, Bolt app and handlers (signed requests, fake Web API)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from botcore.events import thread_remember
from ragengine.selectors.channels import UNSCOPED_CHANNEL_MESSAGE, UNSCOPED_DIRECT_MESSAGE
from ragengine.services.members import member_resolve
from tests.botcore.conftest import SCOPE_QUESTION, ScopeSets
from tests.botcore.slack.conftest import CHANNEL_ID, USER_ID, mention, message
from tests.botcore.slack.fake_slack import TEAM_ID
from tests.botcore.slack.test_http_events import all_text
from tests.factories import ChannelBindingFactory, WorkspaceFactory

# Door work calls close_old_connections(), which ends a test-wrapping transaction on
# PostgreSQL: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

PARTNER_TEAM = "T0PARTNER"  # another organisation sharing the channel (Slack Connect)


def home_workspace(scope_sets: ScopeSets, *, defaults=("public",), every_set=False):
    workspace = WorkspaceFactory(platform="slack", external_id=TEAM_ID)
    workspace.default_knowledge_sets.set([scope_sets[name] for name in defaults])
    return workspace


def asker(*, team_id: str = TEAM_ID, own=()):
    member = member_resolve(platform="slack", user_id=USER_ID, workspace_id=team_id)
    member.knowledge_sets.set(own)
    return member


def response_text(fake_slack, name: str) -> str:
    (reply,) = [r for r in fake_slack.calls("response") if r.path == f"/response/{name}"]
    return all_text(reply.body.get("blocks") or []) or reply.body.get("text", "")


def answer_text(fake_slack) -> str:
    (update,) = fake_slack.calls("chat.update")
    return all_text(update.body.get("blocks") or []) or update.body.get("text", "")


def test_ask_claiming_directmessage_in_a_bound_channel_keeps_the_binding(
    slack, fake_slack, scope_sets
):
    """Issue "Hardening" 2: `channel_name` is a display name in the payload, not the
    trusted id; a bound channel stays bound whatever it claims to be."""
    home_workspace(scope_sets)
    asker(own=[scope_sets["mine"]])
    ChannelBindingFactory(channel_id=CHANNEL_ID, workspace_id=TEAM_ID, sets=[scope_sets["hr"]])

    slack.command("sets", channel_name="directmessage", response="sets")
    slack.command(SCOPE_QUESTION, channel_name="directmessage", response="ask")

    sets = response_text(fake_slack, "sets")
    assert "*hr*" in sets and "bound" in sets
    assert "*mine*" not in sets and "*public*" not in sets
    assert ScopeSets.cited(response_text(fake_slack, "ask")) == {"hr"}


@pytest.mark.parametrize("how", ["mention", "slash"])
def test_a_bound_channel_asked_from_another_team_keeps_its_binding(
    slack, fake_slack, scope_sets, how
):
    """Issue "Hardening" 3: in a shared channel the request may carry the partner's
    team id; the binding is matched by the channel id alone."""
    home_workspace(scope_sets)
    ChannelBindingFactory(channel_id=CHANNEL_ID, workspace_id=TEAM_ID, sets=[scope_sets["hr"]])

    if how == "mention":
        slack.event(mention(SCOPE_QUESTION), team_id=PARTNER_TEAM)
        text = answer_text(fake_slack)
    else:
        slack.command(SCOPE_QUESTION, team_id=PARTNER_TEAM, response="ask")
        text = response_text(fake_slack, "ask")

    assert ScopeSets.cited(text) == {"hr"}


# --- the matrix: request kind × binding state × asking team -----------------------------

ALL = None  # every set (an admin's explicit choice)
REFUSED_HERE = "refused in a channel"
REFUSED_DM = "refused in a DM"
REFUSALS = {REFUSED_HERE: UNSCOPED_CHANNEL_MESSAGE, REFUSED_DM: UNSCOPED_DIRECT_MESSAGE}
DM_ID = "D0DIRECT"
THREAD_TS = "1699990000.000100"


@dataclass(frozen=True)
class World:
    bound_in: str | None = None  # the team the channel's binding names; None: unbound
    defaults: bool = False  # the home team's default sets: {public}
    every_set: bool = False  # the home team's admin chose "every set"
    own: bool = False  # the asker (in the home team) has sets of their own: {mine}


BOUND = World(bound_in=TEAM_ID, defaults=True, own=True)
BOUND_BY_PARTNER = World(bound_in=PARTNER_TEAM, defaults=True, own=True)
UNBOUND = World(defaults=True)
UNBOUND_OWN = World(defaults=True, own=True)
NOTHING = World()
EVERY_SET = World(every_set=True)


def build(world: World, sets: dict) -> None:
    home = WorkspaceFactory(
        platform="slack", external_id=TEAM_ID, answers_from_every_set=world.every_set
    )
    if world.defaults:
        home.default_knowledge_sets.set([sets["public"]])
    if world.bound_in is not None:
        ChannelBindingFactory(channel_id=CHANNEL_ID, workspace_id=world.bound_in, sets=[sets["hr"]])
    if world.own:
        asker(own=[sets["mine"]])


def _thread_reply(slack, fake_slack, team: str, *, parent_known: bool) -> str:
    thread_remember(platform="slack", channel_id=CHANNEL_ID, thread_id=THREAD_TS)
    if parent_known:
        fake_slack.add_thread_message(
            CHANNEL_ID, THREAD_TS, {"user": USER_ID, "text": "Vacation?", "ts": THREAD_TS}
        )
    slack.event(message(SCOPE_QUESTION, ts="1699990100.000100", thread_ts=THREAD_TS), team_id=team)
    return answer_text(fake_slack)


def _slash(slack, fake_slack, team: str, **where) -> str:
    slack.command(SCOPE_QUESTION, team_id=team, response="ask", **where)
    return response_text(fake_slack, "ask")


SEND = {
    "mention": lambda s, f, team: s.event(mention(SCOPE_QUESTION), team_id=team) and answer_text(f),
    "thread": lambda s, f, team: _thread_reply(s, f, team, parent_known=True),
    "thread-parent-gone": lambda s, f, team: _thread_reply(s, f, team, parent_known=False),
    "dm": lambda s, f, team: (
        s.event(message(SCOPE_QUESTION, channel=DM_ID, channel_type="im"), team_id=team)
        and answer_text(f)
    ),
    "slash": lambda s, f, team: _slash(s, f, team),
    "slash-claiming-dm": lambda s, f, team: _slash(s, f, team, channel_name="directmessage"),
    "slash-dm": lambda s, f, team: _slash(
        s, f, team, channel_id=DM_ID, channel_name="directmessage"
    ),
}
SLASH_WHERE = {
    "slash": {},
    "slash-claiming-dm": {"channel_name": "directmessage"},
    "slash-dm": {"channel_id": DM_ID, "channel_name": "directmessage"},
}

CASES = [
    ("mention", BOUND, TEAM_ID, ("hr",)),
    ("mention", BOUND, PARTNER_TEAM, ("hr",)),
    ("mention", BOUND_BY_PARTNER, TEAM_ID, ("hr",)),
    ("mention", UNBOUND, TEAM_ID, ("public",)),
    ("mention", UNBOUND, PARTNER_TEAM, REFUSED_HERE),
    ("mention", NOTHING, TEAM_ID, REFUSED_HERE),
    ("mention", EVERY_SET, TEAM_ID, ALL),
    ("mention", EVERY_SET, PARTNER_TEAM, REFUSED_HERE),
    ("thread", BOUND, TEAM_ID, ("hr",)),
    ("thread", BOUND, PARTNER_TEAM, ("hr",)),
    ("thread", UNBOUND, TEAM_ID, ("public",)),
    ("thread", NOTHING, TEAM_ID, REFUSED_HERE),
    ("thread-parent-gone", BOUND, TEAM_ID, ("hr",)),
    ("thread-parent-gone", NOTHING, TEAM_ID, REFUSED_HERE),
    ("dm", BOUND, TEAM_ID, ("mine",)),
    ("dm", UNBOUND, TEAM_ID, ("public",)),
    ("dm", UNBOUND, PARTNER_TEAM, REFUSED_DM),
    ("dm", NOTHING, TEAM_ID, REFUSED_DM),
    ("dm", EVERY_SET, TEAM_ID, ALL),
    ("slash", BOUND, TEAM_ID, ("hr",)),
    ("slash", BOUND, PARTNER_TEAM, ("hr",)),
    ("slash", BOUND_BY_PARTNER, TEAM_ID, ("hr",)),
    ("slash", UNBOUND, TEAM_ID, ("public",)),
    ("slash", UNBOUND, PARTNER_TEAM, REFUSED_HERE),
    ("slash", NOTHING, TEAM_ID, REFUSED_HERE),
    ("slash", EVERY_SET, TEAM_ID, ALL),
    ("slash-claiming-dm", BOUND, TEAM_ID, ("hr",)),
    ("slash-claiming-dm", UNBOUND_OWN, TEAM_ID, ("public",)),
    ("slash-claiming-dm", NOTHING, TEAM_ID, REFUSED_HERE),
    ("slash-dm", BOUND, TEAM_ID, ("mine",)),
    ("slash-dm", UNBOUND, TEAM_ID, ("public",)),
    ("slash-dm", NOTHING, TEAM_ID, REFUSED_DM),
    ("slash-dm", EVERY_SET, TEAM_ID, ALL),
]
WORLD_NAMES = {
    BOUND: "bound",
    BOUND_BY_PARTNER: "bound-by-partner",
    UNBOUND: "unbound",
    UNBOUND_OWN: "unbound-own-sets",
    NOTHING: "nothing",
    EVERY_SET: "every-set",
}


def case_id(case) -> str:
    how, world, team, _ = case
    return f"{how}-{WORLD_NAMES[world]}-{'partner' if team == PARTNER_TEAM else 'home'}"


@pytest.mark.parametrize(("how", "world", "team", "expected"), CASES, ids=map(case_id, CASES))
def test_scope_matrix(slack, fake_slack, empty_scope_sets, scopes, how, world, team, expected):
    build(world, empty_scope_sets)

    shown = SEND[how](slack, fake_slack, team)

    (channel,) = scopes
    if expected in REFUSALS:
        assert channel.knowledge_sets == () and channel.refusal == REFUSALS[expected]
        assert REFUSALS[expected].split(":")[0] in shown  # the asker reads why
    else:
        assert channel.knowledge_sets == expected
        assert "can't answer" not in shown
    if how in SLASH_WHERE:  # `/ask sets` tells the same truth
        slack.command("sets", team_id=team, response="sets", **SLASH_WHERE[how])
        described = response_text(fake_slack, "sets")
        if expected in REFUSALS:
            assert REFUSALS[expected].split(":")[0] in described
        elif expected is ALL:
            assert "all knowledge sets" in described
        else:
            assert set(re.findall(r"\*([^*]+)\*", described)) == set(expected)
