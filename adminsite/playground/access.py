"""Who may open the playground: staff who may read the question history (the playground
shows any member's scope and answers, and may call paid models). Asking with neither a
member nor a channel reads every knowledge set, which no door does: that needs a
superuser or the `ask_every_set` permission."""

from __future__ import annotations

from typing import Any


def playground_allowed(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("ragengine.view_questionrecord"))


EVERY_SET_REFUSED = (
    "Asking with neither a member nor a channel reads every knowledge set, which needs "
    "the permission 'Can ask the playground over every knowledge set'. Choose a member "
    "or a channel."
)


def every_set_allowed(user: Any) -> bool:
    return bool(user.is_superuser or user.has_perm("ragengine.ask_every_set"))
