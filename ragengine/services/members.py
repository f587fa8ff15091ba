"""Finding the member behind a request. Platform identities arrive in later work."""

from __future__ import annotations

import getpass

from ragengine.models import Member


def member_for_cli() -> Member:
    """The local terminal user, created on first use."""
    name = f"cli:{getpass.getuser()}"
    member, _ = Member.objects.get_or_create(display_name=name)
    return member
