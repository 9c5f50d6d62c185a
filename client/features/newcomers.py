"""What a newcomer receives: the welcome message and the history bundle.

CONTRACT STUB (lead, issue 11 wave): the rules-and-history helper replaces this
module. ``Newcomers.greet`` is what the invites feature (approval) and the open-links
feature call after someone joins; its signature must stay.
"""

from __future__ import annotations

from collections.abc import Sequence

from cove.client.context import Context

__all__ = ["Newcomers"]


class Newcomers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def greet(self, group_id: bytes, identity_keys: Sequence[bytes]) -> None:
        """After the commit that added them: send the group's welcome message and the
        history bundle its setting allows to each newcomer (moderators only)."""
        return None
