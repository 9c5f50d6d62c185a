"""The group policy: roles, bans and who may do what, decided by every member.

Pure and deterministic (no clock, no I/O, no local-only data). The policy lives
in a GroupContext extension (:mod:`.extension`, type ``0xF0C1``); commits are
judged by :func:`authorize_commit` (plain values) or :func:`authorize_mls_commit`
(MLS structs), application records by :func:`authorize_record`. Every decision
is a :class:`Decision`: allowed, or a :class:`Refusal` with a rule id
(:data:`RULES`) and an explanation for members. The specification is
``docs/protocol/policy.md``.
"""

from .adapter import authorize_mls_commit, commit_input, group_state, roster_from_tree
from .changes import (
    ban_proposals,
    current_policy,
    remove_proposals,
    set_role_proposals,
    unban_proposals,
)
from .commits import CommitInput, GroupState, ProposalInput, authorize_commit
from .decisions import ALLOWED, RULES, Decision, PolicyRefused, Refusal, Rule, refuse, rule
from .extension import (
    COVE_EXTENSION_TYPES,
    MAX_ASSIGNMENTS,
    POLICY_EXTENSION,
    POLICY_VERSION,
    GroupPolicy,
    initial_extensions,
    initial_policy,
    required_capabilities_extension,
    with_policy,
)
from .join_record_rules import register_join_record_rules
from .joins import authorize_join, check_state
from .link_joins import count_link_join, link_join_of
from .records import (
    DEFAULT_RECORD_RULES,
    RecordContext,
    RecordRule,
    RecordRules,
    authorize_record,
    register_record_rule,
    requires,
)
from .roles import ROLE_CAPABILITIES, Capability, Role, can, outranks
from .roster import Member, Roster, identity_of

__all__ = [
    "ALLOWED",
    "COVE_EXTENSION_TYPES",
    "DEFAULT_RECORD_RULES",
    "MAX_ASSIGNMENTS",
    "POLICY_EXTENSION",
    "POLICY_VERSION",
    "ROLE_CAPABILITIES",
    "RULES",
    "Capability",
    "CommitInput",
    "Decision",
    "GroupPolicy",
    "GroupState",
    "Member",
    "PolicyRefused",
    "ProposalInput",
    "RecordContext",
    "RecordRule",
    "RecordRules",
    "Refusal",
    "Role",
    "Roster",
    "Rule",
    "authorize_commit",
    "authorize_join",
    "authorize_mls_commit",
    "authorize_record",
    "ban_proposals",
    "can",
    "check_state",
    "commit_input",
    "count_link_join",
    "current_policy",
    "group_state",
    "identity_of",
    "initial_extensions",
    "initial_policy",
    "link_join_of",
    "outranks",
    "refuse",
    "register_join_record_rules",
    "register_record_rule",
    "remove_proposals",
    "required_capabilities_extension",
    "requires",
    "roster_from_tree",
    "rule",
    "set_role_proposals",
    "unban_proposals",
    "with_policy",
]
