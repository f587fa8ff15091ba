"""The question history's side filters: the tier that paid, a knowledge set, the asker
(only people who asked something are offered)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Q

from ragengine.models import KnowledgeSet, Member, QuestionRecord, Tier, UsageRecord


class TierFilter(admin.SimpleListFilter):
    """The tier that answered (the ledger row's), else the member's tier today."""

    title = "tier"
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Tier.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        paid = UsageRecord.objects.filter(tier_id=self.value()).values("request_id")
        return queryset.filter(Q(request_id__in=paid) | Q(member__tier_id=self.value()))


class KnowledgeSetFilter(admin.SimpleListFilter):
    """Questions scoped to a set (or to every set)."""

    title = "knowledge set"
    parameter_name = "knowledge_set"
    EVERY = "*every*"

    def lookups(self, request, model_admin):
        names = KnowledgeSet.objects.values_list("name", flat=True).order_by("name")
        return [(name, name) for name in names] + [(self.EVERY, "every set (unscoped)")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if self.value() == self.EVERY:
            return queryset.filter(knowledge_sets=[])
        # A JSON list's text holds each name quoted: portable across SQLite and PostgreSQL.
        return queryset.filter(knowledge_sets__icontains=json.dumps(self.value()))


class MemberFilter(admin.SimpleListFilter):
    title = "member"
    parameter_name = "member"

    def lookups(self, request, model_admin):
        asked = QuestionRecord.objects.filter(member__isnull=False).values("member_id")
        return [
            (str(pk), name)
            for pk, name in Member.objects.filter(pk__in=asked)
            .order_by("display_name")
            .values_list("pk", "display_name")[:200]
        ]

    def queryset(self, request, queryset):
        return queryset.filter(member_id=self.value()) if self.value() else queryset
