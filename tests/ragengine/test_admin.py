from __future__ import annotations

import pytest
from django.urls import reverse

from ragengine.models import Chunk, Document, ProviderEndpoint
from ragengine.retrieval.registry import get_vector_store
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingested(embedder, tmp_path):
    (tmp_path / "leave.md").write_text("# Leave\n\n## Vacation\n\nYou get 25 days of vacation.\n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    knowledge_set = knowledge_set_get_or_create(name="handbook")
    documents_ingest_paths(paths=[tmp_path], knowledge_set=knowledge_set)
    return knowledge_set


@pytest.mark.parametrize(
    "url_name, query, expected",
    [
        ("admin:ragengine_knowledgeset_changelist", "", "handbook"),
        ("admin:ragengine_document_changelist", "?status__exact=failed", "broken"),
        ("admin:ragengine_document_changelist", "?q=leave", "Leave"),
        ("admin:ragengine_chunk_changelist", "?q=vacation", "Vacation"),
        ("admin:ragengine_embeddingcacheentry_changelist", "", "local:all-MiniLM"),
    ],
)
def test_changelists_with_filters_and_search_render(
    admin_client, ingested, url_name, query, expected
):
    response = admin_client.get(reverse(url_name) + query)
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_failed_document_shows_its_readable_error(admin_client, ingested):
    document = Document.objects.get(status="failed")
    response = admin_client.get(reverse("admin:ragengine_document_change", args=[document.pk]))
    assert response.status_code == 200
    assert "PDF" in response.content.decode()


def test_deleting_a_document_in_admin_removes_its_chunks_from_the_store(admin_client, ingested):
    document = Document.objects.get(status="ready")
    store = get_vector_store()
    assert store.count(document_ids=[str(document.pk)]) > 0
    version = ingested.index_version

    response = admin_client.post(
        reverse("admin:ragengine_document_delete", args=[document.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert store.count(document_ids=[str(document.pk)]) == 0
    ingested.refresh_from_db()
    assert ingested.index_version > version


def test_bulk_delete_action_goes_through_the_service(admin_client, ingested):
    from tests.ragengine.admin.test_cache import act, confirm

    ids = list(Document.objects.values_list("pk", flat=True))
    page = act(admin_client, "document", "delete_documents", ids)
    response = confirm(admin_client, "document", page)
    assert response.status_code == 302
    assert Document.objects.count() == 0
    assert get_vector_store().count() == 0


def test_ledger_change_list_shows_totals_for_the_current_filter(admin_client):
    from decimal import Decimal

    from ragengine.models import UsageRecord
    from tests.factories import MemberFactory

    member = MemberFactory()
    for model, cost in (("gpt-4o", "0.25"), ("gpt-4o", "0.50"), ("llama3.2", "0")):
        UsageRecord.objects.create(
            member=member, status="settled", mode="generated", model=model,
            tokens_in=100, cost=Decimal(cost), request_id="r",
        )  # fmt: skip

    page = admin_client.get(reverse("admin:ragengine_usagerecord_changelist") + "?model=gpt-4o")

    text = page.content.decode()
    assert "2 questions" in text and "200 tokens in" in text and "cost 0.750000" in text


def endpoint_form(**overrides) -> dict:
    return {
        "name": "mine",
        "kind": "openai",
        "base_url": "https://llm.example.org/v1",
        "api_key_env": "OPENAI_API_KEY",
        "timeout_s": "30",
        "max_retries": "2",
        "enabled": "on",
    } | overrides


@pytest.mark.parametrize(
    "variable",
    ["SLACK_BOT_TOKEN", "DJANGO_SECRET_KEY", "DISCORD_BOT_TOKEN", "SLACK_SIGNING_SECRET",
     "DATABASE_URL", "WEAVIATE_API_KEY", "HOME"],
)  # fmt: skip
def test_an_endpoint_refuses_a_key_variable_outside_the_allow_list(admin_client, variable):
    response = admin_client.post(
        reverse("admin:ragengine_providerendpoint_add"), endpoint_form(api_key_env=variable)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert variable in errors["api_key_env"][0]
    assert not ProviderEndpoint.objects.filter(name="mine").exists()


def test_an_endpoint_with_an_allowed_key_variable_is_saved(admin_client, settings):
    settings.ARANDU_API_KEY_ENV_ALLOWED = ["*_API_KEY", "LLM_GATEWAY_TOKEN"]
    form = admin_client.get(reverse("admin:ragengine_providerendpoint_add")).content.decode()
    assert "LLM_GATEWAY_TOKEN" in form  # the help text says what is allowed

    for name, variable in (("mine", "ANTHROPIC_API_KEY"), ("gateway", "LLM_GATEWAY_TOKEN")):
        response = admin_client.post(
            reverse("admin:ragengine_providerendpoint_add"),
            endpoint_form(name=name, api_key_env=variable),
        )
        assert response.status_code == 302
        assert ProviderEndpoint.objects.get(name=name).api_key_env == variable


def test_workspaces_show_what_unbound_channels_and_dms_read(admin_client):
    from tests.factories import KnowledgeSetFactory, WorkspaceFactory

    WorkspaceFactory(name="Refusing", external_id="T-refuse")
    WorkspaceFactory(name="Open", external_id="T-open", answers_from_every_set=True)
    WorkspaceFactory(name="Scoped", external_id="T-scoped").default_knowledge_sets.set(
        [KnowledgeSetFactory(name="public-handbook")]
    )

    listing = admin_client.get(reverse("admin:ragengine_workspace_changelist")).content.decode()
    refusing = admin_client.get(
        reverse("admin:ragengine_workspace_changelist") + "?answers_from_every_set__exact=0"
    ).content.decode()

    assert "nothing: refused" in listing and "every set (admin" in listing
    assert "public-handbook" in listing
    assert "Refusing" in refusing and "T-open" not in refusing


def test_workspace_form_offers_the_every_set_choice_off_by_default(admin_client):
    response = admin_client.get(reverse("admin:ragengine_workspace_add"))

    page = response.content.decode()
    assert 'name="answers_from_every_set"' in page
    assert "answer from every set when nothing narrower applies" in page.lower()
    assert response.context["adminform"].form["answers_from_every_set"].value() is False


def test_a_second_binding_for_the_same_channel_id_is_refused_with_a_clear_error(admin_client):
    from ragengine.models import ChannelBinding
    from tests.factories import ChannelBindingFactory

    ChannelBindingFactory(channel_id="C0SHARED", workspace_id="T1")

    response = admin_client.post(
        reverse("admin:ragengine_channelbinding_add"),
        {"platform": "slack", "workspace_id": "T2", "channel_id": "C0SHARED", "name": "#x"},
    )

    assert response.status_code == 200  # the form again, with the error
    assert "already exists" in response.content.decode()
    assert ChannelBinding.objects.filter(channel_id="C0SHARED").count() == 1
