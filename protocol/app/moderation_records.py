"""App records of moderation (type 50, in the block set aside for roles and
moderation): the reason a moderator gives for an action.

A ban, an unban, a removal or a role change is a commit (the policy extension,
``docs/protocol/policy.md``); the policy extension holds no human text, so a
reason travels here, inside the group's encrypted content, never in the
GroupContext or anything the relay can read::

    ModerationNote = {v: 1, t: 50, id: bin 16, sent_at: int,
                      action: int (1 ban, 2 unban, 3 remove, 4 role change),
                      subject: bin 32 (the identity key acted on),
                      reason: str 0..2000}

Receivers accept it only from moderators and owners (rule
``policy.ban.requires_moderator``, registered in :mod:`cove.protocol.policy`
through ``register_record_rule`` by the client's moderation feature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Final

from .join_records import _Bin, _Int, _JoinRecord, _Str
from .records import register_record_class

BAN, UNBAN, REMOVE, ROLE = 1, 2, 3, 4
ACTION_WORDS: Final = {BAN: "banning", UNBAN: "unbanning", REMOVE: "removing", ROLE: "the role of"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModerationNote(_JoinRecord):
    """Why a moderator banned, unbanned, removed someone or changed their role."""

    RECORD_TYPE: ClassVar[int] = 50

    action: Annotated[int, _Int(1, 4)]
    subject: Annotated[bytes, _Bin(32, 32)]
    reason: Annotated[str, _Str(0, 2000)]

    def __repr__(self) -> str:
        return f"ModerationNote(action={self.action}, <reason hidden>)"


register_record_class(ModerationNote.RECORD_TYPE, ModerationNote)

__all__ = ["BAN", "REMOVE", "ROLE", "UNBAN", "ModerationNote"]
