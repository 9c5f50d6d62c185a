"""Roles and moderation on the client: the policy every member enforces, made
visible and usable (issue 9; the rules are ``docs/protocol/policy.md``).

* **Receiving.** The group code (``cove.protocol.mls.group.policy_hook``) refuses
  commits, Welcomes and removed members' late messages; the sync engine turns
  each refusal into a :class:`~cove.client.sync.engine.Refused` event. Every app
  record a feature handles is judged here (:func:`authorize_incoming`) with the
  group's policy and roster at the record's place in the log, the target's
  author compared by **identity key** (kept with every message). A refused
  record is not kept.
* **Events.** Refusals, membership, role and name changes are kept in the
  ``event`` collection (partition: the group) and shown by ``cove read``,
  ``cove listen``, ``cove sync`` and :meth:`CoveClient.events`, e.g.
  ``cara tried to remove ana — refused: only moderators and owners can remove members``.
* **Acting.** Role changes, removals, bans and unbans are commits built with
  :mod:`cove.protocol.policy.changes`; the relay's access-control table is told
  afterwards, as a hint (it may restrict, it never grants).
* **Cross-checking the relay.** After a commit, the relay's member table is
  compared with the roster the commits produced; a difference is shown as an
  event (the relay was told something the commits do not say).

Groups created before the policy existed have no policy extension: their
commits cannot be judged, so they are refused (``LegacyGroup``): members create
a new group (pre-release; ``docs/decisions/0010-group-policy-in-every-client.md``).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar, cast

from cove.client.errors import NoPermission, UsageProblem
from cove.client.features import Feature, Incoming, register
from cove.client.messages import MessageStore
from cove.client.records import MessageView
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol import Group
from cove.protocol.app import AppRecord
from cove.protocol.app.moderation_records import ModerationNote
from cove.protocol.group_metadata import GroupMetadata
from cove.protocol.identity import CoveIdentity
from cove.protocol.invites import JoinSettings
from cove.protocol.mls.extensions import Extension
from cove.protocol.mls.group.policy_hook import policed
from cove.protocol.policy import (
    Capability,
    Decision,
    GroupPolicy,
    GroupState,
    PolicyRefused,
    Role,
    Roster,
    authorize_record,
    register_record_rule,
    requires,
)
from cove.protocol.policy import Member as PolicyMember
from cove.protocol.policy import rules as R
from cove.protocol.wire.schema import Bytes, Int, Str

EVENT = "event"
I63 = 2**63 - 1
ROLE_NAMES = {Role.OWNER: "owner", Role.MODERATOR: "moderator", Role.MEMBER: "member"}
ROLES_BY_NAME = {v: k for k, v in ROLE_NAMES.items()}


class LegacyGroup(UsageProblem):
    """A group created before Cove enforced roles: it has no policy to check."""


class Refused(NoPermission):
    """Our own action is refused by the group's policy (``rule``: the rule id)."""

    def __init__(self, decision: Decision) -> None:
        self.rule = decision.rule_id or ""
        super().__init__(decision.explain())


# -- the group's policy state, from a Group --------------------------------------------


_ROSTERS: weakref.WeakKeyDictionary[Group, tuple[tuple[int, bytes], Roster]] = (
    weakref.WeakKeyDictionary()
)


def roster_of(group: Group) -> Roster:
    """The group's roster (cached per group object and epoch: building it parses
    every member's credential, and every received record needs it)."""
    key = (group.epoch, group.tree_hash)
    cached = _ROSTERS.get(group)
    if cached is not None and cached[0] == key:
        return cached[1]
    roster = _build_roster(group)
    _ROSTERS[group] = (key, roster)
    return roster


def _build_roster(group: Group) -> Roster:
    out = []
    for m in group.members():
        ident = CoveIdentity.from_credential(m.credential)
        out.append(PolicyMember(m.leaf_index, ident.identity_key, ident.handle))
    return Roster.of(out)


def state_of(group: Group) -> GroupState:
    return GroupState(roster_of(group), tuple(group.extensions))


def policy_of(group: Group) -> GroupPolicy:
    require_policed(group)
    policy = GroupPolicy.from_extensions(group.extensions)
    assert policy is not None  # policed groups' policies decode (their commits were checked)
    return policy


def require_policed(group: Group) -> None:
    if not policed(group.extensions):
        raise LegacyGroup(
            "this group was created before Cove enforced roles in every member's app; "
            "its changes cannot be checked — create a new group and add its members"
        )


def roles(group: Group) -> dict[str, str]:
    """Each member's role by handle (owner, moderator or member)."""
    if not policed(group.extensions):
        return {}
    policy = policy_of(group)
    return {
        m.handle: ROLE_NAMES.get(policy.role_of(m.identity_key, in_group=True), "member")
        for m in roster_of(group)
    }


