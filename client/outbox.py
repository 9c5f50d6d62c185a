"""The outbox: everything is stored before it is posted, and posted until the relay
has it (collection ``outbox``, key: the entry's idempotency key).

An entry is one of three kinds (a tagged union, ``k`` in the stored map):

* :class:`ApplicationEntry` — an encrypted app record (``record_id`` is its id);
* :class:`HandshakeEntry` — a proposal, posted with the handshake position it
  was built on (compare-and-set);
* :class:`CommitEntry` — a commit with the group's state ``before`` and
  ``after`` it, the Welcome and the devices it is for, and the accounts it removes.

Before anything is posted the group's state (its ratchet advanced) and the entry
are committed together; after a crash the same bytes are posted again with the
same key and the relay answers with the first result, so nothing is sent twice
and no key or nonce is reused. A commit refused with ``handshake_conflict`` is
dropped; the caller syncs and builds the operation again if it still applies
(``docs/decisions/0002-handshake-compare-and-set.md``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from cove.client.context import Context
from cove.client.errors import ClientError, NotAMember, RelayUnreachableError
from cove.client.features.moderation import check_outgoing
from cove.client.features.rules_gate import check_sending
from cove.client.group_state import GroupStates
from cove.client.messages import MessageStore
from cove.client.session import RelayError, client_error
from cove.client.store import Txn
from cove.client.store.records import StoreRecord, unpack_union
from cove.client.sync.integrity import Integrity
from cove.client.trust import Trust
from cove.protocol import Group
from cove.protocol.app import AppRecord
from cove.protocol.relay_integrity import authenticated_data
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.schema import Bytes, Int, ListOf

OUTBOX = "outbox"
COMMIT_ATTEMPTS = 5
I63 = 2**63 - 1
_MSG = 16 << 20
_STATE = 256 << 20

Key = Annotated[bytes, Bytes(16, 16)]
GroupId = Annotated[bytes, Bytes(1, 255)]
Ids = Annotated[tuple[bytes, ...], ListOf(Bytes(1, 64), 1024)]


@dataclass(frozen=True, slots=True)
class ApplicationEntry(StoreRecord):
    KIND: ClassVar[str] = "application"

    group: GroupId
    key: Key
    message: Annotated[bytes, Bytes(1, _MSG)]
    record_id: Annotated[bytes, Bytes(16, 16)]

    def __repr__(self) -> str:
        return "ApplicationEntry(<redacted>)"


@dataclass(frozen=True, slots=True)
class HandshakeEntry(StoreRecord):
    KIND: ClassVar[str] = "handshake"

    group: GroupId
    key: Key
    message: Annotated[bytes, Bytes(1, _MSG)]
    position: Annotated[int, Int(0, I63)]

    def __repr__(self) -> str:
        return f"HandshakeEntry(position={self.position}, <redacted>)"


@dataclass(frozen=True, slots=True)
class CommitEntry(StoreRecord):
    KIND: ClassVar[str] = "commit"
    MAX_BYTES: ClassVar[int] = 2 * _STATE + 2 * _MSG

    group: GroupId
    key: Key
    message: Annotated[bytes, Bytes(1, _MSG)]
    position: Annotated[int, Int(0, I63)]
    before: Annotated[bytes, Bytes(1, _STATE)]
    after: Annotated[bytes, Bytes(1, _STATE)]
    welcome: Annotated[bytes | None, Bytes(1, _MSG)] = None
    welcome_devices: Ids = ()
    remove: Ids = ()

    def __repr__(self) -> str:
        return f"CommitEntry(position={self.position}, <commit and group states redacted>)"


OutboxEntry = ApplicationEntry | HandshakeEntry | CommitEntry
ENTRY_KINDS = (ApplicationEntry, HandshakeEntry, CommitEntry)


def unpack_entry(data: bytes) -> OutboxEntry:
    entry: OutboxEntry = unpack_union(data, ENTRY_KINDS)  # type: ignore[assignment]
    return entry


@dataclass(frozen=True, slots=True)
class Made:
    """What a commit builder returns: the commit output and its routing facts."""

    out: Any  # cove.protocol CommitOutput (commit, welcome)
    welcome_devices: tuple[bytes, ...] = ()
    remove: tuple[bytes, ...] = ()


class Outbox:
    def __init__(
        self,
        ctx: Context,
        states: GroupStates,
        messages: MessageStore,
        trust: Trust,
        sync_group: Callable[[bytes], Awaitable[Any]],
    ) -> None:
        self.ctx = ctx
        self.states = states
        self.messages = messages
        self.trust = trust
        self.sync_group = sync_group
        #: Called with the group id after the relay accepted a commit of ours (e.g. the
        #: open links re-seal the new epoch's GroupInfo); each handles its own errors.
        self.after_commit: list[Callable[[bytes], Awaitable[None]]] = []

    async def entries(self, txn: Txn) -> list[OutboxEntry]:
        return [unpack_entry(v) for _, v in await txn.scan(OUTBOX)]

    async def drop_group(self, txn: Txn, group_id: bytes) -> None:
        for key, value in await txn.scan(OUTBOX):
            if unpack_entry(value).group == group_id:
                await txn.delete(OUTBOX, key)

    async def is_queued(self, record_id: bytes) -> bool:
        async with self.ctx.store.transaction() as txn:
            return any(
                isinstance(e, ApplicationEntry) and e.record_id == record_id
                for e in await self.entries(txn)
            )

    async def flush(self) -> int:
        """Post everything a crash or an outage left unsent; how many entries there were."""
        async with self.ctx.store.transaction() as txn:
            entries = await self.entries(txn)
        for entry in entries:
            await self.deliver(entry)
        return len(entries)

    async def commit(
        self,
        group_id: bytes,
        make: Callable[[Group], Made | None],
        *,
        attempts: int = COMMIT_ATTEMPTS,
    ) -> bool:
        """Build and post a commit; on a conflict sync and retry while it still applies.
        False if ``make`` found nothing to do."""
        await self.flush()  # our own unacknowledged posts go first
        for _ in range(attempts):
            await self.sync_group(group_id)
            await self.trust.require_unchanged(group_id)
            async with self.ctx.store.transaction() as txn:
                record, group = await self.states.load(txn, group_id)
                if not group.active:
                    raise NotAMember("you are no longer a member of this group")
                made = make(group)
                if made is None:
                    return False
                before = group.to_bytes()
                group.apply_pending_commit()
                entry = CommitEntry(
                    group_id, self.ctx.rng.random_bytes(16), made.out.commit,
                    record.handshake, before, group.to_bytes(), made.out.welcome,
                    tuple(made.welcome_devices), tuple(made.remove),
                )  # fmt: skip
                await self.states.save_snapshot(txn, record, before)
                await txn.put(OUTBOX, entry.key, entry.pack())
            if await self.deliver(entry):
                return True
        raise ClientError("could not get a commit accepted after several attempts; try again")

    async def post_handshake(self, group_id: bytes, make: Callable[[Group], bytes]) -> None:
        """Post a proposal (compare-and-set on the handshake position, retried)."""
        for _ in range(COMMIT_ATTEMPTS):
            await self.sync_group(group_id)
            async with self.ctx.store.transaction() as txn:
                record, group = await self.states.load(txn, group_id)
                entry = HandshakeEntry(
                    group_id, self.ctx.rng.random_bytes(16), make(group), record.handshake
                )
                await self.states.save(txn, record, group)
                await txn.put(OUTBOX, entry.key, entry.pack())
            if await self.deliver(entry):
                return
        raise ClientError("could not post the proposal; try again")

    async def send_record(self, group_id: bytes, record: AppRecord) -> bytes:
        """Encrypt an app record to the group, keep it locally, post it. If the relay
        cannot be reached the record stays queued (:meth:`is_queued`) and the next
        sync sends it."""
        await self.trust.require_unchanged(group_id)
        async with self.ctx.store.transaction() as txn:
            grec, group = await self.states.load(txn, group_id)
            if not group.active:
                raise NotAMember("you are no longer a member of this group")
            await check_outgoing(txn, self.messages, group_id, group, record)
            await check_sending(txn, group_id, group, record, self.ctx.account.identity_key)
            await Integrity().require_not_stranded(txn, group_id)
            await Integrity().require_served(txn, group_id)
            entry = ApplicationEntry(
                group_id, self.ctx.rng.random_bytes(16),
                group.encrypt(record.encode(), authenticated_data(group)), record.id,
            )  # fmt: skip
            await self.states.save(txn, grec, group)
            await txn.put(OUTBOX, entry.key, entry.pack())
            await self.messages.keep(
                txn, group_id, record, self.ctx.account.handle, seq=None, epoch=group.epoch,
                now=self.ctx.clock.now(), sender_key=self.ctx.account.identity_key,
            )  # fmt: skip
        with contextlib.suppress(RelayUnreachableError):
            await self.deliver(entry)
        return record.id

    async def deliver(self, entry: OutboxEntry) -> bool:
        """Post an entry; True if the relay took it (now or before)."""
        req = E.PostMessageRequest(
            idempotency_key=entry.key,
            message=entry.message,
            position=getattr(entry, "position", None),
            welcome=getattr(entry, "welcome", None),
            welcome_devices=getattr(entry, "welcome_devices", ()) or None,
            remove=getattr(entry, "remove", ()) or None,
        )
        try:
            answer = await self.ctx.session.call(
                "post_message", req, path={"group_id": entry.group.hex()}
            )
        except RelayError as exc:
            # Refused for good (a conflict is retried by the caller as a new commit).
            async with self.ctx.store.transaction() as txn:
                await txn.delete(OUTBOX, entry.key)
            if exc.code == ErrorCode.HANDSHAKE_CONFLICT:
                return False
            raise client_error(exc) from None
        async with self.ctx.store.transaction() as txn:
            record = await self.states.record(txn, entry.group)
            if record is None or not record.active:
                await txn.delete(OUTBOX, entry.key)
                return True
            record.add_own(answer.seq)
            await Integrity().own_posted(txn, entry.group, answer.seq, entry.message)
            if isinstance(entry, CommitEntry):
                record.handshake = max(record.handshake, answer.seq)
                record.last_update = self.ctx.clock.now()
                record.sent_since_update = 0
                record.needs_update = False
                await self.states.save_snapshot(txn, record, entry.after)
            else:
                if isinstance(entry, HandshakeEntry):
                    record.handshake = max(record.handshake, answer.seq)
                else:
                    record.sent_since_update += 1
                await self.states.save(txn, record)
            await txn.delete(OUTBOX, entry.key)
            if isinstance(entry, ApplicationEntry):
                await self.messages.mark_sent(txn, entry.record_id, answer.seq)
        if isinstance(entry, CommitEntry):
            for hook in self.after_commit:
                await hook(entry.group)
        return True
