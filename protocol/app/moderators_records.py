"""App records of the moderators' group (types 53, 54 and 55, in the block set aside for
roles and moderation: join approvals). They travel only inside a group's
**moderators' group** (``docs/protocol/invites.md`` §7, §16), encrypted like every
app record; the relay never sees them::

    LinkShare       = {v: 1, t: 53, id: bin 16, sent_at: int,
                       group: bin 1..255 (the main group's id),
                       url: str 1..512 (the whole invite link, secret included),
                       mode: int (1 approval, 2 open), questions: str 0..4200 (the
                       link's questions, one per line), expires_at: int, max_uses: int
                       1..10000, created_at: int}

    IntakeKeyShare  = {v: 1, t: 54, id: bin 16, sent_at: int,
                       group: bin 1..255 (the main group's id),
                       generation: int 0..2^32-1,
                       private_key: bin 32 (the intake key pair's X25519 private key)}
    RequestHandled  = {v: 1, t: 55, id: bin 16, sent_at: int,
                       group: bin 1..255, request_id: bin 16 (the id inside the sealed
                       request), key_package_hash: bin 32, outcome: int (1 approved,
                       2 declined)}

Receivers accept them only in the moderators' group of ``group``
(``SHA-256("cove moderators group v1" || group)[0..16]``) and only from someone who
is a moderator or owner of ``group`` in the receiver's own copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from .join_records import _Bin, _Int, _JoinRecord, _Str
from .records import register_record_class

APPROVED, DECLINED = 1, 2


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkShare(_JoinRecord):
    """A link a moderator made, for the other moderators (to read its requests' questions,
    show it and print its QR code)."""

    RECORD_TYPE: ClassVar[int] = 53

    group: Annotated[bytes, _Bin(1, 255)]
    url: Annotated[str, _Str(1, 512)]
    mode: Annotated[int, _Int(1, 2)]
    questions: Annotated[str, _Str(0, 4200)]
    expires_at: Annotated[int, _Int(0, (1 << 53) - 1)]
    max_uses: Annotated[int, _Int(1, 10000)]
    created_at: Annotated[int, _Int(0, (1 << 53) - 1)]

    def __repr__(self) -> str:
        return f"LinkShare(mode={self.mode}, <link hidden>)"


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeKeyShare(_JoinRecord):
    """An intake key pair, shared with the other moderators."""

    RECORD_TYPE: ClassVar[int] = 54

    group: Annotated[bytes, _Bin(1, 255)]
    generation: Annotated[int, _Int(0, 0xFFFFFFFF)]
    private_key: Annotated[bytes, _Bin(32, 32)]

    def __repr__(self) -> str:
        return f"IntakeKeyShare(generation={self.generation}, <key hidden>)"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHandled(_JoinRecord):
    """A join request a moderator approved or declined (the moderators' replay log)."""

    RECORD_TYPE: ClassVar[int] = 55

    group: Annotated[bytes, _Bin(1, 255)]
    request_id: Annotated[bytes, _Bin(16, 16)]
    key_package_hash: Annotated[bytes, _Bin(32, 32)]
    outcome: Annotated[int, _Int(1, 2)]


register_record_class(LinkShare.RECORD_TYPE, LinkShare)
register_record_class(IntakeKeyShare.RECORD_TYPE, IntakeKeyShare)
register_record_class(RequestHandled.RECORD_TYPE, RequestHandled)

__all__ = ["APPROVED", "DECLINED", "IntakeKeyShare", "LinkShare", "RequestHandled"]
