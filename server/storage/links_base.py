"""The storage interface of invite links (``server/domain/links.py``).

:class:`LinksTxn` is part of every :class:`~.base.Txn`; :class:`LinksBatchTxn`
of every :class:`~.base.BatchTxn` (an external commit through an open link is
sequenced by the group commit). Tables: migrations ``0003_invite_links.sql``
and ``0004_group_info_position.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .base import GroupRecord, StoredMessage


@dataclass(frozen=True, slots=True)
class LinkRecord:
    link_id: bytes
    group_id: bytes
    capability_verifier: bytes
    mode: str
    expires_at: int
    max_uses: int
    uses: int
    registrations: int
    created_at: int
    revoked_at: int | None
    waiting: int  # join requests queued

    def __repr__(self) -> str:
        return f"LinkRecord({self.link_id.hex()}, {self.mode})"


@dataclass(frozen=True, slots=True)
class JoinRequestRecord:
    request_id: bytes
    position: int
    device_id: bytes
    received_at: int
    sealed: bytes


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    """A queued request found by its pickup id (a retried post)."""

    request_id: bytes
    link_id: bytes
    position: int
    verifier: bytes
    sealed: bytes


@dataclass(frozen=True, slots=True)
class Pickup:
    """What a pickup id finds: a queued request or a stored decline."""

    verifier: bytes
    decline: bytes | None  # None: the request is still queued


@dataclass(frozen=True, slots=True)
class StoredGroupInfo:
    """An open link's sealed GroupInfo: its clear header's epoch and the log position
    the member who stored it named (the handshake that began the epoch)."""

    epoch: int
    position: int
    sealed: bytes


@dataclass(frozen=True, slots=True)
class LinkPurgeCounts:
    requests: int
    declines: int
    links: int


class LinksTxn(Protocol):
    async def insert_link(
        self, link_id: bytes, group_id: bytes, verifier: bytes, mode: str, expires_at: int,
        max_uses: int, now: int, preview: bytes,
    ) -> bool:  # fmt: skip
        """False if a link with this id exists (in any group)."""
        ...

    async def link(self, link_id: bytes) -> LinkRecord | None: ...
    async def links_of(self, group_id: bytes) -> list[LinkRecord]:
        """Oldest first."""
        ...

    async def forget_dead_links(self, group_id: bytes, now: int, keep: int) -> None:
        """Delete the oldest revoked or expired links until fewer than ``keep`` remain."""
        ...

    async def revoke_link(self, link_id: bytes, now: int) -> None:
        """Mark revoked; delete its preview, GroupInfo and queued requests."""
        ...

    async def set_link_preview(self, link_id: bytes, preview: bytes) -> None: ...
    async def link_preview(self, link_id: bytes) -> bytes | None: ...
    async def count_link_use(self, link_id: bytes) -> int:
        """``uses + 1``, stored and returned (the caller checked the cap)."""
        ...

    async def count_link_registration(self, link_id: bytes) -> None: ...
    async def group_info(self, link_id: bytes) -> StoredGroupInfo | None: ...
    async def put_group_info(
        self, link_id: bytes, epoch: int, position: int, sealed: bytes
    ) -> None: ...
    async def insert_join_request(
        self, request_id: bytes, link_id: bytes, position: int, device_id: bytes,
        pickup_id: bytes, pickup_verifier: bytes, now: int, sealed: bytes,
    ) -> bool:  # fmt: skip
        """False if the pickup id is taken."""
        ...

    async def request_by_pickup(self, pickup_id: bytes) -> QueuedRequest | None: ...
    async def waiting_of_account(self, account_id: bytes) -> int: ...
    async def join_requests(
        self, link_id: bytes, after: int, limit: int
    ) -> list[JoinRequestRecord]: ...
    async def delete_join_request(
        self, link_id: bytes, request_id: bytes
    ) -> tuple[bytes, bytes] | None:
        """(pickup id, pickup verifier) of the deleted request, or None."""
        ...

    async def insert_decline(
        self, pickup_id: bytes, verifier: bytes, now: int, sealed: bytes
    ) -> None: ...
    async def pickup(self, pickup_id: bytes) -> Pickup | None: ...
    async def purge_links(self, now: int, ttl: int, dead_kept: int) -> LinkPurgeCounts: ...


class LinksBatchTxn(Protocol):
    def link(self, link_id: bytes) -> LinkRecord | None: ...
    def group(self, group_id: bytes) -> GroupRecord | None: ...
    def message_by_key(self, group_id: bytes, key: bytes) -> StoredMessage | None: ...
    def count_link_use(self, link_id: bytes) -> int: ...


__all__ = [
    "JoinRequestRecord",
    "LinkPurgeCounts",
    "LinkRecord",
    "LinksBatchTxn",
    "LinksTxn",
    "Pickup",
    "QueuedRequest",
    "StoredGroupInfo",
]
