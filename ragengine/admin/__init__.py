"""The engine's admin, one module per area admins work in (the sidebar groups them the
same way: adminsite/sidebar.py). Importing this package registers every ModelAdmin."""

from ragengine.admin import (
    api_tokens,
    cache,
    documents,
    doors,
    evaluation,
    evaluation_runs,
    evaluation_schedules,
    knowledge,
    people,
    pricing,
    system,
)

__all__ = [
    "api_tokens",
    "cache",
    "doors",
    "documents",
    "evaluation",
    "evaluation_runs",
    "evaluation_schedules",
    "knowledge",
    "people",
    "pricing",
    "system",
]
