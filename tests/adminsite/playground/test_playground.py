"""The playground page: asks through `ask()` as a member, channel and tier, shows the
answer and the trace, compares two targets, never bills the member, refuses bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from ragengine.llm.registry import reset_providers
from ragengine.models import (
    CacheRule,
    ProviderEndpoint,
    QuestionRecord,
    Tier,
    TierModel,
    UsageRecord,
)
from tests.factories import ChannelBindingFactory, KnowledgeSetFactory, MemberFactory
from tests.ragengine.llm.replay_server import ReplayServer, Reply

pytestmark = pytest.mark.django_db

URL = "/admin/playground/"
CHAT = "/v1/chat/completions"
QUESTION = "How many vacation days do I get per year?"


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("ARANDU_TEST_OPENAI_API_KEY", "sk-test-fake-key")
    reset_providers()
    yield
    reset_providers()


@pytest.fixture
def server():
    with ReplayServer() as replay:
        yield replay


def model_tier(server: ReplayServer, name: str = "Pro", model: str = "gpt-4o-mini") -> Tier:
    endpoint, _ = ProviderEndpoint.objects.get_or_create(
        name="stub",
        defaults={
            "kind": "openai",
            "base_url": f"{server.url}/v1",
            "api_key_env": "ARANDU_TEST_OPENAI_API_KEY",
            "max_retries": 0,
            "timeout_s": 5.0,
        },
    )
    tier = Tier.objects.create(name=name, daily_budget=Decimal("1"), max_output_tokens=256)
    TierModel.objects.create(tier=tier, position=0, endpoint=endpoint, model=model)
    return tier


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.content, "html.parser")


def test_an_extractive_answer_shows_the_answer_and_the_trace(admin_client, handbook):
    member = MemberFactory(display_name="ana")
    member.knowledge_sets.set([handbook])  # her direct messages read the handbook
    response = admin_client.post(URL, {"question": QUESTION, "member": member.pk, "use_cache": ""})

    assert response.status_code == 200
    html = page(response)
    column = html.select_one(".playground-column")
    assert "25 working days" in column.select_one(".pg-answer").get_text()
    assert column.select_one(".pg-sources li").get_text(strip=True).startswith("[1]")
    # ranking with the three scores, and the threshold
    rows = column.select(".retrieval-hits tbody tr")
    assert rows and len(rows[0].select("td.num")) == 3
    retrieval = column.select_one(".trace-retrieval").get_text(" ", strip=True)
    assert "dense similarity ≥ 0.2" in retrieval
    assert "No model was asked" in column.select_one(".trace-prompt").get_text()
    assert "off for this question" in column.select_one(".trace-cache").get_text()
    timings = column.select_one(".trace-timings").get_text(" ", strip=True)
    assert "retrieve" in timings and "total" in timings
    # as ana, in her direct messages; recorded as the playground's, not on ana's ledger
    row = QuestionRecord.objects.get()
    assert (row.door, row.channel) == ("playground", f"playground:member:{member.pk}")
    assert row.member.display_name == "playground:admin"
    assert not UsageRecord.objects.filter(member=member).exists()
    assert UsageRecord.objects.get().channel == f"playground:member:{member.pk}"


def test_a_model_answer_shows_the_prompt_and_model_and_costs_the_member_nothing(
    admin_client, handbook, server
):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    tier = model_tier(server)
    member = MemberFactory(display_name="ana", tier=tier)
    member.knowledge_sets.set([handbook])

    response = admin_client.post(URL, {"question": QUESTION, "member": member.pk})

    column = page(response).select_one(".playground-column")
    assert column.select_one(".pg-badge").get_text() == "generated"
    prompt = column.select_one(".trace-prompt").get_text()
    assert "Answer ONLY from the numbered sources" in prompt and QUESTION in prompt
    assert "25 working days" in prompt  # the retrieved passage went in
    models = column.select_one(".trace-models").get_text(" ", strip=True)
    assert "stub:gpt-4o-mini" in models and "97 tokens in, 33 out" in models
    budget = column.select_one(".trace-budget").get_text(" ", strip=True)
    assert "reserved" in budget and "of 1.000000 spent" in budget
    assert "tier playground:tier:Pro" in column.select_one(".trace-route").get_text(" ")
    (sent,) = server.requests_to(CHAT)
    assert sent.json["model"] == "gpt-4o-mini"
    # the playground member paid; ana's budget did not move
    paid = UsageRecord.objects.get()
    assert paid.cost > 0 and paid.member.display_name == "playground:admin"
    assert not UsageRecord.objects.filter(member=member).exists()
    assert member.tier == tier and Tier.objects.get(name="playground:tier:Pro").daily_budget == 1


def test_the_binding_decides_the_knowledge_sets(admin_client, handbook):
    other = KnowledgeSetFactory(name="finance")
    binding = ChannelBindingFactory(channel_id="C-FIN", name="#finance")
    binding.knowledge_sets.set([other])

    response = admin_client.post(URL, {"question": QUESTION, "binding": binding.pk})

    route = page(response).select_one(".trace-route").get_text(" ", strip=True)
    assert "channel #finance → finance" in route
    assert QuestionRecord.objects.get().knowledge_sets == ["finance"]
    assert "25 working days" not in page(response).select_one(".pg-answer").get_text()


def test_compare_asks_twice_side_by_side(admin_client, handbook, server):
    server.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    model_tier(server)
    CacheRule.objects.update(enabled=False)

    response = admin_client.post(
        URL, {"question": QUESTION, "target": "extractive", "compare": "tier:Pro"}
    )

    columns = page(response).select(".playground-column")
    assert [c["data-target"] for c in columns] == ["extractive", "tier:Pro"]
    assert [c.select_one(".pg-badge").get_text() for c in columns] == ["extractive", "generated"]
    assert QuestionRecord.objects.filter(door="playground").count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"question": "  "}, "Type a question to ask."),
        ({"question": QUESTION, "member": 99999}, "That member does not exist"),
        ({"question": QUESTION, "binding": "x"}, "That channel binding does not exist"),
        ({"question": QUESTION, "target": "tier:Nope"}, "is not a tier or model"),
    ],
)
def test_bad_input_gets_a_clear_error_and_asks_nothing(admin_client, data, message):
    response = admin_client.post(URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not QuestionRecord.objects.exists()


def test_evaluation_and_playground_members_cannot_be_impersonated(admin_client, handbook):
    evaluation = MemberFactory(display_name="eval:run1:0:extractive")
    response = admin_client.post(URL, {"question": QUESTION, "member": evaluation.pk})
    assert response.status_code == 400 and "That member does not exist" in response.content.decode()


def test_a_deleted_tier_is_a_clear_error(admin_client, handbook, monkeypatch):
    from ragengine.services import playground

    Tier.objects.create(name="Gone")
    form_choices = "adminsite.playground.forms._targets"
    monkeypatch.setattr(form_choices, lambda: [("tier:Gone", "Gone")])
    Tier.objects.filter(name="Gone").delete()
    response = admin_client.post(URL, {"question": QUESTION, "target": "tier:Gone"})
    assert response.status_code == 400
    assert page(response).select_one("#playground-error").get_text() == (
        "There is no tier named 'Gone'."
    )
    assert playground.PLAYGROUND == "playground" and not QuestionRecord.objects.exists()


def test_non_staff_and_staff_without_history_access_are_refused(client):
    assert client.get(URL).status_code == 302  # to the login page
    user = get_user_model().objects.create_user("editor", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"question": QUESTION}).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_questionrecord"))
    assert client.get(URL).status_code == 200


def test_every_set_needs_a_superuser_or_its_own_permission(client, handbook):
    """Neither member nor channel reads every knowledge set: history access is not enough."""
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_questionrecord"))
    client.force_login(user)
    response = client.post(URL, {"question": QUESTION})
    assert response.status_code == 403
    error = page(response).select_one("#playground-error").get_text()
    assert "every knowledge set" in error and "Choose a member or a channel" in error
    assert not QuestionRecord.objects.exists() and not UsageRecord.objects.exists()
    # With a member, their own scope applies: allowed.
    member = MemberFactory(display_name="Ana")
    assert client.post(URL, {"question": QUESTION, "member": member.pk}).status_code == 200
    assert QuestionRecord.objects.count() == 1
    user.user_permissions.add(Permission.objects.get(codename="ask_every_set"))
    user = get_user_model().objects.get(pk=user.pk)  # permissions are cached per object
    client.force_login(user)
    assert client.post(URL, {"question": QUESTION}).status_code == 200
    assert QuestionRecord.objects.count() == 2


def test_the_form_needs_a_csrf_token(handbook):
    from django.test import Client

    user = get_user_model().objects.create_superuser("root", password="pw")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post(URL, {"question": QUESTION}).status_code == 403
    assert not QuestionRecord.objects.exists()


def test_the_sidebar_links_the_playground(admin_client):
    nav = page(admin_client.get(reverse("admin:index"))).select_one("#nav-sidebar-apps")
    assert URL in [a["href"] for a in nav.select("a[href]")]
