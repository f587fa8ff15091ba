"""Rows every API request reads, fetched with plain SQL built from the models' metadata.

Each REST API request looks up its token (with the member it speaks for) and the names of
the knowledge sets it may read. Through the ORM, building those two small queries cost
more CPU than running them (docs/PERFORMANCE.md §17); here the SQL is put together from
`_meta` (tables, columns, quoting) and each value goes through the same converters the
ORM applies (the backend's, then the field's `from_db_value`), so the instances are the
ones a queryset would return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, ManyToManyField, Model

from ragengine.models import ApiToken, KnowledgeSet, Member

Converter = Callable[[Any, Any, Any], Any]


def _converters(fields: Sequence[Field], table: str) -> list[tuple[int, list[Converter], Any]]:
    """What the ORM's compiler would apply to each column (most fields need none)."""
    found = []
    for index, field in enumerate(fields):
        column = field.get_col(table)
        chain = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if chain:
            found.append((index, chain, column))
    return found


def _instance(model: type[Model], values: Sequence[Any]) -> Model:
    fields = model._meta.concrete_fields
    values = list(values)
    for index, chain, column in _converters(fields, model._meta.db_table):
        for convert in chain:
            values[index] = convert(values[index], column, connection)
    return model.from_db(connection.alias, [f.attname for f in fields], values)


def _select_list(model: type[Model], alias: str) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def api_token_by_lookup(*, lookup: str) -> ApiToken | None:
    """The token whose public `lookup` part is `lookup`, its member attached (what
    `ApiToken.objects.select_related("member").get(lookup=...)` returns), or None."""
    quote = connection.ops.quote_name
    member_fk = ApiToken._meta.get_field("member")
    sql = (
        f"SELECT {_select_list(ApiToken, 't')}, {_select_list(Member, 'm')} "
        f"FROM {quote(ApiToken._meta.db_table)} t "
        f"INNER JOIN {quote(Member._meta.db_table)} m "
        f"ON m.{quote(Member._meta.pk.column)} = t.{quote(member_fk.column)} "
        f"WHERE t.{quote(ApiToken._meta.get_field('lookup').column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [lookup])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(ApiToken._meta.concrete_fields)
    token = _instance(ApiToken, row[:split])
    member_fk.set_cached_value(token, _instance(Member, row[split:]))
    return token


def knowledge_set_names(*, model: type[Model], pk: int, relation: str) -> tuple[str, ...]:
    """Sorted names of the knowledge sets in the many-to-many `relation` of `model` row
    `pk` (a token's, a member's or a workspace's sets), without loading that row."""
    field = model._meta.get_field(relation)
    if not isinstance(field, ManyToManyField) or field.related_model is not KnowledgeSet:
        raise ValueError(f"{model.__name__}.{relation} is not a knowledge-set relation.")
    quote = connection.ops.quote_name
    through = field.remote_field.through._meta.db_table
    sql = (
        f"SELECT k.{quote(KnowledgeSet._meta.get_field('name').column)} "
        f"FROM {quote(KnowledgeSet._meta.db_table)} k "
        f"INNER JOIN {quote(through)} r "
        f"ON k.{quote(KnowledgeSet._meta.pk.column)} = r.{quote(field.m2m_reverse_name())} "
        f"WHERE r.{quote(field.m2m_column_name())} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        return tuple(sorted(name for (name,) in cursor.fetchall()))
