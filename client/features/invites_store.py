"""What the invites feature keeps in the encrypted local store (``docs/client/local-store.md``).

* ``invite_link`` (partition: the group id; key: the link id) — :class:`KeptLink`: a
  link this moderator made, **with its secret** (the link text), so she can show it
  again, print its QR code and re-seal its preview.
* ``invite_intake`` (partition: the group id; key: ``uint32(generation)``) —
  :class:`KeptIntake`: the moderators' intake key pairs of the generations this
  moderator derived (``protocol/invites/intake.py``).
* ``invite_handled`` (partition: the group id; key: the request id) —
  :class:`HandledRequest`: join requests this moderator approved or declined, with
  their KeyPackage hash: the :class:`~cove.protocol.invites.JoinRequestLog` that
  refuses a relay's replay.
* ``invite_pending`` (key: the request id) — :class:`KeptPending`: the requester's
  own join requests waiting for an answer (the request, its sealed bytes, the private
  key that opens a decline), and what to show about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol.invites import (
    IntakeKeyPair,
    JoinRequest,
    JoinRequestLog,
    PendingRequest,
)
from cove.protocol.wire.schema import Bytes, Int, ListOf, Str

LINKS = "invite_link"
INTAKE = "invite_intake"
HANDLED = "invite_handled"
PENDING = "invite_pending"
I63 = 2**63 - 1


@dataclass(frozen=True, slots=True)
class KeptLink(StoreRecord):
    """A link this moderator made. ``url`` holds the link's secret: never shown in logs."""

    KIND: ClassVar[str] = "invite_link"

    group_id: Annotated[bytes, Bytes(1, 255)]
    url: Annotated[str, Str(1, 512)]
    mode: Annotated[int, Int(1, 2)]
    questions: Annotated[tuple[str, ...], ListOf(Str(1, 500), 8)]
    expires_at: Annotated[int, Int(0, I63)]
    max_uses: Annotated[int, Int(1, 10000)]
    created_at: Annotated[int, Int(0, I63)]

    def __repr__(self) -> str:
        return f"KeptLink(mode={self.mode}, <link hidden>)"


@dataclass(frozen=True, slots=True)
class KeptIntake(StoreRecord):
    KIND: ClassVar[str] = "invite_intake"

    generation: Annotated[int, Int(0, 0xFFFFFFFF)]
    private_key: Annotated[bytes, Bytes(32, 32)]
    public_key: Annotated[bytes, Bytes(32, 32)]

    def __repr__(self) -> str:
        return f"KeptIntake(generation={self.generation}, <key hidden>)"


@dataclass(frozen=True, slots=True)
class HandledRequest(StoreRecord):
    KIND: ClassVar[str] = "invite_handled"

    request_id: Annotated[bytes, Bytes(16, 16)]
    key_package_hash: Annotated[bytes, Bytes(1, 64)]
    outcome: Annotated[str, Str(1, 16, choices=("approved", "declined"))]
    at: Annotated[int, Int(0, I63)]


@dataclass(frozen=True, slots=True)
class KeptPending(StoreRecord):
    """The requester's side of a join request (``PendingRequest`` and what to show)."""

    KIND: ClassVar[str] = "invite_pending"

    request: Annotated[bytes, Bytes(1, 65536)]
    sealed: Annotated[bytes, Bytes(1, 65536)]
    reply_private: Annotated[bytes, Bytes(32, 32)]
    relay: Annotated[str, Str(1, 2048)]
    group_name: Annotated[str, Str(1, 200)]
    sent_at: Annotated[int, Int(0, I63)]

    def __repr__(self) -> str:
        return "KeptPending(<request hidden>)"

    def pending(self) -> PendingRequest:
        return PendingRequest(JoinRequest.from_bytes(self.request), self.sealed, self.reply_private)


def _gen_key(generation: int) -> bytes:
    return generation.to_bytes(4, "big")


async def kept_links(txn: Txn, group_id: bytes) -> dict[bytes, KeptLink]:
    return {k: KeptLink.unpack(v) for k, v in await txn.scan(LINKS, partition=group_id)}


async def keep_link(txn: Txn, link_id: bytes, kept: KeptLink) -> None:
    await txn.put(LINKS, link_id, kept.pack(), partition=kept.group_id)


async def intake_pairs(txn: Txn, group_id: bytes) -> dict[int, IntakeKeyPair]:
    out = {}
    for _, v in await txn.scan(INTAKE, partition=group_id):
        k = KeptIntake.unpack(v)
        out[k.generation] = IntakeKeyPair(k.generation, k.private_key, k.public_key)
    return out


async def keep_intake(txn: Txn, group_id: bytes, pair: IntakeKeyPair) -> None:
    value = KeptIntake(pair.generation, pair.private_key, pair.public_key).pack()
    await txn.put(INTAKE, group_id + _gen_key(pair.generation), value, partition=group_id)


async def request_log(txn: Txn, group_id: bytes) -> JoinRequestLog:
    log = JoinRequestLog()
    for _, v in await txn.scan(HANDLED, partition=group_id):
        h = HandledRequest.unpack(v)
        log.handled_ids.add(h.request_id)
        log.handled_key_packages.add(h.key_package_hash)
    return log


async def mark_handled(txn: Txn, group_id: bytes, handled: HandledRequest) -> None:
    await txn.put(HANDLED, group_id + handled.request_id, handled.pack(), partition=group_id)


async def pending_requests(txn: Txn) -> dict[bytes, KeptPending]:
    return {k: KeptPending.unpack(v) for k, v in await txn.scan(PENDING)}


async def keep_pending(txn: Txn, kept: KeptPending) -> None:
    await txn.put(PENDING, kept.pending().request.request_id, kept.pack())


async def drop_pending(txn: Txn, request_id: bytes) -> None:
    await txn.delete(PENDING, request_id)


__all__ = [
    "HANDLED",
    "INTAKE",
    "LINKS",
    "PENDING",
    "HandledRequest",
    "KeptIntake",
    "KeptLink",
    "KeptPending",
    "drop_pending",
    "intake_pairs",
    "keep_intake",
    "keep_link",
    "keep_pending",
    "kept_links",
    "mark_handled",
    "pending_requests",
    "request_log",
]
