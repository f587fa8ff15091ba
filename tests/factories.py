"""factory_boy factories for engine models."""

from __future__ import annotations

import factory

from ragengine.models import (
    AlertDestination,
    AlertRule,
    ChannelBinding,
    Document,
    DocumentStatus,
    Feedback,
    KnowledgeSet,
    Member,
    QuestionRecord,
    Tier,
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


class _BackdatedFactory(factory.django.DjangoModelFactory):
    """Rows whose `created_at` is `auto_now_add`: a given `created_at` is written after."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        created_at = kwargs.pop("created_at", None)
        row = super()._create(model_class, *args, **kwargs)
        if created_at is not None:
            model_class.objects.filter(pk=row.pk).update(created_at=created_at)
            row.created_at = created_at
        return row


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tier-{n}")


class UsageRecordFactory(_BackdatedFactory):
    """A settled ledger row (a generated answer unless told)."""

    class Meta:
        model = UsageRecord

    member = factory.SubFactory(MemberFactory)
    status = UsageStatus.SETTLED
    mode = "generated"
    provider = "openai"
    model = "gpt-4o-mini"
    request_id = factory.Sequence(lambda n: f"req{n:08d}")
    channel = "slack:C1"


class QuestionRecordFactory(_BackdatedFactory):
    """A question history row (what `ask()` records), a generated answer unless told."""

    class Meta:
        model = QuestionRecord

    request_id = factory.Sequence(lambda n: f"req{n:08d}")
    member = factory.SubFactory(MemberFactory)
    door = "slack"
    channel = "slack:C1"
    question = factory.Sequence(lambda n: f"Question {n}?")
    answer = "An answer [1]."
    outcome = "generated"


class FeedbackFactory(_BackdatedFactory):
    class Meta:
        model = Feedback

    member = factory.SubFactory(MemberFactory)
    request_id = factory.Sequence(lambda n: f"req{n:08d}")
    value = 1
    platform = "slack"
