"""Open invite links: joining by external commit, counting the join, and keeping the
sealed GroupInfo of every open link current.

CONTRACT STUB (lead, issue 11 wave): the join-policy helper replaces this module.
The invites feature calls ``OpenLinks.join`` from ``cove join`` when the preview
says the link is open, and ``OpenLinks.publish`` after creating an open link.
"""

from __future__ import annotations

from cove.client.context import Context
from cove.client.errors import UsageProblem
from cove.protocol.invites import InviteLink, LinkPreview

__all__ = ["OpenLinks"]


class OpenLinks:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def join(self, link: InviteLink, preview: LinkPreview) -> bytes:
        """Join the group by the open link; returns the group id."""
        raise UsageProblem("joining by an open link is not available yet")

    async def publish(self, group_id: bytes) -> None:
        """Seal the current GroupInfo to every open link of the group and store it at the
        relay (after every commit of ours, and right after an open link is created)."""
        return None
