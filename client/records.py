"""What a member reads: :class:`MessageView`, one thread root, post or private message
(or, as ``cove listen`` shows them, a reaction, edit or deletion as it arrives).

The read models that build them live with their feature (``cove.client.features``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GroupView", "MemberView", "MessageView"]


@dataclass
class MessageView:
    """One thing a member reads: a thread root, a post or a private message."""

    id: bytes
    type: str
    sender: str
    body: str
    title: str = ""
    thread: bytes | None = None
    reply_to: bytes | None = None
    seq: int | None = None
    sent_at: int = 0
    edited: bool = False
    deleted: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    #: the record a reaction, edit or deletion is about (``reply_to`` is only for replies)
    target: bytes | None = None
    #: the group (or private conversation) it is in
    group: bytes | None = None
    #: for a reaction: True if it takes the reaction away
    remove: bool = False
    #: for a record that came in a newcomer's history bundle: who shared it (its
    #: author's own signature did not travel with it)
    shared_by: str = ""


@dataclass(frozen=True, slots=True)
class GroupView:
    group_id: bytes
    name: str
    kind: str
    members: int
    epoch: int
    active: bool
    peer: str = ""
    description: str = ""
    #: who removed us, if a removal we processed said so
    removed_by: str | None = None


@dataclass(frozen=True, slots=True)
class MemberView:
    handle: str
    leaf: int
    #: the safety number shared with this member ("" on our own row: there is none)
    safety_number: str
    key_changed: bool
    me: bool
    #: owner, moderator or member, from the group's policy (every member holds it)
    role: str = "member"
    #: the member confirmed this safety number (``trust``) and the key has not changed since
    verified: bool = False
