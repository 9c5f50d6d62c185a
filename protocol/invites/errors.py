"""Typed errors of invite links, join requests, rules and history bundles.

* :class:`InviteLinkError` (a :class:`~cove.protocol.errors.DecodeError`): a link
  that does not parse. ``.code`` says what is wrong (one of :data:`LINK_ERROR_CODES`);
  the message is written for the person who typed or scanned the link and never
  repeats the link's secret.
* :class:`InviteRefused` (a :class:`~cove.protocol.errors.ValidationError`): a
  well-formed invite object that a rule refuses (expired link, forged preview,
  replayed join request, an external commit beyond the link's caps...). ``.rule``
  is the rule id (``invite.<area>.<what>``, listed in :data:`RULES`).

Failed AEAD, HPKE or signature checks inside these objects are reported as
:class:`InviteRefused` with a rule id too, so callers can show one clear message.
"""

from __future__ import annotations

from typing import Final

from ..errors import DecodeError, ValidationError

#: Codes of :class:`InviteLinkError`.
LINK_ERROR_CODES: Final = (
    "too_long",
    "not_text",
    "not_a_link",
    "scheme",
    "host",
    "path",
    "link_id",
    "secret",
    "mismatch",
    "wrong_relay",
)


class InviteLinkError(DecodeError):
    """An invite link that cannot be used as written."""

    def __init__(self, code: str, message: str) -> None:
        assert code in LINK_ERROR_CODES
        self.code = code
        super().__init__(message, type_name="InviteLink")


#: Every rule id of the invites layer and what it means, for people.
RULES: Final[dict[str, str]] = {
    # links and previews
    "invite.link.expired": "this invite link has expired",
    "invite.link.revoked": "this invite link was revoked",
    "invite.link.used_up": "this invite link has been used as many times as it allows",
    "invite.preview.undecryptable": "the invite preview does not open with this link "
    "(altered, or not this link's preview)",
    "invite.preview.malformed": "the invite preview is malformed",
    "invite.preview.wrong_link": "the invite preview belongs to another link",
    "invite.preview.inviter_mismatch": "the preview names another inviter than the link",
    "invite.preview.bad_signature": "the inviter's signature on the preview does not verify",
    # join requests
    "invite.request.undecryptable": "the join request does not open with the moderators' key",
    "invite.request.malformed": "the join request is malformed",
    "invite.request.wrong_group": "the join request is for another group or link",
    "invite.request.bad_signature": "the requester's signature does not verify",
    "invite.request.bad_link_proof": "the request does not prove possession of the link",
    "invite.request.key_package_mismatch": "the KeyPackage is not the requester's",
    "invite.request.answers_mismatch": "the answers do not match the join questions",
    "invite.request.rules_not_accepted": "the request does not accept the current rules",
    "invite.request.replayed": "this join request was already handled (a replay)",
    "invite.request.stale": "this join request is too old",
    "invite.decline.undecryptable": "the decline message does not open",
    "invite.decline.malformed": "the decline message is malformed",
    # open links (external commits)
    "invite.open.disabled": "this group does not admit people through open links",
    "invite.open.no_proof": "an external commit without a link proof",
    "invite.open.malformed_proof": "the link proof is malformed",
    "invite.open.unknown_link": "the link is not one of this group's links (or was revoked)",
    "invite.open.approval_link": "an approval link cannot be used to join directly",
    "invite.open.used_up": "the link has been used as many times as it allows",
    "invite.open.not_counted": "the previous join through a link has not been counted yet",
    "invite.open.bad_proof": "the link proof does not verify",
    "invite.open.rules_not_accepted": "the joiner did not accept the current rules",
    "invite.open.banned": "the joiner is banned from this group",
    "invite.open.already_member": "the joiner is already a member",
    "invite.open.removes_other": "an external commit may remove only the joiner's own old leaf",
    "invite.open.extra_proposals": "an external commit may carry only ExternalInit and "
    "one Remove of the joiner's own old leaf",
    # the join settings extension
    "invite.settings.malformed": "the group's join settings are malformed",
    "invite.settings.removed": "the group's join settings cannot be removed",
    "invite.settings.not_allowed": "only moderators may change links, rules and history",
    "invite.settings.owner_only": "only an owner may turn open links on or off",
    "invite.settings.count_missing": "the commit after a link join must count it",
    "invite.settings.count_wrong": "a link's use count may only grow by the joins it counts",
    "invite.settings.rules_version": "a new rules text needs the next rules version",
    # rules
    "invite.rules.text_mismatch": "the rules text does not match the group's rules hash",
    "invite.rules.bad_acceptance": "the rules acceptance signature does not verify",
    "invite.rules.not_accepted": "the sender has not accepted the current rules",
    # history
    "invite.history.undecryptable": "the history bundle does not open",
    "invite.history.malformed": "the history bundle is malformed",
    "invite.history.wrong_group": "the history bundle is for another group or member",
    "invite.history.beyond_setting": "the history bundle holds more than the group shares",
}


class InviteRefused(ValidationError):
    """A rule of the invites layer refused something; ``.rule`` is its id."""

    def __init__(self, rule: str, detail: str = "") -> None:
        assert rule in RULES, rule
        text = RULES[rule] + (f": {detail}" if detail else "")
        super().__init__(rule, text)


__all__ = ["LINK_ERROR_CODES", "RULES", "InviteLinkError", "InviteRefused"]
