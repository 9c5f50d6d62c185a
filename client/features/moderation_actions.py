"""Moderation actions: role changes, removals, bans and unbans as policy-checked
commits, then the relay's access-control table told as a hint; and the
cross-check of that table against the roster the commits produced.

Each action is one commit whose proposals come from
:mod:`cove.protocol.policy.changes` (a ban is the Remove of the identity's
leaves *and* the banned entry, in one commit). The sender's group code checks
it with the same function every receiver runs; a refusal is :class:`Refused`
(``cove`` exit code 5) and nothing is sent. Only after every member can apply
the commit does the client tell the relay (``set_role``, ``ban``), so that the
relay can refuse early — a banned account's re-add, a non-moderator's removal
request. The relay's table never decides anything a client accepts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, cast

from cove.client.context import Context
from cove.client.errors import ClientError, UnknownHandle, UsageProblem
from cove.client.features.moderation import (
    ROLES_BY_NAME,
    Before,
    Refused,
    add_event,
    before,
    describe,
    policy_of,
    require_policed,
    roles,
    roster_of,
    state_of,
    with_names,
)
from cove.client.group_state import GroupStates
from cove.client.messages import MessageStore
from cove.client.outbox import Made, Outbox
from cove.client.records import MessageView
from cove.client.session import RelayError
from cove.client.store.records import StoreRecord
from cove.client.trust import Trust
from cove.protocol import CoveError, Group
from cove.protocol.app import AppRecord, new_record_id
from cove.protocol.app.moderation_records import BAN, UNBAN, ModerationNote
from cove.protocol.mls.proposals import Proposal, ProposalBody
from cove.protocol.policy import (
    GroupState,
    PolicyRefused,
    Role,
    ban_proposals,
    remove_proposals,
    set_role_proposals,
    unban_proposals,
)
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.schema import Bytes, Str

BAN_NOTE = "ban_note"


@dataclass(frozen=True, slots=True)
class BanNote(StoreRecord):
    """Whom we banned, so that an unban can name them (key: group id + identity key)."""

    KIND: ClassVar[str] = "ban_note"

    handle: Annotated[str, Str(1, 64)]
    identity_key: Annotated[bytes, Bytes(32, 32)]
    account_id: Annotated[bytes, Bytes(0, 64)] = b""


Build = Callable[[Group, GroupState], list[ProposalBody] | None]


class Moderation:
    def __init__(self, ctx: Context, states: GroupStates, trust: Trust, outbox: Outbox) -> None:
        self.ctx = ctx
        self.states = states
        self.trust = trust
        self.outbox = outbox
        #: called with the group id after a role change, removal or ban was committed
        #: (the invites feature moves the moderators' group and the intake key along)
        self.on_changed: list[Callable[[bytes], Awaitable[None]]] = []
        #: called with the group id before such a change is built (the invites feature
        #: reads the moderators' group first, while the roles are still the old ones)
        self.on_changing: list[Callable[[bytes], Awaitable[None]]] = []

    async def _changing(self, group_id: bytes) -> None:
        for hook in self.on_changing:
            await hook(group_id)

    async def _changed(self, group_id: bytes) -> None:
        for hook in self.on_changed:
            await hook(group_id)

    async def _group(self, group_id: bytes) -> Group:
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        return group

    async def roles(self, group_id: bytes) -> dict[str, str]:
        """Every member's role by handle: owner, moderator or member."""
        return roles(await self._group(group_id))

    async def banned(self, group_id: bytes) -> list[str]:
        """The handles (as we know them) of the identities banned from the group."""
        policy = policy_of(await self._group(group_id))
        out = []
        async with self.ctx.store.transaction() as txn:
            for key, role in policy.assignments.items():
                if role == Role.BANNED:
                    note = await txn.get(BAN_NOTE, group_id + key)
                    if note is not None:
                        out.append(BanNote.unpack(note).handle)
                        continue
                    named = await with_names(txn, f"\x00{key.hex()}\x00")
                    out.append(key.hex()[:16] if named == "someone outside the group" else named)
        return out

    async def _accounts(self, group_id: bytes, handle: str) -> tuple[bytes, ...]:
        info = await self.ctx.session.request("get_group", path={"group_id": group_id.hex()})
        return tuple(bytes(m.account_id) for m in info.members if m.handle == handle)

    async def _commit(self, group_id: bytes, build: Build, remove: tuple[bytes, ...] = ()) -> bool:
        """One policy-checked commit; its changes are kept as events of our own."""
        prev: list[Before | None] = []

        def make(group: Group) -> Made | None:
            require_policed(group)
            bodies = build(group, state_of(group))
            if bodies is None:
                return None
            prev[:] = [before(group)]
            try:
                out = group.commit([Proposal(b) for b in bodies])
            except PolicyRefused as exc:
                raise Refused(exc.decision) from None
            return Made(out, remove=remove)

        if not await self.outbox.commit(group_id, make):
            return False
        if prev and prev[-1] is not None:
            async with self.ctx.store.transaction() as txn:
                record, group = await self.states.load(txn, group_id)
                self.states.keep(record, group)
                for line in describe(prev[-1], group, self.ctx.account.handle):
                    await add_event(txn, group_id, record.handshake, "change", line)
        return True

    async def _hint(self, name: str, request: object, group_id: bytes) -> None:
        """Tell the relay (a hint for its early refusals); a refusal changes nothing here."""
        with contextlib.suppress(ClientError, RelayError):
            await self.ctx.session.request(name, request, path={"group_id": group_id.hex()})

    async def _member_key(self, group_id: bytes, handle: str) -> bytes:
        m = next((m for m in roster_of(await self._group(group_id)) if m.handle == handle), None)
        if m is None:
            raise UnknownHandle(f"'{handle}' is not a member of this group")
        return m.identity_key

    async def set_role(self, group_id: bytes, handle: str, role: str) -> None:
        """Owners: make a member an owner, a moderator or a plain member."""
        if role not in ROLES_BY_NAME:
            raise UsageProblem("a role is owner, moderator or member")
        key = await self._member_key(group_id, handle)
        await self._changing(group_id)
        await self._commit(group_id, lambda g, s: set_role_proposals(s, key, ROLES_BY_NAME[role]))
        accounts = await self._accounts(group_id, handle)
        if accounts:
            await self._hint("set_role", E.RoleRequest(account_id=accounts[0], role=role), group_id)
        await self._changed(group_id)

    async def remove(self, group_id: bytes, handle: str) -> None:
        """Moderators and owners: remove a member of a lower role (their role goes too)."""
        key = await self._member_key(group_id, handle)
        accounts = await self._accounts(group_id, handle)
        await self._changing(group_id)

        def build(group: Group, state: GroupState) -> list[ProposalBody] | None:
            leaves = [m.leaf for m in state.roster if m.identity_key == key]
            return remove_proposals(state, leaves) if leaves else None

        await self._commit(group_id, build, remove=accounts)
        await self._changed(group_id)

    async def _note(self, group_id: bytes, action: int, key: bytes, reason: str) -> None:
        """The reason, as an encrypted record after the commit (never to the relay)."""
        if not reason:
            return
        note = ModerationNote(
            id=new_record_id(self.ctx.rng), sent_at=self.ctx.clock.now(), action=action,
            subject=key, reason=reason,
        )  # fmt: skip
        await self.outbox.send_record(group_id, cast(AppRecord, note))  # a feature record

    async def ban(self, group_id: bytes, handle: str, reason: str = "") -> None:
        """Moderators and owners: remove (if a member) and ban in one commit; a banned
        identity cannot be added again until unbanned."""
        group = await self._group(group_id)
        member = next((m for m in roster_of(group) if m.handle == handle), None)
        if member is not None:
            key = member.identity_key
        else:
            async with self.ctx.store.transaction() as txn:
                pin = await self.trust.pin(txn, handle)
            if pin is None:
                raise UnknownHandle(f"'{handle}' is not a member and not known to this app")
            key = pin.identity_key
        accounts = await self._accounts(group_id, handle) if member is not None else ()
        await self._changing(group_id)
        await self._commit(group_id, lambda g, s: ban_proposals(s, key), remove=accounts)
        note = BanNote(handle, key, accounts[0] if accounts else b"")
        async with self.ctx.store.transaction() as txn:
            await txn.put(BAN_NOTE, group_id + key, note.pack())
        await self._note(group_id, BAN, key, reason)
        if accounts:
            await self._hint("ban", E.BanRequest(account_id=accounts[0], banned=True), group_id)
        await self._changed(group_id)

    async def unban(self, group_id: bytes, handle: str, reason: str = "") -> None:
        """Moderators and owners: lift a ban (re-adding is a separate ``group add``)."""
        policy = policy_of(await self._group(group_id))
        notes: list[BanNote] = []
        async with self.ctx.store.transaction() as txn:
            for banned_key, role in policy.assignments.items():
                value = await txn.get(BAN_NOTE, group_id + banned_key)
                if role == Role.BANNED and value is not None:
                    notes.append(BanNote.unpack(value))
            pin = await self.trust.pin(txn, handle)
        note = next((n for n in notes if n.handle == handle), None)
        found = note.identity_key if note else (pin.identity_key if pin else None)
        if found is None or policy.assigned(found) != Role.BANNED:
            raise UnknownHandle(f"'{handle}' is not banned from this group")
        key: bytes = found
        await self._commit(group_id, lambda g, s: unban_proposals(s, key))
        await self._note(group_id, UNBAN, key, reason)
        if note is not None and note.account_id:
            await self._hint(
                "ban", E.BanRequest(account_id=note.account_id, banned=False), group_id
            )


