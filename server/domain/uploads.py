"""Attachment uploads, admitted from the request head before the body is read.

An upload is refused by its declared size (``blob``), by the group's quota
(``group_blob_quota``, counting the bytes stored *and* those of uploads still
in flight), or because its account already has ``uploads_per_account``
uploads in flight (or the relay ``uploads_at_once``) — all before a byte of
the body is read, so a flood of uploads costs no memory beyond the ones
admitted. The quota is checked again in the transaction that stores the blob.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from cove.protocol.wire import envelopes as E

from ..errors import BodyTooLarge, QuotaExceeded, RateLimited
from .crypto import new_id

if TYPE_CHECKING:
    from .relay import Caller, Relay


class Uploads:
    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self._per_account: Counter[bytes] = Counter()
        self._reserved: Counter[bytes] = Counter()  # group id -> bytes in flight
        self._in_flight = 0

    def in_flight(self) -> int:
        return self._in_flight

    @asynccontextmanager
    async def admit(self, caller: Caller, group_id: bytes, size: int) -> AsyncIterator[None]:
        """Hold an upload slot and reserve ``size`` bytes of the group's quota while
        the body is read and stored; refuse before that if any limit says no."""
        relay = self._relay
        limit = relay.config.limit("blob")
        if size > limit:
            raise BodyTooLarge(f"attachment over {limit} bytes")
        async with relay.storage.read() as txn:
            await relay.access_member_txn(txn, group_id, caller)
            group = await txn.group(group_id)
        assert group is not None
        # no await from here to the reservation: check and reserve are one step
        quota = relay.config.limit("group_blob_quota")
        if group.blob_bytes + self._reserved[group_id] + size > quota:
            raise QuotaExceeded("the group's attachment quota is used up")
        if self._per_account[caller.account_id] >= relay.config.limit(
            "uploads_per_account"
        ) or self._in_flight >= relay.config.limit("uploads_at_once"):
            raise RateLimited(1)
        self._per_account[caller.account_id] += 1
        self._reserved[group_id] += size
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._per_account[caller.account_id] -= 1
            if not self._per_account[caller.account_id]:
                del self._per_account[caller.account_id]
            self._reserved[group_id] -= size
            if not self._reserved[group_id]:
                del self._reserved[group_id]

    async def store(self, caller: Caller, group_id: bytes, data: bytes) -> E.BlobRef:
        relay = self._relay
        blob_id = new_id()
        async with relay.storage.write() as txn:
            await relay.access_member_txn(txn, group_id, caller)
            group = await txn.group(group_id)
            assert group is not None
            if group.blob_bytes + len(data) > relay.config.limit("group_blob_quota"):
                raise QuotaExceeded("the group's attachment quota is used up")
            await txn.insert_blob(group_id, blob_id, data, relay.clock.now())
        return E.BlobRef(blob_id=blob_id, size=len(data))
