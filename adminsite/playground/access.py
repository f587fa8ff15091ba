"""Who may open the playground: staff who may read the question history (the playground
shows any member's scope and answers, and may call paid models)."""

from __future__ import annotations

from typing import Any


def playground_allowed(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("ragengine.view_questionrecord"))
