"""Which store holds a knowledge set's vectors, and searching sets by their own embedder.

A vector space is one store (`registry.get_vector_store(space=...)`) that holds the
vectors of one embedder only. A knowledge set records its embedder and its space; a
search groups the asked sets by the two and embeds the question once per embedder, so a
query vector of one model is never compared with stored vectors of another, also while a
re-embed moves some sets to a new model and not yet others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ragengine.models import KnowledgeSet
from ragengine.retrieval import registry
from ragengine.retrieval.types import SearchHit, SearchQuery, VectorStore
from ragengine.services.chunk_records import configured_vector_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpaceGroup:
    """Knowledge sets searched together: same embedder, same store."""

    embedder: str
    space: str
    set_ids: tuple[str, ...] | None  # the search's filter (None: no filter)
    members: tuple[str, ...] = ()  # the built sets it covers
    # Members whose vectors were embedded from another text than the configured one
    # (ARANDU_EMBED_TITLES): searched as they are, to be re-embedded.
    other_text: tuple[str, ...] = ()


def space_for(*, embedder: str, knowledge_set: KnowledgeSet) -> str:
    """Where `knowledge_set`'s vectors of `embedder` go: the space other sets of that
    embedder use; else the main store when no set of another embedder lives there (and
    this set is not moving out of it); else a space named after the embedder."""
    others = KnowledgeSet.objects.exclude(pk=knowledge_set.pk).exclude(embedder="")
    shared = others.filter(embedder=embedder).values_list("vector_space", flat=True).first()
    if shared is not None:
        return shared
    main_taken = others.filter(vector_space="").exclude(embedder=embedder).exists()
    moving_out = bool(knowledge_set.embedder) and knowledge_set.embedder != embedder
    if not main_taken and not (moving_out and knowledge_set.vector_space == ""):
        return ""
    return registry.space_name(embedder)


def set_store(knowledge_set: KnowledgeSet) -> VectorStore:
    """The store that holds (or will hold) this set's vectors."""
    return registry.get_vector_store(space=knowledge_set.vector_space)


def search_groups(*, set_ids: Sequence[str] | None) -> list[SpaceGroup]:
    """The asked sets grouped by embedder and space; sets not built yet search the main
    store with the configured embedder (they hold nothing either way). `None` (no scope
    filter: the CLI over every set) keeps no filter when one group covers every set."""
    configured = registry.get_embedder().name
    vector_text = configured_vector_text()
    sets = KnowledgeSet.objects.exclude(embedder="")
    if set_ids is not None:
        ids = [int(i) for i in set_ids if str(i).isdigit()]
        sets = sets.filter(pk__in=ids)
    groups: dict[tuple[str, str], list[str]] = {}
    other_text: set[str] = set()
    rows = sets.values_list("pk", "embedder", "vector_space", "vector_text").order_by("pk")
    for pk, embedder, space, text in rows:
        groups.setdefault((embedder, space), []).append(str(pk))
        if text != vector_text:
            other_text.add(str(pk))

    def others(members) -> tuple[str, ...]:
        return tuple(i for i in members if i in other_text)

    if set_ids is None:
        if len(groups) <= 1:
            (embedder, space), members = next(iter(groups.items()), ((configured, ""), []))
            return [
                SpaceGroup(
                    embedder=embedder,
                    space=space,
                    set_ids=None,
                    members=tuple(members),
                    other_text=others(members),
                )
            ]
    else:
        built = {i for ids in groups.values() for i in ids}
        unbuilt = tuple(i for i in map(str, set_ids) if i not in built)
        if unbuilt or not groups:
            key = (configured, "")
            groups[key] = [*groups.get(key, []), *unbuilt]
    return [
        SpaceGroup(
            embedder=e, space=s, set_ids=tuple(ids), members=tuple(ids), other_text=others(ids)
        )
        for (e, s), ids in groups.items()
    ]


@dataclass(frozen=True, slots=True)
class SpaceSearch:
    hits: list[SearchHit]
    # Sets searched whose vectors are not the configured embedder's, or not embedded
    # from the configured text (to re-embed).
    outdated_set_ids: tuple[int, ...]


def documents_search(
    *,
    query: SearchQuery,
    configured_vector: Callable[[], np.ndarray] | None,
) -> SpaceSearch:
    """`query` over its knowledge sets, each group searched in its own store with the
    question embedded by the group's embedder (`configured_vector` for the configured
    one, None for a keyword-only search). A group whose embedder cannot be rebuilt
    (a remote model no longer configured) is searched by keyword only. Hits of several
    groups are merged by score."""
    groups = search_groups(set_ids=query.knowledge_sets)
    configured = registry.get_embedder().name
    hits: list[SearchHit] = []
    for group in groups:
        group_query = replace(query, knowledge_sets=group.set_ids)
        if configured_vector is None or query.alpha == 0.0:
            group_query = replace(group_query, vector=None, alpha=0.0)
        elif group.embedder == configured:
            group_query = replace(group_query, vector=configured_vector())
        else:
            embedder = registry.embedder_named(group.embedder)
            if embedder is None:
                logger.warning(
                    "embedder unavailable, keyword search",
                    extra={"embedder": group.embedder, "knowledge_sets": group.set_ids},
                )
                group_query = replace(group_query, vector=None, alpha=0.0)
            else:
                group_query = replace(group_query, vector=embedder.embed_query(query.text))
        found = registry.get_vector_store(space=group.space).search(group_query)
        if group.embedder != configured:
            # Their sentence vectors are another model's: the answer compares its units
            # with the configured model's question vector, so it embeds them afresh.
            found = [replace(hit, sentences=None) for hit in found]
        hits.extend(found)
    if len(groups) > 1:
        hits.sort(key=lambda h: -h.score)
        hits = hits[: query.top_k]
    outdated = tuple(
        int(i) for g in groups for i in g.members if g.embedder != configured or i in g.other_text
    )
    return SpaceSearch(hits=hits, outdated_set_ids=outdated)
