"""The invites feature's errors: one clear, typed message for every way a link or a
request can fail (``docs/client/guide.md``, "Joining with a link").

* :class:`LinkMistyped` — the link does not parse (``.code``: one of
  :data:`~cove.protocol.invites.LINK_ERROR_CODES`); exit code 2.
* :class:`InviteProblem` — a rule refused it (``.rule``: an ``invite.*`` rule id), for
  the relay's ``link_expired``, ``link_used_up`` and ``link_revoked`` answers too;
  exit code 1.
"""

from __future__ import annotations

from cove.client.errors import ClientError, UsageProblem
from cove.client.session import client_error
from cove.client.transport import RelayError
from cove.protocol.invites import RULES, InviteLinkError, InviteRefused
from cove.protocol.wire.codes import ErrorCode

__all__ = [
    "InviteProblem",
    "LinkMistyped",
    "from_link_error",
    "from_refusal",
    "from_relay",
    "unpublished",
]

#: What a person holding a dead link can do about it.
_ADVICE = {
    "invite.link.expired": "ask the group's organizer for a new link",
    "invite.link.revoked": "ask the group's organizer for a new link",
    "invite.link.used_up": "ask the group's organizer for a new link",
}
_RELAY_RULES = {
    ErrorCode.LINK_EXPIRED: "invite.link.expired",
    ErrorCode.LINK_USED_UP: "invite.link.used_up",
    ErrorCode.LINK_REVOKED: "invite.link.revoked",
}


class LinkMistyped(UsageProblem):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class InviteProblem(ClientError):
    """An invite rule refused the action; ``rule`` is its id (``invite.<area>.<what>``)."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


def _text(rule: str, detail: str = "") -> str:
    text = RULES.get(rule, rule) + (f": {detail}" if detail else "")
    advice = _ADVICE.get(rule)
    return f"{text}; {advice}" if advice else text


def from_refusal(exc: InviteRefused) -> InviteProblem:
    base = RULES.get(exc.rule, "")
    detail = str(exc).removeprefix(f"[{exc.rule}] ").removeprefix(base).removeprefix(": ")
    return InviteProblem(exc.rule, _text(exc.rule, detail))


def from_link_error(exc: InviteLinkError) -> LinkMistyped:
    message = str(exc).removesuffix(" (InviteLink)")
    return LinkMistyped(exc.code, f"not a usable invite link: {message}")


def from_relay(exc: RelayError) -> ClientError:
    rule = _RELAY_RULES.get(exc.code)
    if rule is not None:
        return InviteProblem(rule, _text(rule))
    if exc.code == ErrorCode.NOT_FOUND:
        return InviteProblem(
            "invite.link.unknown", "the relay knows no such invite link (check the link)"
        )
    return client_error(exc)


def unpublished(generation: int, current: int) -> InviteProblem:
    """A request sealed to an intake generation the group's moderators never published
    (the client-side rule ``invite.request.unpublished_generation``): a forged preview,
    or a relay's invention. Nobody opens it."""
    return InviteProblem(
        "invite.request.unpublished_generation",
        f"the join request is sealed to moderators' key generation {generation}, which "
        f"this group's moderators never published (the current one is {current})",
    )
