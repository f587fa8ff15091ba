"""factory_boy factories for engine models."""

from __future__ import annotations

import factory

from ragengine.models import (
    ChannelBinding,
    Document,
    DocumentStatus,
    KnowledgeSet,
    Member,
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
