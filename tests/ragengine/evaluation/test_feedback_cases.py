"""A 👎 answer becomes a draft evaluation case from the Feedback admin: disabled, with the
member's comment and a link to the vote, until an admin fills in what it should say."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ragengine.evaluation.feedback_cases import eval_cases_from_feedback
from ragengine.models import EvalCase, EvalSet, Feedback
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def votes():
    ana = MemberFactory(display_name="ana")
    return [
        Feedback.objects.create(
            member=ana, request_id="r-down", value=-1, comment="It said 20 days, it's 25.",
            channel="slack:C1",
        ),
        Feedback.objects.create(member=ana, request_id="r-up", value=1, channel="slack:C1"),
    ]  # fmt: skip


def test_feedback_action_asks_for_the_set_then_adds_disabled_drafts(admin_client, votes):
    eval_set = EvalSet.objects.create(name="handbook")
    url = reverse("admin:ragengine_feedback_changelist")
    data = {"action": "add_to_evaluation_set", "_selected_action": [v.pk for v in votes]}

    ask = admin_client.post(url, data)
    assert "Add draft cases" in ask.content.decode()
    assert not EvalCase.objects.exists()

    done = admin_client.post(url, data | {"eval_set": eval_set.pk}, follow=True)
    assert "1 draft case(s) added to handbook (skipped: 1 not 👎)" in done.content.decode()
    case = EvalCase.objects.get()
    assert (case.enabled, case.origin, case.feedback, case.tags) == (
        False, "feedback", votes[0], ["from-feedback"],
    )  # fmt: skip
    assert "Comment: It said 20 days, it's 25." in case.notes
    assert "r-down" in case.notes

    again = admin_client.post(url, data | {"eval_set": eval_set.pk}, follow=True)
    assert "1 already there" in again.content.decode()
    assert EvalCase.objects.count() == 1

    # The draft opens in the case form, where the question and facts are filled in.
    page = admin_client.get(reverse("admin:ragengine_evalcase_change", args=[case.pk]))
    assert page.status_code == 200 and "It said 20 days" in page.content.decode()


def test_a_draft_stays_out_of_runs_until_enabled(votes):
    eval_set = EvalSet.objects.create(name="handbook")
    report = eval_cases_from_feedback(feedback=votes, eval_set=eval_set)
    assert len(report.created) == 1
    assert not eval_set.cases.filter(enabled=True).exists()
    assert str(report.created[0]).startswith("(draft case")


def test_only_people_who_may_add_cases_get_the_action(client, votes):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_feedback"))
    client.force_login(user)
    url = reverse("admin:ragengine_feedback_changelist")
    assert "add_to_evaluation_set" not in client.get(url).content.decode()
    EvalSet.objects.create(name="handbook")
    response = client.post(
        url, {"action": "add_to_evaluation_set", "_selected_action": [votes[0].pk], "eval_set": 1}
    )
    assert not EvalCase.objects.exists() and response.status_code in (200, 302)


def test_a_draft_carries_the_question_and_cited_documents_from_the_history(votes):
    from ragengine.models import QuestionRecord
    from tests.factories import DocumentFactory, QuestionRecordFactory

    document = DocumentFactory(title="Leave policy", source="handbook/leave.md")
    QuestionRecordFactory(
        request_id="r-down",
        question="How many vacation days?",
        sources=[
            {"number": 1, "title": "Leave policy", "location": "", "document_id": document.pk}
        ],
    )
    eval_set = EvalSet.objects.create(name="handbook")

    (case,) = eval_cases_from_feedback(feedback=votes, eval_set=eval_set).created

    assert case.question == "How many vacation days?"
    assert case.expected_documents == ["handbook/leave.md"]
    assert "not recorded" not in case.notes
    # past the retention the text is gone: the admin types the question in again
    QuestionRecord.objects.update(question="", answer="")
    other = EvalSet.objects.create(name="other")
    (case,) = eval_cases_from_feedback(feedback=votes, eval_set=other).created
    assert case.question == "" and "type it in" in case.notes
