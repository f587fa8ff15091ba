"""The evaluation sets in the admin: cases edited inline as text, import/export, and the
check that every expected document still exists."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ragengine.evaluation.cases_io import CaseData, eval_cases_import
from ragengine.models import DocumentStatus, EvalCase, EvalSet
from tests.factories import DocumentFactory, KnowledgeSetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def eval_set():
    eval_set = EvalSet.objects.create(name="handbook")
    eval_set.knowledge_sets.set([KnowledgeSetFactory(name="handbook")])
    return eval_set


def change_url(eval_set) -> str:
    return reverse("admin:ragengine_evalset_change", args=[eval_set.pk])


def test_a_case_is_added_inline_with_facts_as_lines_and_alternatives(admin_client, eval_set):
    response = admin_client.post(
        change_url(eval_set),
        {
            "name": "handbook",
            "description": "",
            "knowledge_sets": [eval_set.knowledge_sets.get().pk],
            "thresholds": "{}",
            "cases-TOTAL_FORMS": "1",
            "cases-INITIAL_FORMS": "0",
            "cases-MIN_NUM_FORMS": "0",
            "cases-MAX_NUM_FORMS": "1000",
            "cases-0-position": "1",
            "cases-0-question": "How many vacation days do I get?",
            "cases-0-language": "en",
            "cases-0-expected_documents": "employee-handbook.md\nfaq.jsonl#faq-0101",
            "cases-0-expected_facts": "25 working days | 25 days\nMarch 31",
            "cases-0-tags": "leave, en",
            "cases-0-enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    case = EvalCase.objects.get()
    assert case.expected_facts == [["25 working days", "25 days"], ["March 31"]]
    assert case.expected_documents == ["employee-handbook.md", "faq.jsonl#faq-0101"]
    assert case.tags == ["leave", "en"]

    page = admin_client.get(change_url(eval_set)).content.decode()
    assert "25 working days | 25 days\nMarch 31" in page  # shown back as it was typed


def test_an_enabled_case_without_expectations_is_refused_with_a_reason(admin_client, eval_set):
    case = EvalCase(eval_set=eval_set, question="Why?")
    with pytest.raises(Exception) as caught:
        case.full_clean()
    assert "keep drafts disabled" in str(caught.value)
    response = admin_client.post(
        reverse("admin:ragengine_evalcase_add"),
        {"eval_set": eval_set.pk, "position": 0, "question": "Why?", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "keep drafts disabled" in response.content.decode()
    assert not EvalCase.objects.exists()


def test_import_page_adds_cases_from_a_jsonl_upload(admin_client, eval_set):
    url = reverse("admin:ragengine_evalset_import_cases", args=[eval_set.pk])
    assert admin_client.get(url).status_code == 200
    upload = SimpleUploadedFile(
        "cases.jsonl",
        "\n".join(
            json.dumps(c, ensure_ascii=False)
            for c in (
                {"question": "Quanto é o vale?", "expected_facts": ["R$ 45"]},
                {"question": "CEO's colour?", "must_refuse": True},
            )
        ).encode(),
    )
    response = admin_client.post(url, {"file": upload}, follow=True)
    assert "Imported 2 case(s) into handbook." in response.content.decode()
    assert eval_set.cases.count() == 2


def test_a_bad_upload_lists_its_problems_and_changes_nothing(admin_client, eval_set):
    eval_cases_import(eval_set=eval_set, cases=[CaseData("Kept?", expected_facts=[["x"]])])
    url = reverse("admin:ragengine_evalset_import_cases", args=[eval_set.pk])
    upload = SimpleUploadedFile("cases.csv", b"question,expected_facts\nGood?,x\n,y\n")
    response = admin_client.post(url, {"file": upload, "replace": "on"})
    page = BeautifulSoup(response.content, "html.parser")
    assert [li.get_text() for li in page.select("#import-problems li")] == [
        "line 3: 'question' is missing or empty"
    ]
    assert list(eval_set.cases.values_list("question", flat=True)) == ["Kept?"]


@pytest.mark.parametrize("fmt, content_type", [("jsonl", "application/jsonl"), ("csv", "text/csv")])
def test_export_downloads_the_cases(admin_client, eval_set, fmt, content_type):
    eval_cases_import(eval_set=eval_set, cases=[CaseData("Férias?", expected_facts=[["25"]])])
    response = admin_client.get(
        reverse(f"admin:ragengine_evalset_export_{fmt}", args=[eval_set.pk])
    )
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"] == f'attachment; filename="handbook.{fmt}"'
    assert "Férias?" in response.content.decode()


def test_check_page_lists_the_expected_documents_that_are_gone(admin_client, eval_set):
    DocumentFactory(
        knowledge_set=eval_set.knowledge_sets.get(),
        source="/docs/employee-handbook.md",
        status=DocumentStatus.READY,
    )
    eval_cases_import(
        eval_set=eval_set,
        cases=[
            CaseData("Vacation?", expected_documents=["employee-handbook.md"]),
            CaseData("Meals?", expected_documents=["politica-de-reembolso.md"]),
        ],
    )
    url = reverse("admin:ragengine_evalset_check_documents", args=[eval_set.pk])
    page = BeautifulSoup(admin_client.get(url).content, "html.parser")
    rows = [
        [td.get_text(strip=True) for td in tr.select("td")]
        for tr in page.select("#missing-documents tbody tr")
    ]
    assert rows == [["Meals?", "politica-de-reembolso.md", "missing"]]


def test_a_viewer_cannot_import(client, eval_set):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_evalset"))
    client.force_login(user)
    url = reverse("admin:ragengine_evalset_import_cases", args=[eval_set.pk])
    upload = SimpleUploadedFile("c.jsonl", b'{"question": "Q?", "expected_facts": ["x"]}\n')
    assert client.post(url, {"file": upload}).status_code == 403
    assert not eval_set.cases.exists()


def test_evaluation_tiers_and_members_are_hidden_from_the_usual_lists(admin_client):
    from ragengine.models import Member, Tier

    Tier.objects.create(name="Pro")
    eval_tier = Tier.objects.create(name="eval:run1:0:extractive")
    Member.objects.create(display_name="ana")
    Member.objects.create(display_name="eval:run1:0:extractive", tier=eval_tier)

    def rows(url: str) -> str:
        page = BeautifulSoup(admin_client.get(url).content, "html.parser")
        return page.select_one("#result_list").get_text()

    for model in ("tier", "member"):
        url = reverse(f"admin:ragengine_{model}_changelist")
        assert "eval:run1" not in rows(url) and ("Pro" in rows(url) or "ana" in rows(url))
        assert "eval:run1" in rows(url + "?kind=evaluation")
        assert "eval:run1" in rows(url + "?kind=all")


def test_a_new_set_saves_with_the_blank_case_row_left_blank(admin_client):
    """The add page's empty inline row, posted as the browser sends it, adds no case."""
    knowledge_set = KnowledgeSetFactory(name="handbook")
    url = reverse("admin:ragengine_evalset_add")
    page = BeautifulSoup(admin_client.get(url).content, "html.parser")
    data: dict = {}
    for field in page.select("#evalset_form input, #evalset_form textarea, #evalset_form select"):
        name = field.get("name")
        if not name or "__prefix__" in name:
            continue
        if field.name == "textarea":
            data[name] = field.text
        elif field.name == "select":
            chosen = field.select_one("option[selected]")
            data[name] = chosen["value"] if chosen else ""
        elif field.get("type") == "checkbox":
            if field.has_attr("checked"):
                data[name] = field.get("value", "on")
        else:
            data[name] = field.get("value", "")
    assert "cases-0-question" in data  # there is a blank case row
    response = admin_client.post(url, data | {"name": "hb", "knowledge_sets": [knowledge_set.pk]})
    assert response.status_code == 302
    assert EvalSet.objects.get(name="hb").cases.count() == 0
