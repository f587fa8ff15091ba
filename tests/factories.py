"""factory_boy factories for engine models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import factory

from ragengine.models import (
    AlertDestination,
    AlertRule,
    ChannelBinding,
    Document,
    DocumentStatus,
    KnowledgeSet,
    Member,
    QuestionRecord,
    UsageRecord,
    UsageStatus,
    Webhook,
    Workspace,
)


class KnowledgeSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeSet
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"set-{n}")


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    knowledge_set = factory.SubFactory(KnowledgeSetFactory)
    title = factory.Sequence(lambda n: f"Document {n}")
    source = factory.Sequence(lambda n: f"/docs/document-{n}.md")
    status = DocumentStatus.QUEUED


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    display_name = factory.Sequence(lambda n: f"member-{n}")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        django_get_or_create = ("platform", "external_id")

    platform = "slack"
    external_id = factory.Sequence(lambda n: f"T{n:08d}")
    name = factory.Sequence(lambda n: f"workspace-{n}")


class ChannelBindingFactory(factory.django.DjangoModelFactory):
    """`sets=[...]` binds those knowledge sets (an empty list: the bot is off there)."""

    class Meta:
        model = ChannelBinding
        skip_postgeneration_save = True

    platform = "slack"
    workspace_id = ""
    channel_id = factory.Sequence(lambda n: f"C{n:08d}")
    name = factory.Sequence(lambda n: f"#channel-{n}")

    @factory.post_generation
    def sets(self, create, extracted, **kwargs):
        if create and extracted:
            self.knowledge_sets.set(extracted)


def ledger_row(member, cost: str, at: datetime, **fields) -> UsageRecord:
    """A settled ledger row of `cost` dated `at` (created_at is set after the insert)."""
    row = UsageRecord.objects.create(
        member=member, status=UsageStatus.SETTLED, cost=Decimal(cost), request_id="r", **fields
    )
    UsageRecord.objects.filter(pk=row.pk).update(created_at=at)
    return row


class AlertRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertRule

    name = factory.Sequence(lambda n: f"alert-{n}")
    kind = "circuit_open"
    cooldown_minutes = 30


class WebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Webhook

    name = factory.Sequence(lambda n: f"hook-{n}")
    url = "http://127.0.0.1:9/hook"
    secret_env = "ARANDU_TEST_WEBHOOK_SECRET"


class AlertDestinationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertDestination

    rule = factory.SubFactory(AlertRuleFactory)
    channel = "slack"
    target = "C0ALERTS"


class QuestionRecordFactory(factory.django.DjangoModelFactory):
    """A question history row (what `ask()` records), answered extractively by default."""

    class Meta:
        model = QuestionRecord

    request_id = factory.Sequence(lambda n: f"req{n:06d}")
    member = factory.SubFactory(MemberFactory)
    door = "slack"
    channel = "slack:C1"
    knowledge_sets = factory.LazyFunction(lambda: ["handbook"])
    question = factory.Sequence(lambda n: f"Question number {n}?")
    answer = "An answer [1]."
    outcome = "extractive"
    sources = factory.LazyFunction(list)
