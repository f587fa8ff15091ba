"""The question history admin: search, filters, the feedback and ledger joins, links both
ways, the streamed CSV export, drafts for evaluation, and who may see it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from ragengine.admin.history import history_url
from ragengine.models import EvalCase, EvalSet, Feedback, QuestionRecord, Tier, UsageRecord
from tests.factories import DocumentFactory, MemberFactory, QuestionRecordFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:ragengine_questionrecord_changelist")
EXPORT = reverse("admin:ragengine_questionrecord_export")


def questions_on(response) -> list[str]:
    html = BeautifulSoup(response.content, "html.parser")
    return [td.get_text(strip=True) for td in html.select("#result_list .field-short_question")]


@pytest.fixture
def rows():
    gold = Tier.objects.create(name="Gold")
    ana = MemberFactory(display_name="ana", tier=gold)
    bo = MemberFactory(display_name="bo")
    vacation = QuestionRecordFactory(
        request_id="reqvacation1",
        member=ana,
        question="How many vacation days do I get?",
        answer="You get 25 working days [1].",
        knowledge_sets=["handbook"],
    )
    expenses = QuestionRecordFactory(
        request_id="reqexpenses1",
        member=bo,
        door="discord",
        channel="discord:42",
        question="Who approves expenses?",
        answer="I couldn't find this in the documents.",
        knowledge_sets=["finance"],
        not_found=True,
    )
    refused = QuestionRecordFactory(
        request_id="reqrefused01",
        member=bo,
        door="api",
        question="=cmd|' /C calc'!A0",
        answer="That question can't be answered.",
        outcome="refused",
        knowledge_sets=[],
    )
    QuestionRecord.objects.filter(pk=refused.pk).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    UsageRecord.objects.create(
        member=ana,
        tier=gold,
        request_id="reqvacation1",
        mode="extractive",
        cost=Decimal("0.0012"),
        latencies_ms={"retrieve": 12.5, "generate": 40.25, "total": 61.0},
    )
    return {"vacation": vacation, "expenses": expenses, "refused": refused, "gold": gold}


def test_search_finds_question_text_answer_text_and_request_id(admin_client, rows):
    assert questions_on(admin_client.get(LIST, {"q": "vacation"})) == [
        "How many vacation days do I get?"
    ]
    assert questions_on(admin_client.get(LIST, {"q": "couldn't find"})) == [
        "Who approves expenses?"
    ]
    assert questions_on(admin_client.get(LIST, {"q": "reqexpenses1"})) == ["Who approves expenses?"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"door": "discord"}, ["Who approves expenses?"]),
        ({"outcome": "refused"}, ["=cmd|' /C calc'!A0"]),
        ({"not_found__exact": "1"}, ["Who approves expenses?"]),
        ({"knowledge_set": "finance"}, ["Who approves expenses?"]),
        ({"knowledge_set": "*every*"}, ["=cmd|' /C calc'!A0"]),
    ],
)
def test_filters(admin_client, rows, params, expected):
    assert questions_on(admin_client.get(LIST, params)) == expected


def test_filter_by_member_tier_and_date(admin_client, rows):
    ana = rows["vacation"].member
    assert questions_on(admin_client.get(LIST, {"member": ana.pk})) == [
        "How many vacation days do I get?"
    ]
    assert questions_on(admin_client.get(LIST, {"tier": rows["gold"].pk})) == [
        "How many vacation days do I get?"
    ]
    since = str(timezone.now() - timedelta(days=7))
    recent = questions_on(admin_client.get(LIST, {"created_at__gte": since}))
    assert sorted(recent) == ["How many vacation days do I get?", "Who approves expenses?"]


def test_the_list_shows_feedback_and_links_the_ledger_row(admin_client, rows):
    ana = rows["vacation"].member
    Feedback.objects.create(member=ana, request_id="reqvacation1", value=-1, comment="Wrong!")
    html = BeautifulSoup(admin_client.get(LIST, {"q": "vacation"}).content, "html.parser")
    row = html.select_one("#result_list tbody tr")
    assert row.select_one("td.field-feedback_display").get_text(strip=True) == "👎"
    usage = UsageRecord.objects.get(request_id="reqvacation1")
    link = row.select_one("td.field-ledger_link a")["href"]
    assert link == reverse("admin:ragengine_usagerecord_change", args=[usage.pk])


def test_the_detail_page_joins_feedback_ledger_stages_and_sources(admin_client, rows):
    record = rows["vacation"]
    document = DocumentFactory(title="Leave policy", source="handbook/leave.md")
    QuestionRecord.objects.filter(pk=record.pk).update(
        sources=[
            {"number": 1, "title": "Leave policy", "location": "§2", "document_id": document.pk}
        ]
    )
    vote = Feedback.objects.create(
        member=record.member, request_id="reqvacation1", value=-1, comment="It's 30 now."
    )
    page = admin_client.get(reverse("admin:ragengine_questionrecord_change", args=[record.pk]))
    html = BeautifulSoup(page.content, "html.parser")
    text = html.get_text(" ", strip=True)
    assert "It's 30 now." in text
    assert reverse("admin:ragengine_feedback_change", args=[vote.pk]) in page.content.decode()
    stages = [td.get_text(strip=True) for td in html.select(".stage-timings td")]
    assert stages[:2] == ["retrieve", "12.5 ms"] and "generate" in stages and "61.0 ms" in stages
    assert "{" not in html.select_one(".stage-timings").get_text()  # not raw JSON
    source = html.find("a", string="[1] Leave policy — §2")
    assert source["href"] == reverse("admin:ragengine_document_change", args=[document.pk])


def test_feedback_and_ledger_admins_link_to_the_history(admin_client, rows):
    ana = rows["vacation"].member
    vote = Feedback.objects.create(member=ana, request_id="reqvacation1", value=1)
    usage = UsageRecord.objects.get(request_id="reqvacation1")
    for url in (
        reverse("admin:ragengine_feedback_changelist"),
        reverse("admin:ragengine_feedback_change", args=[vote.pk]),
        reverse("admin:ragengine_usagerecord_changelist"),
        reverse("admin:ragengine_usagerecord_change", args=[usage.pk]),
    ):
        html = BeautifulSoup(admin_client.get(url).content, "html.parser")
        assert history_url("reqvacation1") in [a["href"] for a in html.select("a[href]")], url
    # ...and the link leads to that one question
    assert questions_on(admin_client.get(history_url("reqvacation1"))) == [
        "How many vacation days do I get?"
    ]
    # the ledger row's stages are a table, not JSON
    detail = admin_client.get(reverse("admin:ragengine_usagerecord_change", args=[usage.pk]))
    assert "stage-timings" in detail.content.decode()
    assert '"retrieve": 12.5' not in detail.content.decode()


def test_csv_export_streams_the_filtered_rows(admin_client, rows):
    Feedback.objects.create(member=rows["vacation"].member, request_id="reqvacation1", value=1)
    list_page = admin_client.get(LIST, {"door": "slack"}).content.decode()
    assert f'href="{EXPORT}?door=slack"' in list_page

    response = admin_client.get(EXPORT, {"door": "slack"})
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["question"] for r in table] == ["How many vacation days do I get?"]
    assert table[0]["member"] == "ana" and table[0]["feedback"] == "up"
    assert table[0]["answer"] == "You get 25 working days [1]."

    everything = admin_client.get(EXPORT, {"q": "calc"})
    (row,) = csv.DictReader(io.StringIO(b"".join(everything.streaming_content).decode()))
    assert row["question"] == "'=cmd|' /C calc'!A0"  # a formula is not run by a spreadsheet


def test_people_without_history_access_are_refused(client, rows):
    assert client.get(LIST).status_code == 302
    assert client.get(EXPORT).status_code == 302
    user = get_user_model().objects.create_user("editor", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(LIST).status_code == 403
    assert client.get(EXPORT).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_questionrecord"))
    assert client.get(EXPORT).status_code == 200


def test_history_rows_become_draft_evaluation_cases(admin_client, rows):
    record = rows["vacation"]
    document = DocumentFactory(title="Leave policy", source="handbook/leave.md")
    QuestionRecord.objects.filter(pk=record.pk).update(
        sources=[{"number": 1, "title": "Leave policy", "location": "", "document_id": document.pk}]
    )
    gone = QuestionRecordFactory(question="", answer="")
    eval_set = EvalSet.objects.create(name="handbook")
    data = {"action": "add_to_evaluation_set", "_selected_action": [record.pk, gone.pk]}

    ask = admin_client.post(LIST, data)
    assert "Add draft cases" in ask.content.decode() and not EvalCase.objects.exists()

    done = admin_client.post(LIST, data | {"eval_set": eval_set.pk}, follow=True)
    assert "1 draft case(s) added to handbook (skipped: 1 without their text)" in (
        done.content.decode()
    )
    case = EvalCase.objects.get()
    assert case.question == "How many vacation days do I get?"
    assert case.expected_documents == ["handbook/leave.md"]
    assert (case.enabled, case.origin, case.tags) == (False, "history", ["from-history"])
    assert "reqvacation1" in case.notes and "ana" in case.notes

    again = admin_client.post(LIST, data | {"eval_set": eval_set.pk}, follow=True)
    assert "1 already there" in again.content.decode() and EvalCase.objects.count() == 1


def test_the_history_is_read_only(admin_client, rows):
    record = rows["vacation"]
    url = reverse("admin:ragengine_questionrecord_change", args=[record.pk])
    admin_client.post(url, {"question": "changed"})
    record.refresh_from_db()
    assert record.question == "How many vacation days do I get?"
    assert admin_client.get(reverse("admin:ragengine_questionrecord_add")).status_code == 403
