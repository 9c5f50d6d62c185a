"""The relay's checks of an invite link presented by its capability, and their
typed refusals (``docs/protocol/invites.md`` §4)."""

from __future__ import annotations

from cove.protocol.invites import capability_matches
from cove.protocol.wire.codes import ErrorCode

from ..errors import BadRequest, NotFound, RelayError
from ..storage.links_base import LinkRecord

NO_SUCH_LINK = "no such invite link"


class LinkExpired(RelayError):
    code = ErrorCode.LINK_EXPIRED

    def __init__(self) -> None:
        super().__init__("this invite link has expired")


class LinkUsedUp(RelayError):
    code = ErrorCode.LINK_USED_UP

    def __init__(self) -> None:
        super().__init__("this invite link has been used the maximum number of times")


class LinkRevoked(RelayError):
    code = ErrorCode.LINK_REVOKED

    def __init__(self) -> None:
        super().__init__("this invite link was revoked by the group's moderators")


def check_link(
    link: LinkRecord | None,
    capability: bytes,
    now: int,
    *,
    mode: str | None = None,
    use: bool = False,
    registration: bool = False,
    state: bool = True,
) -> LinkRecord:
    """The link behind ``capability``, or the refusal. An unknown link and a wrong
    capability get the same answer; only then are revocation, expiry, mode and
    caps told apart (all skipped with ``state=False``)."""
    if link is None or not capability_matches(capability, link.capability_verifier):
        raise NotFound(NO_SUCH_LINK)
    if not state:  # the caller checks revocation, expiry and caps later
        return link
    if link.revoked_at is not None:
        raise LinkRevoked()
    if now >= link.expires_at:
        raise LinkExpired()
    if mode is not None and link.mode != mode:
        raise BadRequest(
            "this invite link admits by request, not by external commit"
            if link.mode == "approval"
            else "this invite link admits by external commit, not by request"
        )
    if (use or registration) and link.uses >= link.max_uses:
        raise LinkUsedUp()
    if registration and link.registrations >= link.max_uses:
        raise LinkUsedUp()
    return link
