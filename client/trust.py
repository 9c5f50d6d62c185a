"""Identity pins and safety numbers (collection ``pin``, key: the handle in UTF-8).

A member's identity key is pinned the first time it is seen (in a Welcome, a
commit, or a claimed KeyPackage). A different key seen later is recorded in
``changed`` and blocks sending to any group with that member (KeyChanged, exit 7)
until the member runs ``cove trust`` after comparing safety numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from cove.client.context import Context
from cove.client.errors import KeyChanged, UnknownHandle
from cove.client.group_state import GroupStates
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol.identity import CoveIdentity, safety_number
from cove.protocol.mls.credentials import Credential
from cove.protocol.wire.schema import Bool, Bytes, Str

PIN = "pin"


@dataclass(frozen=True, slots=True)
class Pin(StoreRecord):
    """A member's identity key as first seen; ``changed`` holds a different key seen later."""

    KIND: ClassVar[str] = "pin"

    handle: Annotated[str, Str(1, 64)]
    identity_key: Annotated[bytes, Bytes(1, 256)]
    changed: Annotated[bytes | None, Bytes(1, 256)] = None
    verified: Annotated[bool, Bool()] = False


class Trust:
    def __init__(self, ctx: Context, states: GroupStates) -> None:
        self.ctx = ctx
        self.states = states

    async def pin(self, txn: Txn, handle: str) -> Pin | None:
        value = await txn.get(PIN, handle.encode())
        return None if value is None else Pin.unpack(value)

    async def put_pin(self, txn: Txn, pin: Pin) -> None:
        await txn.put(PIN, pin.handle.encode(), pin.pack())

    async def check(self, txn: Txn, handle: str, identity_key: bytes) -> bool:
        """Pin on first use; True (and the new key recorded) if a known handle's key differs."""
        if handle == self.ctx.account.handle:
            return False
        pin = await self.pin(txn, handle)
        if pin is None:
            await self.put_pin(txn, Pin(handle, identity_key))
            return False
        if pin.identity_key == identity_key:
            return False
        if pin.changed != identity_key:
            await self.put_pin(txn, Pin(handle, pin.identity_key, identity_key, False))
        return True

    async def require_unchanged(
        self, group_id: bytes | None = None, keys: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """Before sending: every member's identity key must be the pinned one. A change
        is recorded (its own transaction, so it survives) and blocks with KeyChanged."""
        changed = []
        async with self.ctx.store.transaction() as txn:
            pairs = list(keys)
            if group_id is not None:
                record, group = await self.states.load(txn, group_id)
                for m in group.members():
                    ident = CoveIdentity.from_credential(m.credential)
                    pairs.append((ident.handle, ident.identity_key))
                self.states.keep(record, group)
            for handle, key in pairs:
                if await self.check(txn, handle, key):
                    changed.append(handle)
        if changed:
            names = ", ".join(sorted(set(changed)))
            raise KeyChanged(
                f"the identity key of {names} changed; compare safety numbers "
                f"('cove verify'), then run 'cove trust'"
            )

    async def observe(self, txn: Txn, credentials: Sequence[bytes]) -> None:
        """Record keys seen in commits and Welcomes; a change is flagged (and blocks sending)."""
        for raw in credentials:
            ident = CoveIdentity.from_credential(Credential.basic(raw))
            await self.check(txn, ident.handle, ident.identity_key)

    def safety_number(self, handle: str, identity_key: bytes) -> str:
        me = (self.ctx.account.handle, self.ctx.account.identity_key)
        return safety_number(me, (handle, identity_key))

    async def verify(self, handle: str) -> tuple[str, bool]:
        """The safety number with ``handle`` as pinned, and whether a key change is pending."""
        if handle == self.ctx.account.handle:
            raise UnknownHandle("a safety number is shared with someone else; name another member")
        async with self.ctx.store.transaction() as txn:
            pin = await self.pin(txn, handle)
        if pin is None:
            raise UnknownHandle(f"no known member '{handle}'")
        return self.safety_number(handle, pin.changed or pin.identity_key), pin.changed is not None

    async def verified(self, handles: Sequence[str]) -> set[str]:
        """Those of ``handles`` whose safety number the member confirmed (``trust``), with
        no key change seen since."""
        async with self.ctx.store.transaction() as txn:
            pins = [await self.pin(txn, h) for h in handles]
        return {p.handle for p in pins if p is not None and p.verified and p.changed is None}

    async def trust(self, handle: str) -> None:
        """Accept ``handle``'s new identity key after checking the safety number."""
        async with self.ctx.store.transaction() as txn:
            pin = await self.pin(txn, handle)
            if pin is None:
                raise UnknownHandle(f"no known member '{handle}'")
            await self.put_pin(txn, Pin(handle, pin.changed or pin.identity_key, None, True))
