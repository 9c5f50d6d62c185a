"""The rules of the app records of joining (``docs/protocol/invites.md`` §12),
registered in the default record table of :mod:`.records`.

* 32 ``Rules``: moderators and up (``canAddParticipant``,
  ``policy.record.rules_requires_moderator``), and the text must be the group's
  current rules: ``(version, rules_hash(group_id, version, salt, text))`` equals
  the join settings' pair (``policy.record.rules_mismatch``);
* 33 ``RulesAcceptance``: any member, signed by the sender's identity key
  (``policy.record.acceptance_invalid``);
* 34 ``AcceptanceList``: moderators and up
  (``policy.record.acceptance_list_requires_moderator``), for the join settings'
  current ``(version, hash)`` (``policy.record.acceptance_list_mismatch``), and
  every entry's signature verifies under the identity key it names
  (``policy.record.acceptance_list_invalid``) — one bad entry refuses the record;
* 48 ``WelcomeMessage`` and 49 ``HistoryShare``: moderators and up
  (``policy.record.welcome_requires_moderator``,
  ``policy.record.history_requires_moderator``).

Whether a post needs an acceptance of the current rules (``check_may_post``) is
the client's part: it needs the ledger of acceptances in log order.
"""

from __future__ import annotations

from typing import Final

from ..app.join_records import (
    AcceptanceList,
    HistoryShare,
    Rules,
    RulesAcceptance,
    WelcomeMessage,
)
from ..invites.errors import InviteRefused
from ..invites.rules import check_rules_text, verify_acceptance
from . import rules as R
from .decisions import ALLOWED, Decision
from .records import DEFAULT_RECORD_RULES, RecordContext, RecordRules, requires
from .roles import Capability, can


def rules_record_rule(ctx: RecordContext) -> Decision:
    """``Rules``: from a moderator, and the settings' current rules."""
    action = "set the group's rules"
    if not can(ctx.sender_role, Capability.CAN_ADD_PARTICIPANT):
        return ctx.refuse(R.RULES_REQUIRES_MODERATOR, action)
    record = ctx.record
    assert isinstance(record, Rules)
    current = ctx.join_settings.rules if ctx.join_settings is not None else None
    try:
        check_rules_text(current, ctx.group_id, record.version, record.salt, record.text)
    except InviteRefused:
        return ctx.refuse(R.RULES_MISMATCH, action)
    return ALLOWED


def acceptance_record_rule(ctx: RecordContext) -> Decision:
    """``RulesAcceptance``: any member, signed by her own identity key."""
    record = ctx.record
    assert isinstance(record, RulesAcceptance)
    try:
        verify_acceptance(
            ctx.sender.identity_key,
            ctx.group_id,
            record.version,
            record.rules_hash,
            record.signature,
        )
    except InviteRefused:
        return ctx.refuse(R.ACCEPTANCE_INVALID, f"accept the rules (version {record.version})")
    return ALLOWED


def acceptance_list_record_rule(ctx: RecordContext) -> Decision:
    """``AcceptanceList``: from a moderator, for the current rules, every entry signed."""
    action = "send a newcomer the rules acceptances"
    if not can(ctx.sender_role, Capability.CAN_ADD_PARTICIPANT):
        return ctx.refuse(R.ACCEPTANCE_LIST_REQUIRES_MODERATOR, action)
    record = ctx.record
    assert isinstance(record, AcceptanceList)
    current = ctx.join_settings.rules if ctx.join_settings is not None else None
    if current != (record.version, record.rules_hash):
        return ctx.refuse(R.ACCEPTANCE_LIST_MISMATCH, action)
    for identity_key, signature in record.pairs():
        try:
            verify_acceptance(
                identity_key, ctx.group_id, record.version, record.rules_hash, signature
            )
        except InviteRefused:
            return ctx.refuse(R.ACCEPTANCE_LIST_INVALID, action)
    return ALLOWED


JOIN_RECORD_RULES: Final = (
    (Rules.RECORD_TYPE, rules_record_rule),
    (RulesAcceptance.RECORD_TYPE, acceptance_record_rule),
    (AcceptanceList.RECORD_TYPE, acceptance_list_record_rule),
    (
        WelcomeMessage.RECORD_TYPE,
        requires(
            Capability.CAN_ADD_PARTICIPANT,
            R.WELCOME_REQUIRES_MODERATOR,
            "send the welcome message",
        ),
    ),
    (
        HistoryShare.RECORD_TYPE,
        requires(
            Capability.CAN_ADD_PARTICIPANT,
            R.HISTORY_REQUIRES_MODERATOR,
            "share the group's history",
        ),
    ),
)


def register_join_record_rules(table: RecordRules) -> None:
    for record_type, record_rule in JOIN_RECORD_RULES:
        table.register(record_type, record_rule)


register_join_record_rules(DEFAULT_RECORD_RULES)

__all__ = [
    "acceptance_list_record_rule",
    "acceptance_record_rule",
    "register_join_record_rules",
    "rules_record_rule",
]
