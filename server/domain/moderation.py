"""Moderation requests the relay serves: a moderator's redaction.

When a moderator deletes a post, every member's app hides it (the redaction is
an encrypted record the policy allows, ``docs/protocol/policy.md``). This
module lets the moderator also have the relay drop what it stores of that
post: the application message's ciphertext and its attachments. The relay
checks only its own access-control table (the caller is a moderator or owner
there) — it restricts; it cannot see which post is which, and a redaction
here never changes what any member's app accepts. Handshake messages are never
dropped (members catching up need them); a log entry that is gone is a gap,
as after a retention purge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cove.protocol.wire import envelopes as E

if TYPE_CHECKING:
    from .relay import Caller, Relay


async def do_redact(relay: Relay, caller: Caller, group_id: bytes, req: E.RedactRequest) -> E.Ok:
    async with relay.storage.write() as txn:
        me = await relay.access_member_txn(txn, group_id, caller)
        relay.check_role(me, "moderator")
        await txn.delete_application_message(group_id, req.seq)
        for blob_id in dict.fromkeys(req.blob_ids):
            await txn.delete_blob(group_id, blob_id)
    return E.Ok()


__all__ = ["do_redact"]
