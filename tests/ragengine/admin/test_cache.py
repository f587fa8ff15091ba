"""Admin purges of the answer cache: who may run them, and that nothing is purged before a
confirmation page has been seen and posted back."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import numpy as np
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from ragengine.cache import RuleDecision, cache_scope, cache_store
from ragengine.models import CachedAnswer, CacheRule, KnowledgeSet

pytestmark = pytest.mark.django_db

ANSWER = {"text": "25 days [1].", "mode": "generated", "sources": [], "provider": "", "model": ""}
CACHED_ANSWER_ACTIONS = ["purge_selected", "purge_by_set", "purge_by_rule", "purge_all"]


def store(question: str, scope, rule: CacheRule | None = None) -> CachedAnswer:
    vector = np.ones(384, dtype=np.float32) / np.sqrt(384)
    return cache_store(
        question=question,
        query_vector=vector,
        scope=scope,
        answer=ANSWER,
        cost=Decimal("0.002"),
        decision=RuleDecision(rule=rule, ttl_seconds=3600, semantic=False),
    )


@pytest.fixture
def cached() -> dict:
    CacheRule.objects.all().delete()
    rule = CacheRule.objects.create(name="factual", category="factual", ttl_seconds=86400)
    handbook = cache_scope(set_ids=[KnowledgeSet.objects.create(name="hb").pk], model_family="m")
    it = cache_scope(set_ids=[KnowledgeSet.objects.create(name="it").pk], model_family="m")
    return {
        "a": store("How many vacation days do I get?", handbook, rule),
        "b": store("Is parking free?", handbook),
        "c": store("How do I reset my password?", it, rule),
        "rule": rule,
    }


def remaining() -> set[int]:
    return set(CachedAnswer.objects.values_list("pk", flat=True))


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="irrelevant-here", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def changelist(model: str, app_label: str = "ragengine") -> str:
    return reverse(f"admin:{app_label}_{model}_changelist")


def act(client: Client, model: str, action: str, pks, **extra):
    """What the change list posts: the action and the ticked rows."""
    data = {"action": action, "index": "0", "_selected_action": [str(pk) for pk in pks]}
    return client.post(changelist(model), data | extra)


class _HiddenFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "confirm-action":
            self._in_form = True
        elif tag == "input" and self._in_form and attributes.get("type") == "hidden":
            self.fields.append((attributes["name"], attributes.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def confirm(client: Client, model: str, page, app_label: str = "ragengine") -> object:
    """Post the confirmation page's form back, as its "Yes" button does."""
    parser = _HiddenFields()
    parser.feed(page.content.decode())
    assert parser.fields, "the page has no confirmation form"
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return client.post(changelist(model, app_label), data)


# --- permissions ----------------------------------------------------------------------------


def test_a_view_only_user_cannot_purge_the_answers_of_a_rule(cached):
    client = staff("view_cacherule", "view_cachedanswer")
    before = remaining()

    page = client.get(changelist("cacherule"))
    assert page.status_code == 200
    assert "purge_rule_answers" not in page.content.decode()

    act(client, "cacherule", "purge_rule_answers", [cached["rule"].pk])
    act(client, "cacherule", "purge_rule_answers", [cached["rule"].pk], confirm="yes")
    assert remaining() == before


@pytest.mark.parametrize("action", CACHED_ANSWER_ACTIONS)
def test_a_view_only_user_cannot_purge_cached_answers(cached, action):
    client = staff("view_cachedanswer")
    before = remaining()

    act(client, "cachedanswer", action, [cached["a"].pk])

    assert remaining() == before


def test_purging_a_rule_s_answers_needs_delete_permission_on_cached_answers(cached):
    """Editing rules is one thing, deleting answers another: the purge asks for the latter."""
    rule_editor = staff("view_cacherule", "change_cacherule", "delete_cacherule")
    page = act(rule_editor, "cacherule", "purge_rule_answers", [cached["rule"].pk])
    assert "confirm-action" not in page.content.decode()
    assert len(remaining()) == 3

    User.objects.all().delete()
    purger = staff("view_cacherule", "delete_cachedanswer")
    page = act(purger, "cacherule", "purge_rule_answers", [cached["rule"].pk])
    confirm(purger, "cacherule", page)
    assert remaining() == {cached["b"].pk}


# --- confirmation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, action, selected, summary, left",
    [
        ("cachedanswer", "purge_selected", ["b"], "1 cached answer", {"a", "c"}),
        ("cachedanswer", "purge_by_set", ["b"], "2 cached answers", {"c"}),
        ("cachedanswer", "purge_by_rule", ["c"], "2 cached answers", {"b"}),
        ("cachedanswer", "purge_all", ["a"], "ALL 3 cached answers", set()),
        ("cacherule", "purge_rule_answers", ["rule"], "2 cached answers", {"b"}),
    ],
)
def test_every_purge_shows_what_it_will_do_and_waits_for_confirmation(
    admin_client, cached, model, action, selected, summary, left
):
    page = act(admin_client, model, action, [cached[k].pk for k in selected])

    assert page.status_code == 200
    text = page.content.decode()
    assert "Are you sure?" in text and summary in text
    assert len(remaining()) == 3, "nothing is purged by the first post"

    done = confirm(admin_client, model, page)

    assert done.status_code == 302
    assert remaining() == {cached[k].pk for k in left}


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: "yes",
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "",
    ],
    ids=["plain-yes", "tampered", "empty"],
)
def test_purge_all_never_runs_on_a_single_or_forged_post(admin_client, cached, forge):
    page = act(admin_client, "cachedanswer", "purge_all", [cached["a"].pk])
    parser = _HiddenFields()
    parser.feed(page.content.decode())
    token = dict(parser.fields)["confirm"]

    again = act(admin_client, "cachedanswer", "purge_all", [cached["a"].pk], confirm=forge(token))

    assert again.status_code == 200 and "Are you sure?" in again.content.decode()
    assert len(remaining()) == 3


def test_a_confirmation_is_bound_to_its_action_selection_and_user(admin_client, cached):
    page = act(admin_client, "cachedanswer", "purge_selected", [cached["b"].pk])
    parser = _HiddenFields()
    parser.feed(page.content.decode())
    token = dict(parser.fields)["confirm"]

    # The same token for a wider purge, or for other rows, runs nothing.
    act(admin_client, "cachedanswer", "purge_all", [cached["b"].pk], confirm=token)
    act(admin_client, "cachedanswer", "purge_selected", [cached["a"].pk], confirm=token)
    assert len(remaining()) == 3

    # Nor does another user's.
    other = staff("view_cachedanswer", "delete_cachedanswer")
    act(other, "cachedanswer", "purge_selected", [cached["b"].pk], confirm=token)
    assert len(remaining()) == 3


def test_every_admin_action_declares_its_permissions_and_destructive_ones_confirm():
    undeclared, unconfirmed = [], []
    for model, model_admin in admin.site._registry.items():
        for declared in model_admin.actions or ():
            func, name, _ = model_admin.get_action(declared)
            label = f"{model._meta.label}.{name}"
            if not getattr(func, "allowed_permissions", None):
                undeclared.append(label)
            if name.startswith(("purge", "delete", "clear", "reset")) and not getattr(
                func, "asks_confirmation", False
            ):
                unconfirmed.append(label)
    assert undeclared == [] and unconfirmed == []
    assert CachedAnswer in admin.site._registry and CacheRule in admin.site._registry
