"""Joining a group: invite links, link previews, join requests, open links,
rules acceptance and newcomer history — pure and sans-I/O.

* :mod:`.link` — the link format (``<relay>/j/<id>#<material>``), its strict
  parser and the keys derived from it with HKDF;
* :mod:`.preview` — the preview sealed under the link and signed by the inviter;
* :mod:`.join_settings` — the GroupContext extension ``0xF0C2`` (history level,
  open links switch, rules version and hash, intake key, links with caps and
  use counts) and the rule for changing it;
* :mod:`.intake` — the moderators' intake key, derived from the moderators'
  MLS group;
* :mod:`.join_request` — sealed join requests, the replay log, sealed declines;
* :mod:`.open_join` — the link proof of an external commit, the rule every
  member checks, the GroupInfo sealed to an open link;
* :mod:`.rules` — the rules hash, signed acceptances and the post rule;
* :mod:`.history` — the newcomer's history bundle.

Refusals are :class:`InviteRefused` (rule ids in :data:`RULES`); a link that
does not parse raises :class:`InviteLinkError`. The specification is
``docs/protocol/invites.md``; decision ``docs/decisions/0016``.
"""

from .errors import LINK_ERROR_CODES, RULES, InviteLinkError, InviteRefused
from .history import (
    HistoryBundle,
    HistoryItem,
    SealedBundle,
    build_bundle,
    check_bundle,
    open_bundle,
    open_bundle_key,
    seal_bundle,
    seal_bundle_key,
)
from .intake import IntakeKeyPair, derive_intake_key, intake_exporter_context
from .join_request import (
    JoinRequest,
    JoinRequestLog,
    PendingRequest,
    make_join_request,
    open_decline,
    open_join_request,
    request_header,
    seal_decline,
)
from .join_settings import (
    JOIN_SETTINGS_EXTENSION,
    HistoryLevel,
    IntakeKey,
    JoinSettings,
    LinkEntry,
    LinkMode,
    check_join_settings_change,
    with_join_settings,
)
from .link import (
    INVITE_SUITE,
    InviteLink,
    LinkKeys,
    canonical_relay_url,
    capability_matches,
    capability_verifier,
    derive_link_keys,
    inviter_pin,
    link_id_from_text,
    link_id_text,
    new_invite_link,
    parse_invite_link,
)
from .open_join import (
    ExternalJoin,
    LinkJoinProof,
    check_external_join,
    external_join_of,
    make_link_join_proof,
    open_group_info,
    seal_group_info,
    sealed_group_info_epoch,
)
from .preview import LinkPreview, check_preview_current, open_preview, seal_preview
from .rules import (
    RulesLedger,
    check_may_post,
    check_rules_text,
    rules_hash,
    sign_acceptance,
    verify_acceptance,
)

__all__ = [
    "INVITE_SUITE",
    "JOIN_SETTINGS_EXTENSION",
    "LINK_ERROR_CODES",
    "RULES",
    "ExternalJoin",
    "HistoryBundle",
    "HistoryItem",
    "HistoryLevel",
    "IntakeKey",
    "IntakeKeyPair",
    "InviteLink",
    "InviteLinkError",
    "InviteRefused",
    "JoinRequest",
    "JoinRequestLog",
    "JoinSettings",
    "LinkEntry",
    "LinkJoinProof",
    "LinkKeys",
    "LinkMode",
    "LinkPreview",
    "PendingRequest",
    "RulesLedger",
    "SealedBundle",
    "build_bundle",
    "canonical_relay_url",
    "capability_matches",
    "capability_verifier",
    "check_bundle",
    "check_external_join",
    "check_join_settings_change",
    "check_may_post",
    "check_preview_current",
    "check_rules_text",
    "derive_intake_key",
    "derive_link_keys",
    "external_join_of",
    "intake_exporter_context",
    "inviter_pin",
    "link_id_from_text",
    "link_id_text",
    "make_join_request",
    "make_link_join_proof",
    "new_invite_link",
    "open_bundle",
    "open_bundle_key",
    "open_decline",
    "open_group_info",
    "open_join_request",
    "open_preview",
    "parse_invite_link",
    "request_header",
    "rules_hash",
    "seal_bundle",
    "seal_bundle_key",
    "seal_decline",
    "seal_group_info",
    "seal_preview",
    "sealed_group_info_epoch",
    "sign_acceptance",
    "verify_acceptance",
    "with_join_settings",
]
