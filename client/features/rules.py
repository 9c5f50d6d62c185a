"""The group's rules (app records 32 ``Rules`` and 33 ``RulesAcceptance``).

CONTRACT STUB (lead, issue 11 wave): the rules helper replaces this module. The
signature below is what the invites feature calls to put the rules text in a link's
preview; it must stay.
"""

from __future__ import annotations

from cove.client.store import Txn
from cove.protocol.app.join_records import Rules

__all__ = ["current_rules"]


async def current_rules(txn: Txn, group_id: bytes) -> Rules | None:
    """The group's rules record of the join settings' current version (None: no rules)."""
    return None
