"""The rules of the default policy (version 1), each with its id and reason.

The reasons are written for members to read ("only moderators can remove
members"); :meth:`~.decisions.Refusal.explain` puts who tried and what in front.
"""

from __future__ import annotations

from ..invites.errors import RULES as _INVITE_RULES
from .decisions import rule

# -- the group's state before the commit --------------------------------------------
STATE_MISSING = rule(
    "policy.state.missing", "this group has no policy, so no change to it can be checked"
)
STATE_MALFORMED = rule("policy.state.malformed", "the group's policy cannot be read")
STATE_INCONSISTENT = rule(
    "policy.state.inconsistent",
    "the group's roles do not match its members (a role for a non-member, a banned "
    "member, or no owner)",
)

# -- who commits and who proposes ---------------------------------------------------
COMMITTER_NOT_MEMBER = rule(
    "policy.commit.committer_not_member", "only members of the group can change it"
)
PROPOSER_NOT_MEMBER = rule(
    "policy.proposal.proposer_not_member", "only members of the group can propose changes"
)
EXTERNAL_NOT_ALLOWED = rule(
    "policy.external.not_allowed", "nobody can join this group without being added"
)

# -- membership ---------------------------------------------------------------------------
ADD_REQUIRES_MODERATOR = rule(
    "policy.add.requires_moderator", "only moderators and owners can add members"
)
ADD_BANNED = rule("policy.add.banned", "a banned person cannot be added until unbanned")
REMOVE_NOT_MEMBER = rule("policy.remove.not_member", "that leaf is not a member")
REMOVE_REQUIRES_MODERATOR = rule(
    "policy.remove.requires_moderator", "only moderators and owners can remove members"
)
REMOVE_TARGET_OUTRANKS = rule(
    "policy.remove.target_outranks", "nobody can remove a member of their own or a higher role"
)
REMOVE_ROLE_NOT_CLEARED = rule(
    "policy.remove.role_not_cleared",
    "a removed moderator's or owner's role must be cleared in the same change",
)

# -- identity continuity --------------------------------------------------------------------
IDENTITY_NOT_COVE = rule("policy.identity.not_cove", "the new device is not a Cove identity")
IDENTITY_KEY_CHANGED = rule(
    "policy.identity.key_changed", "a member cannot replace their identity key"
)
IDENTITY_HANDLE_CHANGED = rule(
    "policy.identity.handle_changed", "a member cannot change their name in the group"
)
DUPLICATE_KEY = rule("policy.identity.duplicate_key", "one identity cannot be in the group twice")
DUPLICATE_HANDLE = rule(
    "policy.identity.duplicate_handle", "two members of one group cannot share a name"
)

# -- roles, bans -------------------------------------------------------------------------------
ROLE_REQUIRES_OWNER = rule("policy.role.requires_owner", "only owners can change roles")
ROLE_NOT_MEMBER = rule(
    "policy.role.not_member", "only members of the group can be moderators or owners"
)
LAST_OWNER = rule("policy.role.last_owner", "a group always keeps at least one owner")
BAN_REQUIRES_MODERATOR = rule("policy.ban.requires_moderator", "only moderators and owners can ban")
BAN_TARGET_OUTRANKS = rule(
    "policy.ban.target_outranks", "nobody can ban a member of their own or a higher role"
)
BAN_REQUIRES_REMOVE = rule(
    "policy.ban.requires_remove", "a ban must remove the banned person in the same change"
)
UNBAN_REQUIRES_MODERATOR = rule(
    "policy.unban.requires_moderator", "only moderators and owners can unban"
)

# -- group context extensions and other proposals ---------------------------------------------
POLICY_REMOVED = rule("policy.extension.removed", "the group's policy cannot be removed")
POLICY_MALFORMED = rule("policy.extension.malformed", "the new policy cannot be read")
POLICY_NOT_REQUIRED = rule(
    "policy.extension.not_required", "every member's app must keep enforcing the policy"
)
METADATA_MALFORMED = rule(
    "policy.metadata.malformed",
    "the group's name must be one line of 1 to 200 bytes (a private conversation has none)",
)
METADATA_REQUIRES_MODERATOR = rule(
    "policy.metadata.requires_moderator",
    "only moderators and owners can change the group's name or description",
)
EXTENSIONS_REQUIRE_OWNER = rule(
    "policy.extensions.requires_owner", "only owners can change the group's settings"
)
REINIT_REQUIRES_OWNER = rule("policy.reinit.requires_owner", "only owners can restart the group")
PSK_REQUIRES_OWNER = rule("policy.psk.requires_owner", "only owners can use pre-shared keys")

# -- application records ------------------------------------------------------------------------
RECORD_SENDER_NOT_MEMBER = rule(
    "policy.record.sender_not_member", "only members of the group can post"
)
RECORD_UNREGISTERED = rule(
    "policy.record.unregistered", "this kind of message has no rule, so it is not accepted"
)
RECORD_TARGET_UNKNOWN = rule(
    "policy.record.target_unknown", "the message it refers to is not known"
)
EDIT_NOT_AUTHOR = rule("policy.record.edit_not_author", "only the author can edit a message")
DELETE_NOT_ALLOWED = rule(
    "policy.record.delete_not_allowed",
    "only the author or a moderator can delete a message",
)
RECORD_METADATA_REQUIRES_MODERATOR = rule(
    "policy.record.metadata_requires_moderator",
    "only moderators and owners can change the group's name or description",
)

RULES_REQUIRES_MODERATOR = rule(
    "policy.record.rules_requires_moderator", "only moderators and owners can set the group's rules"
)
RULES_MISMATCH = rule(
    "policy.record.rules_mismatch",
    "the rules text does not match the rules version and hash in the group's settings",
)
ACCEPTANCE_INVALID = rule(
    "policy.record.acceptance_invalid",
    "the rules acceptance is not signed by the sender's identity key",
)
ACCEPTANCE_LIST_REQUIRES_MODERATOR = rule(
    "policy.record.acceptance_list_requires_moderator",
    "only moderators and owners can send a newcomer the list of rules acceptances",
)
ACCEPTANCE_LIST_MISMATCH = rule(
    "policy.record.acceptance_list_mismatch",
    "the list of rules acceptances is not for the rules version and hash in the group's settings",
)
ACCEPTANCE_LIST_INVALID = rule(
    "policy.record.acceptance_list_invalid",
    "an acceptance in the list is not signed by the identity key it names",
)
WELCOME_REQUIRES_MODERATOR = rule(
    "policy.record.welcome_requires_moderator",
    "only moderators and owners can set or send the welcome message",
)
HISTORY_REQUIRES_MODERATOR = rule(
    "policy.record.history_requires_moderator",
    "only moderators and owners can share the group's history with a newcomer",
)

# -- the join settings (0xF0C2) and external joins: the invites layer's rules ----------------
#: ``invite.settings.*`` and ``invite.open.*`` of :data:`cove.protocol.invites.RULES`
#: as policy rules ``policy.join.settings.*`` and ``policy.join.open.*``, with the
#: same reasons.
JOIN_RULES = {
    _invite_id: rule("policy.join." + _invite_id.split(".", 1)[1], _reason)
    for _invite_id, _reason in _INVITE_RULES.items()
    if _invite_id.startswith(("invite.settings.", "invite.open."))
}