# -- describing a commit ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Before:
    """What a commit is compared with: the extensions and roster before it."""

    extensions: tuple[Extension, ...]
    roster: Roster


def before(group: Group) -> Before | None:
    if not group.active or not policed(group.extensions):
        return None
    return Before(tuple(group.extensions), roster_of(group))


_MARK = "\x00"  # around the hex identity key of someone not in the roster


async def with_names(txn: Txn, text: str) -> str:
    """Name identities outside the roster by the handles this app pinned for them."""
    if _MARK not in text:
        return text
    from cove.client.trust import PIN, Pin

    known = {}
    for _, value in await txn.scan(PIN):
        pin = Pin.unpack(value)
        known[pin.identity_key.hex()] = pin.handle
    parts = text.split(_MARK)
    for i in range(1, len(parts), 2):
        parts[i] = known.get(parts[i], "someone outside the group")
    return "".join(parts)


def handle_of(credential_identity: bytes) -> str:
    return CoveIdentity.from_bytes(credential_identity).handle


def describe(prev: Before, group: Group, committer: str) -> list[str]:
    """What a commit changed, in words: members added and removed, roles, bans, name."""
    after = roster_of(group)
    names: dict[bytes, str] = {m.identity_key: m.handle for m in prev.roster}
    names.update({m.identity_key: m.handle for m in after})
    old_keys, new_keys = prev.roster.identities(), after.identities()
    lines = [  # someone who adds herself joined by an external commit (an open link)
        f"{committer} joined with an invite link" if names[k] == committer
        else f"{committer} added {names[k]}"
        for k in sorted(new_keys - old_keys, key=names.__getitem__)
    ]  # fmt: skip
    for k in sorted(old_keys - new_keys, key=names.__getitem__):
        lines.append(
            f"{names[k]} left" if names[k] == committer else f"{committer} removed {names[k]}"
        )
    old_p = GroupPolicy.from_extensions(prev.extensions)
    new_p = GroupPolicy.from_extensions(group.extensions)
    if old_p is not None and new_p is not None:
        for key in sorted(set(old_p.assignments) | set(new_p.assignments)):
            was, now = old_p.assigned(key), new_p.assigned(key)
            if was == now:
                continue
            who = names.get(key) or f"{_MARK}{key.hex()}{_MARK}"
            if now == Role.BANNED:
                lines.append(f"{committer} banned {who}")
            elif was == Role.BANNED:
                lines.append(f"{committer} unbanned {who}")
            elif key in new_keys:
                lines.append(f"{committer} made {who} {ROLE_NAMES.get(now or Role.MEMBER)}")
    old_m = GroupMetadata.from_extensions(prev.extensions)
    new_m = GroupMetadata.from_extensions(group.extensions)
    if old_m is not None and new_m is not None:
        if old_m.name != new_m.name:
            lines.append(f"{committer} renamed the group to «{new_m.name}»")
        if old_m.description != new_m.description:
            lines.append(f"{committer} changed the group's description")
    return lines


# -- judging received records ----------------------------------------------------------


def identity_by_handle(group: Group, handle: str) -> bytes:
    """The identity key of the member with this handle now (b"" if none)."""
    m = next((m for m in roster_of(group) if m.handle == handle), None)
    return b"" if m is None else m.identity_key


async def authorize_incoming(
    txn: Txn, messages: MessageStore, group_id: bytes, group: Group, record: AppRecord,
    sender_handle: str, sender_key: bytes, settings: JoinSettings | None = None,
) -> Decision | None:  # fmt: skip
    """The policy's decision on a received record (None: a group without policy).

    ``settings``: the join settings in force at the record's place in the log (the
    sync runner follows them commit by commit); the group's current ones if omitted."""
    if not policed(group.extensions):
        return None
    policy = GroupPolicy.from_extensions(group.extensions)
    assert policy is not None
    author = handle = None
    target = getattr(record, "target", None)
    if isinstance(target, bytes):
        found = await messages.find(txn, target)
        if found is not None and found[0] == group_id and found[1].sender_key:
            author, handle = found[1].sender_key, found[1].sender
    return authorize_record(
        policy, roster_of(group), sender_key, record,
        target_author=author, target_handle=handle, sender_handle=sender_handle,
        group_id=group_id,
        join_settings=settings or JoinSettings.from_extensions(group.extensions),
    )  # fmt: skip