async def drop_at_relay(
    ctx: Context, states: GroupStates, messages: MessageStore, target: bytes
) -> bool:
    """After a moderator's deletion: ask the relay to drop the post's ciphertext and
    attachments (``redact``). Best effort — members' apps hide the post anyway."""
    async with ctx.store.transaction() as txn:
        found = await messages.find(txn, target)
        if found is None or found[1].seq is None:
            return False
        group_id, stored = found
        record, group = await states.load(txn, group_id)
        states.keep(record, group)
    if roles(group).get(ctx.account.handle) not in ("moderator", "owner") or stored.seq is None:
        return False
    blobs = tuple(a.blob_id for a in getattr(stored.record, "attachments", ()))
    try:
        await ctx.session.request(
            "redact", E.RedactRequest(seq=stored.seq, blob_ids=blobs),
            path={"group_id": group_id.hex()},
        )  # fmt: skip
    except (ClientError, RelayError):
        return False
    return True


async def cross_check(ctx: Context, states: GroupStates, group_id: bytes) -> list[MessageView]:
    """Compare the relay's member table with the roster the commits produced; each
    difference becomes an event ("relay"). The relay's table is a hint: a member the
    relay lists but no commit added reads nothing (no keys), yet members are told."""
    try:
        info = await ctx.session.request("get_group", path={"group_id": group_id.hex()})
    except (ClientError, RelayError, CoveError):
        return []
    async with ctx.store.transaction() as txn:
        record = await states.record(txn, group_id)
        if record is None or not record.active:
            return []
        record, group = await states.load(txn, group_id)
        states.keep(record, group)
        if not group.active:
            return []
        roster = {m.handle for m in roster_of(group)}
        relay = {m.handle for m in info.members}
        out = []
        for h in sorted(relay - roster):
            out.append(await add_event(txn, group_id, record.seq, "relay", (
                f"the relay lists {h} as a member, but no change by the group added them "
                "(they cannot read the group: the relay was told something the commits "
                "do not say)"
            )))  # fmt: skip
        for h in sorted(roster - relay):
            out.append(await add_event(txn, group_id, record.seq, "relay", (
                f"the relay does not list {h}, though the group's changes added them "
                "(they may not receive messages)"
            )))  # fmt: skip
    return out


__all__ = ["BanNote", "Moderation", "cross_check", "drop_at_relay"]
