"""Registration invites, administered by the operator (``cove-relay invite …``).

Only the SHA-256 of a code is stored, so an invite is named by a short id: the
first 8 hex digits of that hash. ``revoke`` takes that id (any unambiguous
prefix of at least 4 digits) or the code itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..storage.base import InviteRecord
from .crypto import new_invite_code, secret_hash

if TYPE_CHECKING:
    from .relay import Relay

ID_DIGITS = 8
_MIN_PREFIX = 4


class InviteNotFound(Exception):
    """No usable invite matches, or a prefix matches several."""


@dataclass(frozen=True, slots=True)
class InviteInfo:
    invite_id: str
    uses_left: int
    expires_at: int | None
    created_at: int

    @classmethod
    def of(cls, record: InviteRecord) -> InviteInfo:
        return cls(record.code_hash.hex()[:ID_DIGITS], record.uses_left, record.expires_at,
                   record.created_at)  # fmt: skip


class Invites:
    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    async def create(self, uses: int, expires_in: int | None) -> str:
        relay = self._relay
        code = new_invite_code()
        now = relay.clock.now()
        expires_at = None if expires_in is None else now + expires_in
        async with relay.storage.write() as txn:
            await txn.insert_invite(secret_hash(code), uses, expires_at, now)
        return code

    async def list(self) -> list[InviteInfo]:
        relay = self._relay
        async with relay.storage.read() as txn:
            rows = await txn.invites(relay.clock.now())
        return [InviteInfo.of(r) for r in rows]

    async def revoke(self, id_or_code: str) -> InviteInfo:
        """Delete the invite named by its id (or a prefix of it) or by its code."""
        relay = self._relay
        wanted = id_or_code.strip().lower()
        async with relay.storage.write() as txn:
            rows = await txn.invites(relay.clock.now())
            if wanted.startswith("cove-"):
                digest = secret_hash(wanted)
                matches = [r for r in rows if r.code_hash == digest]
            elif len(wanted) >= _MIN_PREFIX and all(c in "0123456789abcdef" for c in wanted):
                matches = [r for r in rows if r.code_hash.hex().startswith(wanted)]
            else:
                raise InviteNotFound(
                    f"name an invite by its id (at least {_MIN_PREFIX} hex digits, "
                    "see `invite list`) or by its code"
                )
            if not matches:
                raise InviteNotFound(f"no usable invite {wanted[:20]!r}")
            if len(matches) > 1:
                raise InviteNotFound(f"{len(matches)} invites start with {wanted!r}; give more")
            await txn.delete_invite(matches[0].code_hash)
        return InviteInfo.of(matches[0])
