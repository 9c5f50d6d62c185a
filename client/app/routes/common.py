"""Helpers every route module uses: the app context, ids from paths, plain-language errors."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cove.client.app.server import App, ctx
from cove.client.app.session import Session
from cove.client.errors import (
    ClientError,
    KeyChanged,
    NoPermission,
    NotInitialized,
    RelayUnreachableError,
    StoreDamaged,
    UnknownGroup,
    UnknownHandle,
    UnknownMessage,
    UsageProblem,
    WrongPassphraseError,
)
from cove.client.features.moderation import Refused

__all__ = ["App", "ctx", "explain", "form", "hex_id", "redirect", "session", "text_field"]

DONE = {
    "posted": "Sent.",
    "thread": "Your thread is started.",
    "edited": "Your change is saved.",
    "deleted": "Deleted. Other members' apps hide it too.",
    "reacted": "Reaction sent.",
    "unreacted": "Your reaction is taken back.",
    "trusted": "Thank you for checking. You can send again.",
    "added": "Added. They will see the group the next time their Cove connects.",
    "removed": "Removed from the group.",
    "banned": "Removed and banned. They cannot be added again until a moderator lifts the ban.",
    "unbanned": "The ban is lifted. They can be added again.",
    "role": "Role changed.",
    "renamed": "Group renamed.",
    "created": "Your group is ready. Add members from its Members page.",
    "synced": "Up to date.",
    "saved": "Settings saved.",
    "left": "You left the group.",
    "keys": "Your keys in this group are fresh.",
    "accepted": "Thank you: you accepted the group's rules. You can post now.",
}


def session(request: web.Request) -> Session:
    app = ctx(request)
    s = app.need_session()
    s.touch()
    return s


def hex_id(request: web.Request, name: str) -> bytes:
    raw = request.match_info.get(name, "")
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        raise web.HTTPNotFound(text="Not found\n") from None
    if not value or len(value) > 64:
        raise web.HTTPNotFound(text="Not found\n")
    return value


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def text_field(data: dict[str, Any], name: str, limit: int = 20_000) -> str:
    value = data.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def with_query(location: str, query: str) -> str:
    """``location`` with ``query`` added before any ``#fragment``."""
    path, _, fragment = location.partition("#")
    path += ("&" if "?" in path else "?") + query
    return path + ("#" + fragment if fragment else "")


def redirect(location: str, done: str | None = None) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(with_query(location, f"done={done}") if done else location)


def safe_next(value: str, default: str = "/") -> str:
    """A local path to go back to (never another site)."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def done_text(request: web.Request) -> str:
    return DONE.get(request.query.get("done", ""), "")


def explain(exc: ClientError) -> str:
    """What to tell the member, in plain words."""
    if isinstance(exc, RelayUnreachableError):
        return (
            "Cove could not reach your group's relay. Check your internet connection and try "
            "again; what you wrote is still here."
        )
    if isinstance(exc, WrongPassphraseError):
        return "That passphrase did not open your Cove. Check Caps Lock and try again."
    if isinstance(exc, KeyChanged):
        return "A member's safety number changed. Check it before you send (see below)."
    if isinstance(exc, UnknownHandle):
        return "Cove does not know anyone by that name here. Check the spelling."
    if isinstance(exc, UnknownGroup):
        return "That group is not available here any more."
    if isinstance(exc, UnknownMessage):
        return "That message is not available here."
    if isinstance(exc, Refused):
        reason = str(exc).partition(" — refused: ")[2] or str(exc)
        return f"The group's rules do not allow that: {reason}."
    if getattr(exc, "rule", "") == "invite.rules.not_accepted":
        return (
            "Please read and accept the group's rules before you post: open the group's "
            "settings and choose Accept the rules. What you wrote is kept."
        )
    if isinstance(exc, NoPermission):
        text = str(exc)
        if "invite" in text:
            return "That invite was not accepted. It may be used up or expired: ask for a new one."
        if "author" in text:
            return "Only the person who wrote a message can edit or delete it."
        return "You are not allowed to do that in this group."
    if isinstance(exc, NotInitialized):
        return "There is no Cove account on this computer yet."
    if isinstance(exc, StoreDamaged):
        return "Cove's file on this computer is damaged and cannot be opened."
    if isinstance(exc, UsageProblem):
        return str(exc)
    if "another cove process" in str(exc):
        return (
            "Cove is already open somewhere else on this computer (another 'cove app' or "
            "'cove' command). Close it, then try again."
        )
    return "Cove could not do that. Please try again."
