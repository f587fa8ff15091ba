"""factory_boy factories for engine models."""

from __future__ import annotations

import factory

from ragengine.models import Document, DocumentStatus, KnowledgeSet, Member


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
    status = DocumentStatus.PENDING


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    display_name = factory.Sequence(lambda n: f"member-{n}")