async def check_outgoing(
    txn: Txn, messages: MessageStore, group_id: bytes, group: Group, record: AppRecord
) -> None:
    """Our own record, judged as every receiver will judge it; raises :class:`Refused`
    (:class:`LegacyGroup` for a group without policy: nobody could check it)."""
    require_policed(group)
    author: bytes | None = None
    author_handle = ""
    target = getattr(record, "target", None)
    if isinstance(target, bytes):
        found = await messages.find(txn, target)
        if found is not None and found[0] == group_id and found[1].sender_key:
            author, author_handle = found[1].sender_key, found[1].sender
    roster = roster_of(group)
    me = roster.at(group.my_leaf_index)
    assert me is not None
    decision = authorize_record(
        policy_of(group), roster, me.identity_key, record,
        target_author=author, target_handle=author_handle,
        group_id=group_id, join_settings=JoinSettings.from_extensions(group.extensions),
    )  # fmt: skip
    if not decision.allowed:
        raise Refused(decision)


# -- events ----------------------------------------------------------------------------


@dataclass(slots=True)
class EventRow(StoreRecord):
    """Something members are shown in the group's timeline that is not a message."""

    KIND: ClassVar[str] = "event"

    group: Annotated[bytes, Bytes(1, 255)]
    seq: Annotated[int, Int(0, I63)]
    #: "refused", "change" (membership, roles, name) or "relay" (a cross-check)
    kind: Annotated[str, Str(1, 16)]
    text: Annotated[str, Str(1, 4096)]
    rule: Annotated[str, Str(0, 128)] = ""
    order: Annotated[int, Int(0, I63)] = 0

    def __repr__(self) -> str:
        return f"EventRow(seq={self.seq}, kind={self.kind!r}, rule={self.rule!r})"


def event_view(row: EventRow) -> MessageView:
    return MessageView(
        id=b"event" + row.order.to_bytes(8, "big"), type="event", sender="", body=row.text,
        seq=row.seq or None, group=row.group, title=row.kind, target=None,
    )  # fmt: skip


async def add_event(
    txn: Txn, group_id: bytes, seq: int, kind: str, text: str, rule: str = ""
) -> MessageView:
    order = await txn.next_order(EVENT, group_id)
    row = EventRow(group_id, seq, kind, await with_names(txn, text), rule, order)
    await txn.put(
        EVENT, group_id + order.to_bytes(8, "big"), row.pack(), partition=group_id, order=order
    )
    return event_view(row)


async def add_refusal(txn: Txn, group_id: bytes, seq: int, exc: PolicyRefused) -> MessageView:
    return await add_event(
        txn, group_id, seq, "refused", exc.decision.explain(), exc.decision.rule_id or ""
    )


def legacy_view(group_id: bytes, text: str) -> MessageView:
    """What ``cove sync`` says about a group created before the policy."""
    return event_view(EventRow(group_id, 0, "refused", text, "policy.state.missing"))


def welcome_refused(group_id: bytes, exc: PolicyRefused) -> MessageView:
    """A Welcome we refused (not joined: nothing is kept of the group)."""
    row = EventRow(group_id, 0, "refused", exc.decision.explain(), exc.decision.rule_id or "")
    return event_view(row)


async def events(txn: Txn, group_id: bytes) -> list[EventRow]:
    return [EventRow.unpack(v) for _, v in await txn.scan(EVENT, partition=group_id)]


def merge(views: Sequence[MessageView], rows: Sequence[EventRow]) -> list[MessageView]:
    """Messages and events in log order (events after the messages of their position)."""
    tagged = [((v.seq is None, v.seq or 0, 0, i), v) for i, v in enumerate(views)]
    tagged += [((False, r.seq, 1, r.order), event_view(r)) for r in rows]
    return [v for _, v in sorted(tagged, key=lambda t: t[0])]


# -- the moderation-note record: its rule and its feature ------------------------------

register_record_rule(
    ModerationNote.RECORD_TYPE,
    requires(Capability.CAN_BAN, R.BAN_REQUIRES_MODERATOR, "explain a moderation action"),
)


async def receive_note(incoming: Incoming) -> MessageView | None:
    """A moderator's reason (already allowed by the policy): shown as an event."""
    note = incoming.record
    assert isinstance(note, ModerationNote)
    if not note.reason:
        return None
    return await add_event(
        incoming.txn, incoming.group_id, incoming.seq, "change",
        f"{incoming.sender} gave the reason: {note.reason}",
    )  # fmt: skip


# ModerationNote is a feature record (registered by number), not in the AppRecord union.
FEATURE = register(Feature("moderation", (cast("type[AppRecord]", ModerationNote),), receive_note))


__all__ = [
    "EVENT",
    "Before",
    "EventRow",
    "LegacyGroup",
    "Refused",
    "add_event",
    "add_refusal",
    "authorize_incoming",
    "before",
    "check_outgoing",
    "describe",
    "events",
    "handle_of",
    "identity_by_handle",
    "legacy_view",
    "merge",
    "policy_of",
    "require_policed",
    "roles",
    "roster_of",
    "state_of",
    "welcome_refused",
]
