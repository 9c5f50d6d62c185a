"""Whether an application record is allowed: a rule per record type.

:func:`authorize_record` looks up the rule registered for the record's type and
calls it with a :class:`RecordContext` (the sender's identity and role, the
record, the identity of the author of the record it targets). The rules read
only the policy state and the authors recorded in log order, so every member
decides alike. A feature module adds the rule of its record type with
:func:`register_record_rule` (or :meth:`RecordRules.register` on its own
table); nothing here needs editing. A record type with no rule is refused.

Authorship is always compared by identity key, never by handle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from ..app.records import RecordType
from ..errors import UsageError
from ..invites.join_settings import JoinSettings
from . import rules as R
from .decisions import ALLOWED, Decision, Rule, refuse
from .extension import GroupPolicy
from .roles import Capability, Role, can
from .roster import Member, Roster


class _HasRecordType(Protocol):
    @property
    def RECORD_TYPE(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What a record rule may look at. ``group_id`` and ``join_settings`` (the
    group's, at the record's place in the log) are for the rules of the joining
    records (rules text, acceptances); ``b""``/``None`` when the caller has none."""

    sender: Member
    sender_role: Role
    record: object
    target_author: bytes | None
    target_handle: str | None
    group_id: bytes = b""
    join_settings: JoinSettings | None = None

    def refuse(self, r: Rule, action: str) -> Decision:
        return refuse(r, self.sender.handle, action)

    @property
    def target_name(self) -> str:
        return self.target_handle or "someone"

    @property
    def is_author(self) -> bool:
        return self.target_author is not None and self.target_author == self.sender.identity_key


RecordRule = Callable[[RecordContext], Decision]


class RecordRules:
    """A table record type → rule; feature modules register their own rules."""

    def __init__(self) -> None:
        self._rules: dict[int, RecordRule] = {}

    def register(self, record_type: int, record_rule: RecordRule) -> None:
        if int(record_type) in self._rules:
            raise UsageError(f"record type {int(record_type)} already has a rule")
        self._rules[int(record_type)] = record_rule

    def rule_for(self, record_type: int) -> RecordRule | None:
        return self._rules.get(int(record_type))

    def copy(self) -> RecordRules:
        out = RecordRules()
        out._rules = dict(self._rules)
        return out


def requires(capability: Capability, r: Rule, action: str) -> RecordRule:
    """A rule that lets any sender whose role holds ``capability`` through."""

    def check(ctx: RecordContext) -> Decision:
        return ALLOWED if can(ctx.sender_role, capability) else ctx.refuse(r, action)

    return check


def _needs_target(ctx: RecordContext, action: str) -> Decision | None:
    if ctx.target_author is None:
        return ctx.refuse(R.RECORD_TARGET_UNKNOWN, action)
    return None


def edit_rule(ctx: RecordContext) -> Decision:
    """Edits: only the author of the target (canEditOwnMessage; no one else's)."""
    action = f"edit a message by {ctx.target_name}"
    missing = _needs_target(ctx, action)
    if missing is not None:
        return missing
    if ctx.is_author and can(ctx.sender_role, Capability.CAN_EDIT_OWN_MESSAGE):
        return ALLOWED
    return ctx.refuse(R.EDIT_NOT_AUTHOR, action)


def redaction_rule(ctx: RecordContext) -> Decision:
    """Deletions: the author (canDeleteOwnMessage) or a moderator and up
    (canDeleteOtherMessage, moderator redaction)."""
    action = f"delete a message by {ctx.target_name}"
    missing = _needs_target(ctx, action)
    if missing is not None:
        return missing
    if ctx.is_author and can(ctx.sender_role, Capability.CAN_DELETE_OWN_MESSAGE):
        return ALLOWED
    if can(ctx.sender_role, Capability.CAN_DELETE_OTHER_MESSAGE):
        return ALLOWED
    return ctx.refuse(R.DELETE_NOT_ALLOWED, action)


def reaction_rule(ctx: RecordContext) -> Decision:
    """Reactions: any member, to a known message (canReactToMessage)."""
    action = f"react to a message by {ctx.target_name}"
    missing = _needs_target(ctx, action)
    if missing is not None:
        return missing
    return requires(Capability.CAN_REACT_TO_MESSAGE, R.RECORD_SENDER_NOT_MEMBER, action)(ctx)


_post_rule: Final = requires(Capability.CAN_SEND_MESSAGE, R.RECORD_SENDER_NOT_MEMBER, "post")
_metadata_rule: Final = requires(
    Capability.CAN_CHANGE_ROOM_NAME, R.RECORD_METADATA_REQUIRES_MODERATOR, "rename the group"
)

#: The rules of the record types of :mod:`cove.protocol.app.records`.
DEFAULT_RECORD_RULES: Final = RecordRules()
for _type, _rule in (
    (RecordType.THREAD_ROOT, _post_rule),
    (RecordType.POST, _post_rule),
    (RecordType.DIRECT_MESSAGE, _post_rule),
    (RecordType.REACTION, reaction_rule),
    (RecordType.EDIT, edit_rule),
    (RecordType.REDACTION, redaction_rule),
    (RecordType.GROUP_METADATA, _metadata_rule),
):
    DEFAULT_RECORD_RULES.register(_type, _rule)


def register_record_rule(record_type: int, record_rule: RecordRule) -> None:
    """Register the rule of a feature's record type in the default table."""
    DEFAULT_RECORD_RULES.register(record_type, record_rule)


def authorize_record(
    policy: GroupPolicy,
    roster: Roster,
    sender_identity: bytes,
    record: _HasRecordType,
    *,
    target_author: bytes | None = None,
    target_handle: str | None = None,
    sender_handle: str | None = None,
    group_id: bytes = b"",
    join_settings: JoinSettings | None = None,
    rules: RecordRules = DEFAULT_RECORD_RULES,
) -> Decision:
    """Whether ``record`` from the member with ``sender_identity`` is allowed.

    ``roster`` and ``policy`` are the group's at the record's place in the log
    (the epoch it was sent in); ``target_author`` is the identity key of the
    author of the record it refers to (``None`` if there is none or it is
    unknown) and ``target_handle`` that author's handle, for the explanation;
    ``sender_handle`` names a sender who is not in ``roster`` (e.g. from the
    credential of a removed member's old leaf), also only for the explanation;
    ``group_id`` and ``join_settings`` (the group's at the record's place) are what
    the rules of ``Rules`` and ``RulesAcceptance`` records check against — without
    them such records are refused.
    """
    sender = roster.by_identity(sender_identity)
    if sender is None:
        return refuse(R.RECORD_SENDER_NOT_MEMBER, sender_handle, "post")
    role = policy.role_of(sender_identity, in_group=True)
    record_rule = rules.rule_for(record.RECORD_TYPE)
    if record_rule is None:
        return refuse(R.RECORD_UNREGISTERED, sender.handle, "send an unknown kind of message")
    return record_rule(
        RecordContext(sender, role, record, target_author, target_handle, group_id, join_settings)
    )


__all__ = [
    "DEFAULT_RECORD_RULES",
    "RecordContext",
    "RecordRule",
    "RecordRules",
    "authorize_record",
    "edit_rule",
    "reaction_rule",
    "redaction_rule",
    "register_record_rule",
    "requires",
]
