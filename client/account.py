"""The account: this member's keys, relay and schedule (collection ``account``, key
``self``), and the account lifecycle: open, init (register), settings.

A failed ``init`` leaves nothing behind: a home folder it created is removed again.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from cove.client.errors import (
    ClientError,
    NotInitialized,
    RelayUnreachableError,
    StoreDamaged,
    UsageProblem,
    WrongPassphraseError,
)
from cove.client.profile import SUITE
from cove.client.session import client_error
from cove.client.store import KdfParams, Store, StoreCorrupted, StoreLocked, Txn, WrongPassphrase
from cove.client.store.records import StoreRecord
from cove.client.transport import RelayError, RelayTransport, RelayUnreachable
from cove.protocol import OsRandom
from cove.protocol.crypto import suite_for
from cove.protocol.identity import CoveIdentity
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.auth import registration_signing_input
from cove.protocol.wire.limits import HANDLE_PATTERN, HANDLE_RULE
from cove.protocol.wire.schema import Bytes, Int, Str

ACCOUNT = "account"
SELF = b"self"
STORE_FILE = "cove.db"
I63 = 2**63 - 1
#: What a handle may be (the relay's rule, repeated so the error says it before asking).
HANDLE = re.compile(HANDLE_PATTERN)


@dataclass(slots=True)
class Account(StoreRecord):
    KIND: ClassVar[str] = "account"

    relay: Annotated[str, Str(1, 2048)]
    handle: Annotated[str, Str(1, 64)]
    account_id: Annotated[bytes, Bytes(1, 64)]
    device_id: Annotated[bytes, Bytes(1, 64)]
    identity_private: Annotated[bytes, Bytes(1, 256)]
    device_private: Annotated[bytes, Bytes(1, 256)]
    relay_id: Annotated[bytes, Bytes(1, 64)]
    token: Annotated[str | None, Str(1, 4096)] = None
    inbox_cursor: Annotated[int, Int(0, I63)] = 0
    #: post-compromise security: self-update at least this often (seconds) ...
    update_interval: Annotated[int, Int(1, I63)] = 7 * 24 * 3600
    #: ... or after this many messages sent
    update_after_messages: Annotated[int, Int(1, I63)] = 1000

    def __repr__(self) -> str:
        return f"Account(handle={self.handle!r}, relay={self.relay!r}, <keys redacted>)"

    @property
    def device_key(self) -> bytes:
        return suite_for(SUITE).signature_public_key(self.device_private)

    @property
    def identity_key(self) -> bytes:
        return suite_for(SUITE).signature_public_key(self.identity_private)

    def identity(self) -> CoveIdentity:
        return CoveIdentity.create(self.handle, self.identity_private, self.device_key)


async def load_account(txn: Txn) -> Account | None:
    data = await txn.get(ACCOUNT, SELF)
    return None if data is None else Account.unpack(data)


async def save_account(txn: Txn, account: Account) -> None:
    await txn.put(ACCOUNT, SELF, account.pack())


def store_path(home: Path) -> Path:
    return home / STORE_FILE


async def open_store(home: Path, passphrase: str, kdf_floor: KdfParams | None = None) -> Store:
    path = store_path(home)
    if not path.exists():
        raise NotInitialized(f"no Cove account in {home}; run 'cove init' first")
    try:
        if kdf_floor is not None:
            return await Store.open(path, passphrase, kdf_floor=kdf_floor)
        return await Store.open(path, passphrase)
    except WrongPassphrase:
        raise WrongPassphraseError("wrong passphrase") from None
    except StoreLocked:
        raise ClientError("another cove process is using this account; try again") from None
    except StoreCorrupted as exc:
        raise StoreDamaged(f"the local store is damaged or not a Cove store: {exc}") from None


async def register(
    home: Path, passphrase: str, relay: str, handle: str, invite: str | None, *, kdf: Any = None,
    extra: dict[str, bytes] | None = None,
) -> tuple[Store, Account]:  # fmt: skip
    """Create keys, register ``handle`` with the relay, create the store with the account.
    ``extra``: more ``RegisterRequest`` fields (an invite link's, instead of a code:
    ``cove.client.invites.registration_fields``)."""
    path = store_path(home)
    if path.exists():
        raise UsageProblem(f"{home} already holds a Cove account")
    if not HANDLE.fullmatch(handle):
        raise UsageProblem(f"'{handle}' cannot be a handle: a handle is {HANDLE_RULE}")
    suite = suite_for(SUITE)
    rng = OsRandom()
    identity_private, identity_key = suite.generate_signature_key_pair(rng)
    device_private, device_key = suite.generate_signature_key_pair(rng)
    async with RelayTransport(relay) as t:
        try:
            health = await t.call("health")
            signed = registration_signing_input(health.relay_id, handle, identity_key, device_key)
            reg = await t.call("register", E.RegisterRequest(
                handle=handle, identity_key=identity_key, device_key=device_key,
                identity_sig=suite.sign(identity_private, signed),
                device_sig=suite.sign(device_private, signed), invite=invite, **(extra or {}),
            ))  # fmt: skip
        except RelayUnreachable as exc:
            raise RelayUnreachableError(str(exc)) from None
        except RelayError as exc:
            raise client_error(exc) from None
    created = not home.exists()
    try:
        store = await (
            Store.create(path, passphrase, kdf=kdf) if kdf else Store.create(path, passphrase)
        )
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                home.rmdir()
        raise
    account = Account(
        relay.rstrip("/"), handle, reg.account_id, reg.device_id,
        identity_private, device_private, health.relay_id,
    )  # fmt: skip
    from cove.client.migration import write_format

    async with store.transaction() as txn:
        await save_account(txn, account)
        await write_format(txn)
    return store, account


def apply_settings(
    account: Account, update_days: float | None, update_messages: int | None
) -> bool:
    """Change the self-update schedule; True if anything changed."""
    if update_days is not None:
        if update_days <= 0:
            raise UsageProblem("update_days must be positive")
        account.update_interval = max(1, int(update_days * 86400))
    if update_messages is not None:
        if update_messages < 1:
            raise UsageProblem("update_messages must be at least 1")
        account.update_after_messages = update_messages
    return update_days is not None or update_messages is not None
