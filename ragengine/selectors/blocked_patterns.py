"""The blocked input patterns in force: built-in defaults, overridden by admin rows."""

from __future__ import annotations

import logging

from ragengine.blocked_patterns import BlockedPattern, configured_patterns
from ragengine.models import BlockedPattern as BlockedPatternRow

logger = logging.getLogger(__name__)


def active_blocked_patterns() -> tuple[BlockedPattern, ...]:
    """Defaults (or ARANDU_BLOCKED_PATTERNS) plus admin rows; a row replaces the default of
    the same name, and a disabled row switches it off. Read per question, so an admin edit
    applies at once."""
    by_name = {p.name: p for p in configured_patterns()}
    for row in BlockedPatternRow.objects.all():
        if not row.enabled:
            by_name.pop(row.name, None)
            continue
        try:
            by_name[row.name] = BlockedPattern(name=row.name, pattern=row.pattern, kind=row.kind)
        except ValueError:
            logger.error("blocked pattern ignored: invalid", extra={"pattern_name": row.name})
    return tuple(by_name.values())
