"""The engine's admin, one module per area admins work in (the sidebar groups them the
same way: adminsite/sidebar.py). Importing this package registers every ModelAdmin."""

from ragengine.admin import (
    alerts,
    api_tokens,
    cache,
    documents,
    doors,
    evaluation,
    evaluation_runs,
    evaluation_schedules,
    history,
    knowledge,
    people,
    pricing,
    sources,
    system,
)

__all__ = [
    "alerts",
    "api_tokens",
    "cache",
    "doors",
    "documents",
    "evaluation",
    "evaluation_runs",
    "evaluation_schedules",
    "history",
    "knowledge",
    "people",
    "pricing",
    "sources",
    "system",
]
