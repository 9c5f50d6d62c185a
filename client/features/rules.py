"""The group's rules (app records 32 ``Rules``, 33 ``RulesAcceptance`` and 34
``AcceptanceList``), from the member's side: set them (moderators), read them, accept
them, see who accepted, and (moderators) give a newcomer the acceptances she cannot
read (:meth:`RulesFeature.send_acceptance_list`).

Setting rules is two steps every member can check (``docs/protocol/invites.md`` §10):
a commit of the join settings with the next rules version and the salted hash of the
text (:func:`~cove.client.features.join_settings.change_join_settings`), then the
``Rules`` record with the text and salt, encrypted to the group like every message.
The setter's app then sends her own signed acceptance. Receivers enforce the rules
(:mod:`cove.client.features.rules_gate`): a post from a member who has not accepted
the current version is refused by every member's app, and refused before sending
with a message that says how to accept.

:func:`current_rules` is what the invites feature puts in a link's preview.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, cast

from cove.client.context import Context
from cove.client.errors import ClientError, NoPermission, UsageProblem
from cove.client.features import rules_gate as gate
from cove.client.features.join_settings import change_join_settings, join_settings
from cove.client.features.moderation import policy_of, roster_of
from cove.client.group_state import GroupStates
from cove.client.outbox import Outbox
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol import Group
from cove.protocol.app import AppRecord, new_record_id
from cove.protocol.app.join_records import (
    MAX_LIST_ENTRIES,
    AcceptanceList,
    Rules,
    RulesAcceptance,
)
from cove.protocol.invites import JoinSettings
from cove.protocol.invites.rules import (
    MAX_RULES_BYTES,
    RULES_SALT_LEN,
    RulesLedger,
    rules_hash,
    sign_acceptance,
)
from cove.protocol.policy import Capability
from cove.protocol.policy.roles import can
from cove.protocol.wire.schema import Bytes, Int

__all__ = ["Rules", "RulesFeature", "RulesView", "current_rules", "is_moderator"]

Send = Callable[[bytes, AppRecord], Awaitable[bytes]]


def _app(record: object) -> AppRecord:
    """A feature record (registered by number, not in the AppRecord union) to send."""
    return cast("AppRecord", record)


PENDING = "rules_pending"  # key: group id


@dataclass(slots=True)
class PendingAcceptance(StoreRecord):
    """Rules accepted in a join request, to send once the group is joined."""

    KIND: ClassVar[str] = "rules_pending"

    group: Annotated[bytes, Bytes(1, 255)]
    version: Annotated[int, Int(1, 0xFFFFFFFF)]
    rules_hash: Annotated[bytes, Bytes(32, 32)]


Refresh = Callable[[bytes], Awaitable[object]]


async def current_rules(txn: Txn, group_id: bytes) -> Rules | None:
    """The group's rules record of the join settings' current version (None: no rules,
    or the text of the current version has not arrived yet)."""
    row = await gate.rules_row(txn, group_id)
    if row is None:
        return None
    from cove.client.group_state import GroupStates as _States
    from cove.protocol import OsRandom

    try:
        _, group = await _States(OsRandom()).load(txn, group_id)
    except ClientError:  # not (or no longer) a member
        return None
    pair = join_settings(group).rules
    if pair is None or pair != (row.version, rules_hash(group_id, row.version, row.salt, row.text)):
        return None
    return row.record()


def check_rules_input(text: str) -> str:
    """The rules text a moderator typed, or a clear :class:`UsageProblem`."""
    text = text.strip("\n")
    if not text.strip():
        raise UsageProblem("the rules text is empty")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t\r" for c in text):
        raise UsageProblem("the rules text contains a control character")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    n = len(text.encode("utf-8"))
    if n > MAX_RULES_BYTES:
        raise UsageProblem(f"the rules are at most {MAX_RULES_BYTES} bytes of UTF-8 (this is {n})")
    return text


def is_moderator(group: Group) -> bool:
    me = roster_of(group).at(group.my_leaf_index)
    if me is None:
        return False
    role = policy_of(group).role_of(me.identity_key, in_group=True)
    return can(role, Capability.CAN_ADD_PARTICIPANT)


@dataclass(frozen=True, slots=True)
class RulesView:
    """What ``cove rules show`` prints."""

    #: 0: the group has no rules
    version: int
    #: "" when there are none, or the current version's text has not arrived yet
    text: str
    #: I accepted the current version (always True when there are no rules)
    accepted: bool
    #: the version I accepted last (0: none)
    my_version: int
    set_by: str = ""


class RulesFeature:
    """``client.rules``: set, show, accept, and (moderators) see acceptances."""

    def __init__(
        self,
        ctx: Context,
        states: GroupStates,
        outbox: Outbox,
        send: Send,
        client: object = None,
    ) -> None:
        self.ctx = ctx
        self.states = states
        self.outbox = outbox
        self._send = send
        #: the client: if it has the invites feature (``client.invites``), its
        #: ``refresh_previews(group_id)`` is called after the rules change
        self._client = client

    async def _group(self, group_id: bytes) -> Group:
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        return group

    async def set(self, group_id: bytes, text: str) -> int:
        """Moderators: new rules; returns the new version. Members must accept it before
        their next post."""
        text = check_rules_input(text)
        group = await self._group(group_id)
        if not is_moderator(group):
            raise NoPermission("only moderators and owners can set the group's rules")
        salt = self.ctx.rng.random_bytes(RULES_SALT_LEN)
        chosen: list[int] = []

        def change(settings: JoinSettings) -> JoinSettings:
            version = settings.rules_version + 1
            chosen[:] = [version]
            return settings.with_rules(rules_hash(group_id, version, salt, text))

        await change_join_settings(self.outbox, group_id, change, now=self.ctx.clock.now)
        version = chosen[0]
        record = Rules(
            id=new_record_id(self.ctx.rng), sent_at=self.ctx.clock.now(), version=version,
            salt=salt, text=text,
        )  # fmt: skip
        await self._send(group_id, _app(record))
        async with self.ctx.store.transaction() as txn:
            await gate.keep_rules(txn, gate.RulesRow(
                group_id, version, salt, text, record.id, record.sent_at,
                self.ctx.account.identity_key, self.ctx.account.handle,
            ))  # fmt: skip
        await self.accept(group_id)
        await self.refresh_previews(group_id)
        return version

    async def refresh_previews(self, group_id: bytes) -> None:
        """Re-seal the group's link previews (they show the rules and the history level),
        if this client has the invites feature."""
        invites = getattr(self._client, "invites", None)
        refresh: Refresh | None = getattr(invites, "refresh_previews", None)
        if refresh is not None:
            await refresh(group_id)

    async def resend(self, group_id: bytes) -> bool:
        """Send the current rules text again (for newcomers: they cannot read the old
        record). False if there is none to send."""
        async with self.ctx.store.transaction() as txn:
            row = await gate.rules_row(txn, group_id)
        if row is None:
            return False
        group = await self._group(group_id)
        pair = join_settings(group).rules
        if pair != (row.version, rules_hash(group_id, row.version, row.salt, row.text)):
            return False
        await self._send(group_id, _app(row.record()))
        return True

    async def send_acceptance_list(self, group_id: bytes, newcomer: bytes) -> int:
        """Moderators, after the commit that added ``newcomer``: the current rules'
        signed acceptances of the members (as this app has them), in one
        ``AcceptanceList`` per 500 members. The newcomer's app seeds its ledger from
        them; without them it would refuse every older member's posts. Returns how
        many acceptances were sent (0: no rules, or nobody accepted yet)."""
        group = await self._group(group_id)
        pair = join_settings(group).rules
        if pair is None or not is_moderator(group):
            return 0
        present = {m.identity_key for m in roster_of(group)} - {newcomer}
        async with self.ctx.store.transaction() as txn:
            rows = await gate.acceptances(txn, group_id)
        pairs = sorted(
            (r.identity_key, r.signature) for r in rows
            if r.identity_key in present and (r.version, r.rules_hash) == pair
        )  # fmt: skip
        for start in range(0, len(pairs), MAX_LIST_ENTRIES):
            record = AcceptanceList(
                id=new_record_id(self.ctx.rng), sent_at=self.ctx.clock.now(), version=pair[0],
                rules_hash=pair[1], newcomer=newcomer,
                entries=AcceptanceList.pack_entries(pairs[start : start + MAX_LIST_ENTRIES]),
            )  # fmt: skip
            await self._send(group_id, _app(record))
        return len(pairs)

    async def show(self, group_id: bytes) -> RulesView:
        group = await self._group(group_id)
        pair = join_settings(group).rules
        me = self.ctx.account.identity_key
        async with self.ctx.store.transaction() as txn:
            row = await gate.rules_row(txn, group_id)
            mine = await gate.accepted_pair(txn, group_id, me)
        if pair is None:
            return RulesView(0, "", True, mine[0] if mine else 0)
        text = set_by = ""
        if row is not None and (row.version, rules_hash(
            group_id, row.version, row.salt, row.text
        )) == pair:  # fmt: skip
            text, set_by = row.text, row.author_handle
        return RulesView(pair[0], text, mine == pair, mine[0] if mine else 0, set_by)

    async def accept(self, group_id: bytes) -> int:
        """Accept the current rules (a signed ``RulesAcceptance``); returns the version."""
        group = await self._group(group_id)
        pair = join_settings(group).rules
        if pair is None:
            raise UsageProblem("this group has no rules to accept")
        async with self.ctx.store.transaction() as txn:
            row = await gate.rules_row(txn, group_id)
        if row is None or row.version != pair[0]:
            raise UsageProblem(
                "the text of the group's current rules has not arrived yet; run 'cove sync' "
                "and read them ('cove rules show') before accepting"
            )
        return await self.send_acceptance(group_id, pair)

    async def send_acceptance(self, group_id: bytes, pair: gate.Pair) -> int:
        version, hash_ = pair
        a = self.ctx.account
        signature = sign_acceptance(a.identity_private, group_id, version, hash_)
        record = RulesAcceptance(
            id=new_record_id(self.ctx.rng), sent_at=self.ctx.clock.now(), version=version,
            rules_hash=hash_, signature=signature,
        )  # fmt: skip
        await self._send(group_id, _app(record))
        async with self.ctx.store.transaction() as txn:
            await gate.keep_acceptance(txn, group_id, a.identity_key, a.handle, record)
        return version

    async def accept_when_joined(self, group_id: bytes, version: int, hash_: bytes) -> None:
        """The rules accepted in a join request: sent as a ``RulesAcceptance`` right after
        the group is joined (the request's acceptance is seen only by moderators)."""
        async with self.ctx.store.transaction() as txn:
            await txn.put(PENDING, group_id, PendingAcceptance(group_id, version, hash_).pack())

    async def follow_up(self, group_id: bytes) -> None:
        """After a sync of the group: send an acceptance remembered from the join
        request, if those rules are still the current ones."""
        async with self.ctx.store.transaction() as txn:
            value = await txn.get(PENDING, group_id)
            if value is None or not await self.states.is_active(txn, group_id):
                return
            await txn.delete(PENDING, group_id)
        row = PendingAcceptance.unpack(value)
        pair = (row.version, row.rules_hash)
        if join_settings(await self._group(group_id)).rules == pair:
            await self.send_acceptance(group_id, pair)

    async def acceptances(self, group_id: bytes) -> dict[int, list[str]]:
        """Moderators: who accepted which version (by handle; version 0: members who
        accepted none, as far as this app has seen)."""
        group = await self._group(group_id)
        if not is_moderator(group):
            raise NoPermission("only moderators and owners see who accepted the rules")
        async with self.ctx.store.transaction() as txn:
            rows = await gate.acceptances(txn, group_id)
        ledger = RulesLedger(group_id, {r.identity_key: (r.version, r.rules_hash) for r in rows})
        names = {m.identity_key: m.handle for m in roster_of(group)}
        names.update(
            {r.identity_key: r.handle for r in rows if r.identity_key not in names and r.handle}
        )
        out = {
            v: sorted(names[k] for k in keys if k in names)
            for v, keys in ledger.by_version().items()
        }
        out = {v: hs for v, hs in out.items() if hs}
        none = sorted(h for k, h in names.items() if k in names and ledger.version_of(k) is None)
        if none:
            out[0] = none
        return dict(sorted(out.items()))
