"""The reference client's facade: what the ``cove`` command (and later the web UI) calls.

::

    CoveClient ---- Store (encrypted SQLite: account, groups, messages, pins, outbox)
        |      \\--- RelayTransport (HTTP + WebSocket, from cove.protocol.wire.api)
        |       \\-- cove.protocol Group (MLS) and app records
        v
    sync runner: fetch log pages -> engine.process_log -> one store transaction per page
                 (group snapshot + decrypted records + cursor together)

Durability rules:

* Before anything is posted, the group's snapshot (with its ratchet already
  advanced) and an *outbox* entry holding the exact bytes and idempotency key
  are committed to the store; after a crash the same bytes are posted again
  and the relay answers with the first result, so nothing is sent twice and
  no key or nonce is reused.
* A commit is posted with the handshake position it was built on; on a
  ``handshake_conflict`` the client discards it, syncs, and retries the
  operation if it still applies (design.md §5). The outbox entry of a commit
  holds both the snapshot before and the one after the commit, so a crash at
  any point resumes in the right epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from cove.client import records as R
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
from cove.client.store import Store, StoreCorrupted, StoreLocked, Txn, WrongPassphrase
from cove.client.sync.engine import (
    Cursor,
    MembershipChanged,
    Quarantined,
    Received,
    process_log,
)
from cove.client.transport import RelayError, RelayTransport, RelayUnreachable
from cove.protocol import (
    CoveError,
    Group,
    GroupConfig,
    KeyPackageBundle,
    OsRandom,
)
from cove.protocol.crypto import suite_for
from cove.protocol.group_metadata import GROUP_METADATA_EXTENSION, GroupKind, GroupMetadata
from cove.protocol.identity import CoveCredentialValidator, CoveIdentity, safety_number
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.leaf_node import Capabilities
from cove.protocol.mls.welcome import Welcome
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.auth import login_signing_input, registration_signing_input
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import limit as limit_value

SUITE = 1
STORE_FILE = "cove.db"
KEY_PACKAGES_BATCH = 20
KEY_PACKAGES_LOW = 5
COMMIT_ATTEMPTS = 5
PAGE = 200
BLOB_LIMIT = limit_value("blob")  # the relay's default; an operator may set another

# Store collections
ACCOUNT, GROUP, MESSAGE, MSGINDEX, PIN, OUTBOX, QUARANTINE, BUNDLE = (
    "account", "group", "message", "msgindex", "pin", "outbox", "quarantine", "kp_bundle",
)  # fmt: skip

_validator = CoveCredentialValidator()


def now() -> int:
    return int(time.time())


def _pack(obj: Any) -> bytes:
    return bytes(msgpack.packb(obj, use_bin_type=True))


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def capabilities() -> Capabilities:
    """Cove's leaf capabilities: suite 1, basic credentials, the group-metadata extension."""
    return Capabilities(
        versions=(1,), cipher_suites=(SUITE,), extensions=(GROUP_METADATA_EXTENSION,),
        proposals=(), credentials=(1,),
    )  # fmt: skip


def group_config() -> GroupConfig:
    return GroupConfig()


# -- records kept in the store ---------------------------------------------------------


@dataclass(slots=True)
class Account:
    relay: str
    handle: str
    account_id: bytes
    device_id: bytes
    identity_private: bytes
    device_private: bytes
    relay_id: bytes
    token: str | None = None
    inbox_cursor: int = 0
    update_interval: int = 7 * 24 * 3600  # PCS: self-update at least this often (seconds)
    update_after_messages: int = 1000  # ... or after this many messages sent

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

    def pack(self) -> bytes:
        return _pack(
            [
                self.relay,
                self.handle,
                self.account_id,
                self.device_id,
                self.identity_private,
                self.device_private,
                self.relay_id,
                self.token,
                self.inbox_cursor,
                self.update_interval,
                self.update_after_messages,
            ]
        )

    @classmethod
    def unpack(cls, data: bytes) -> Account:
        return cls(*_unpack(data))


@dataclass(slots=True)
class GroupRecord:
    group_id: bytes
    snapshot: bytes
    cursor: Cursor = field(default_factory=Cursor)
    kind: int = GroupKind.GROUP
    peer: str = ""  # the other member of a private conversation
    active: bool = True
    last_update: int = 0
    sent_since_update: int = 0
    needs_update: bool = False

    def pack(self) -> bytes:
        c = self.cursor
        return _pack(
            [
                self.group_id,
                self.snapshot,
                c.seq,
                c.handshake,
                sorted(c.own),
                self.kind,
                self.peer,
                self.active,
                self.last_update,
                self.sent_since_update,
                self.needs_update,
            ]
        )

    @classmethod
    def unpack(cls, data: bytes) -> GroupRecord:
        (gid, snap, seq, hs, own, kind, peer, active, last, sent, needs) = _unpack(data)
        return cls(gid, snap, Cursor(seq, hs, set(own)), kind, peer, active, last, sent, needs)


@dataclass(frozen=True, slots=True)
class Pin:
    """A member's identity key as first seen; ``changed`` holds a different key seen later."""

    handle: str
    identity_key: bytes
    changed: bytes | None = None
    verified: bool = False


# -- views returned to the CLI -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupView:
    group_id: bytes
    name: str
    kind: str
    members: int
    epoch: int
    active: bool
    peer: str = ""


@dataclass(frozen=True, slots=True)
class MemberView:
    handle: str
    leaf: int
    safety_number: str
    key_changed: bool
    me: bool


@dataclass(frozen=True, slots=True)
class SyncReport:
    groups: int = 0
    received: int = 0
    joined: int = 0
    quarantined: int = 0
    commits: int = 0
    resent: int = 0  # outbox entries posted again after a crash or an outage


class CoveClient:
    """One member's client over one home folder. Open with :meth:`open` or :meth:`init`."""

    def __init__(self, home: Path, store: Store, account: Account) -> None:
        self.home = home
        self.store = store
        self.account = account
        self.rng = OsRandom()
        self._transport: RelayTransport | None = None
        self._groups: dict[bytes, tuple[bytes, Group]] = {}

    def __repr__(self) -> str:
        return f"CoveClient(home={str(self.home)!r}, handle={self.account.handle!r})"

    # -- lifecycle -------------------------------------------------------------------

    @staticmethod
    def store_path(home: Path) -> Path:
        return home / STORE_FILE

    @classmethod
    async def open(cls, home: Path, passphrase: str) -> CoveClient:
        path = cls.store_path(home)
        if not path.exists():
            raise NotInitialized(f"no Cove account in {home}; run 'cove init' first")
        try:
            store = await Store.open(path, passphrase)
        except WrongPassphrase:
            raise WrongPassphraseError("wrong passphrase") from None
        except StoreLocked:
            raise ClientError("another cove process is using this account; try again") from None
        except StoreCorrupted as exc:
            raise StoreDamaged(f"the local store is damaged or not a Cove store: {exc}") from None
        async with store.transaction() as txn:
            data = await txn.get(ACCOUNT, b"self")
        if data is None:
            await store.close()
            raise NotInitialized("the store has no account")
        return cls(home, store, Account.unpack(data))

    @classmethod
    async def init(
        cls,
        home: Path,
        passphrase: str,
        relay: str,
        handle: str,
        invite: str | None,
        *,
        kdf: Any = None,
    ) -> CoveClient:
        """Create keys and the encrypted store, register with the relay, upload KeyPackages."""
        path = cls.store_path(home)
        if path.exists():
            raise UsageProblem(f"{home} already holds a Cove account")
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        suite = suite_for(SUITE)
        rng = OsRandom()
        identity_private, identity_key = suite.generate_signature_key_pair(rng)
        device_private, device_key = suite.generate_signature_key_pair(rng)
        async with RelayTransport(relay) as t:
            try:
                health = await t.call("health")
                signed = registration_signing_input(
                    health.relay_id, handle, identity_key, device_key
                )
                reg = await t.call("register", E.RegisterRequest(
                    handle=handle, identity_key=identity_key, device_key=device_key,
                    identity_sig=suite.sign(identity_private, signed),
                    device_sig=suite.sign(device_private, signed), invite=invite,
                ))  # fmt: skip
            except RelayUnreachable as exc:
                raise RelayUnreachableError(str(exc)) from None
            except RelayError as exc:
                raise _client_error(exc) from None
        store = await (
            Store.create(path, passphrase, kdf=kdf) if kdf else Store.create(path, passphrase)
        )
        account = Account(
            relay.rstrip("/"),
            handle,
            reg.account_id,
            reg.device_id,
            identity_private,
            device_private,
            health.relay_id,
        )
        async with store.transaction() as txn:
            await txn.put(ACCOUNT, b"self", account.pack())
        client = cls(home, store, account)
        await client._replenish_key_packages(force=True)
        return client

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.__aexit__(None, None, None)
            self._transport = None
        await self.store.close()

    async def __aenter__(self) -> CoveClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- relay calls -----------------------------------------------------------------

    async def _relay(self) -> RelayTransport:
        if self._transport is None:
            self._transport = await RelayTransport(self.account.relay).__aenter__()
        if self._transport.token is None:
            self._transport.token = self.account.token
        if self._transport.token is None:
            await self._login()
        return self._transport

    async def _login(self) -> None:
        t = self._transport
        assert t is not None
        t.token = None
        suite = suite_for(SUITE)
        challenge = await t.call("challenge")
        signed = login_signing_input(
            challenge.relay_id, challenge.challenge, self.account.handle, self.account.device_key
        )
        signature = suite.sign(self.account.device_private, signed)
        answer = await t.call("login", E.LoginRequest(
            handle=self.account.handle, device_key=self.account.device_key,
            challenge=challenge.challenge, signature=signature,
        ))  # fmt: skip
        t.token = answer.token
        self.account.token = answer.token
        async with self.store.transaction() as txn:
            await txn.put(ACCOUNT, b"self", self.account.pack())

    async def call(self, name: str, request: Any = None, **kwargs: Any) -> Any:
        """One relay call: logs in when needed, maps errors to client errors."""
        try:
            t = await self._relay()
            try:
                return await t.call(name, request, **kwargs)
            except RelayError as exc:
                if exc.code != ErrorCode.UNAUTHORIZED:
                    raise
                await self._login()
                return await t.call(name, request, **kwargs)
        except RelayUnreachable as exc:
            raise RelayUnreachableError(str(exc)) from None

    # -- KeyPackages -----------------------------------------------------------------

    def _new_bundle(self) -> KeyPackageBundle:
        return KeyPackageBundle.create(
            SUITE, self.account.identity().credential(), self.rng, now=now(),
            signature_private=self.account.device_private, capabilities=capabilities(),
        )  # fmt: skip

    async def _replenish_key_packages(self, *, force: bool = False) -> int:
        """Keep enough one-time KeyPackages (and one last-resort package) on the relay."""
        count = await self.call("count_key_packages")
        if not force and count.one_time >= KEY_PACKAGES_LOW and count.last_resort:
            return 0
        bundles = [self._new_bundle() for _ in range(KEY_PACKAGES_BATCH)]
        last_resort = None if count.last_resort else self._new_bundle()
        async with self.store.transaction() as txn:
            for b in bundles:
                await txn.put(BUNDLE, b.ref(), _pack([b.to_bytes(), False]))
            if last_resort is not None:
                await txn.put(BUNDLE, last_resort.ref(), _pack([last_resort.to_bytes(), True]))
        await self.call("upload_key_packages", E.KeyPackageUpload(
            key_packages=tuple(b.key_package_bytes() for b in bundles),
            last_resort=last_resort.key_package_bytes() if last_resort else None,
        ))  # fmt: skip
        return len(bundles)

    # -- groups: lookups ---------------------------------------------------------------

    async def _all_groups(self, txn: Txn) -> list[GroupRecord]:
        return [GroupRecord.unpack(v) for _, v in await txn.scan(GROUP)]

    async def resolve_group(self, ref: str) -> bytes:
        """A group id from its hex id (or a unique prefix) or its unique name."""
        async with self.store.transaction() as txn:
            records = await self._all_groups(txn)
        by_id = [r for r in records if r.group_id.hex().startswith(ref.lower())] if ref else []
        if len(by_id) == 1:
            return by_id[0].group_id
        by_name = [
            r
            for r in records
            if r.kind == GroupKind.GROUP
            and _metadata(Group.from_bytes(r.snapshot, self.rng)).name == ref
        ]
        if len(by_name) == 1:
            return by_name[0].group_id
        if len(by_id) + len(by_name) > 1:
            raise UsageProblem(f"'{ref}' names more than one group; use its id")
        raise UnknownGroup(f"no group '{ref}'")

    async def _load(self, txn: Txn, group_id: bytes) -> tuple[GroupRecord, Group]:
        data = await txn.get(GROUP, group_id)
        if data is None:
            raise UnknownGroup(f"no group {group_id.hex()}")
        record = GroupRecord.unpack(data)
        if not record.snapshot:
            raise UnknownGroup("we are no longer a member of this group")
        # The Group object saved last is reused if the stored snapshot is still the one
        # it was saved as; it is taken out of the cache, so a transaction that fails
        # after changing it can never leave a changed object behind.
        cached = self._groups.pop(group_id, None)
        if cached is not None and cached[0] == record.snapshot:
            return record, cached[1]
        return record, Group.from_bytes(record.snapshot, self.rng, credential_validator=_validator)

    async def _is_active(self, txn: Txn, group_id: bytes) -> bool:
        data = await txn.get(GROUP, group_id)
        return data is not None and GroupRecord.unpack(data).active

    async def _save(self, txn: Txn, record: GroupRecord, group: Group | None = None) -> None:
        if group is not None:
            record.snapshot = group.to_bytes()
            record.active = group.active
        await txn.put(GROUP, record.group_id, record.pack())
        if group is not None:
            self._groups[record.group_id] = (record.snapshot, group)

    # -- groups: operations ------------------------------------------------------------

    async def create_group(
        self, name: str, description: str = "", *, kind: GroupKind = GroupKind.GROUP, peer: str = ""
    ) -> bytes:
        group_id = self.rng.random_bytes(16)
        meta = GroupMetadata(kind, name, description)
        group = Group.create(
            SUITE, group_id, self.account.identity().credential(), self.rng,
            signature_private=self.account.device_private, extensions=[meta.extension()],
            capabilities=capabilities(), config=group_config(), now=now(),
            credential_validator=_validator,
        )  # fmt: skip
        await self.call("create_group", E.CreateGroupRequest(group_id=group_id))
        record = GroupRecord(group_id, b"", kind=kind, peer=peer, last_update=now())
        async with self.store.transaction() as txn:
            await self._save(txn, record, group)
        return group_id

    async def add_members(self, group_id: bytes, handles: Sequence[str]) -> None:
        """Claim each handle's KeyPackages (one per device) and commit the Adds."""
        claimed: list[tuple[str, E.ClaimResponse]] = []
        for handle in handles:
            try:
                claim = await self.call("claim_key_packages", E.ClaimRequest(handle=handle))
            except RelayError as exc:
                if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.NO_KEY_PACKAGE):
                    raise UnknownHandle(f"no member '{handle}' can be added: {exc.code}") from None
                raise _client_error(exc) from None
            claimed.append((handle, claim))
        await self._verify_pins(keys=[(h, claim.identity_key) for h, claim in claimed])
        kps: list[KeyPackage] = []
        devices: list[bytes] = []
        for handle, claim in claimed:
            for item in claim.key_packages:
                kp = _key_package(item.key_package)
                ident = CoveIdentity.from_credential(kp.leaf_node.credential)
                if ident.handle != handle or ident.identity_key != claim.identity_key:
                    raise KeyChanged(f"the relay offered a KeyPackage that is not {handle}'s")
                kps.append(kp)
                devices.append(item.device_id)

        def make(group: Group) -> Any:
            present = {CoveIdentity.from_credential(m.credential).handle for m in group.members()}
            todo = [
                kp
                for kp in kps
                if CoveIdentity.from_credential(kp.leaf_node.credential).handle not in present
            ]
            if not todo:
                return None
            return group.add(todo, now=now()), {"welcome_devices": tuple(devices)}

        await self._commit(group_id, make)

    async def remove_member(self, group_id: bytes, handle: str) -> None:
        info = await self.call("get_group", path={"group_id": group_id.hex()})
        account_ids = [m.account_id for m in info.members if m.handle == handle]

        def make(group: Group) -> Any:
            leaves = [
                m.leaf_index
                for m in group.members()
                if CoveIdentity.from_credential(m.credential).handle == handle
            ]
            if not leaves:
                return None
            return group.remove(leaves), {"remove": tuple(account_ids) or None}

        async with self.store.transaction() as txn:
            _, group = await self._load(txn, group_id)
        if not any(
            CoveIdentity.from_credential(m.credential).handle == handle for m in group.members()
        ):
            raise UnknownHandle(f"'{handle}' is not a member of this group")
        await self._commit(group_id, make)

    async def _account_id(self, group_id: bytes, handle: str) -> bytes:
        info = await self.call("get_group", path={"group_id": group_id.hex()})
        for m in info.members:
            if m.handle == handle:
                return bytes(m.account_id)
        raise UnknownHandle(f"'{handle}' is not in this group")

    async def set_role(self, group_id: bytes, handle: str, role: str) -> None:
        """Owner only: make a member a moderator (who may add, remove and ban) or back."""
        account_id = await self._account_id(group_id, handle)
        try:
            await self.call(
                "set_role",
                E.RoleRequest(account_id=account_id, role=role),
                path={"group_id": group_id.hex()},
            )
        except RelayError as exc:
            raise _client_error(exc) from None

    async def leave_group(self, group_id: bytes) -> None:
        """Propose our own removal, leave the relay's table, and forget the group's secrets."""
        async with self.store.transaction() as txn:
            _, group = await self._load(txn, group_id)
        if group.active and len(group.members()) > 1:
            await self._post_handshake(group_id, lambda g: g.leave())
        await self.call("leave_group", path={"group_id": group_id.hex()})
        await self._forget_group(group_id)

    async def _forget_group(self, group_id: bytes) -> None:
        """We are out of the group: drop its MLS state (every secret) and outbox."""
        async with self.store.transaction() as txn:
            data = await txn.get(GROUP, group_id)
            if data is None:
                return
            record = GroupRecord.unpack(data)
            record.active = False
            record.snapshot = b""
            await txn.put(GROUP, group_id, record.pack())
            for key, value in await txn.scan(OUTBOX):
                if _unpack(value)["group"] == group_id:
                    await txn.delete(OUTBOX, key)

    async def update_keys(self, group_id: bytes) -> None:
        """A self-update commit: fresh keys on our whole path (post-compromise security)."""
        await self._commit(group_id, lambda g: (g.update(), {}))

    async def rename_group(self, group_id: bytes, name: str, description: str = "") -> None:
        from cove.protocol.mls.proposals import GroupContextExtensions, Proposal

        def make(group: Group) -> Any:
            meta = _metadata(group)
            new = GroupMetadata(meta.kind, name, description)
            others = tuple(
                e for e in group.extensions if e.extension_type != GROUP_METADATA_EXTENSION
            )
            return group.commit([Proposal(GroupContextExtensions((*others, new.extension())))]), {}

        await self._commit(group_id, make)

    # -- posting ----------------------------------------------------------------------

    async def _commit(
        self, group_id: bytes, make: Callable[[Group], Any], *, attempts: int = COMMIT_ATTEMPTS
    ) -> bool:
        """Create and post a commit; on a conflict sync and retry while it still applies."""
        await self.flush_outbox()  # our own unacknowledged posts go first
        for _ in range(attempts):
            await self._sync_group(group_id)
            await self._verify_pins(group_id)
            async with self.store.transaction() as txn:
                record, group = await self._load(txn, group_id)
                if not group.active:
                    raise UnknownGroup("we are no longer a member of this group")
                made = make(group)
                if made is None:
                    return False
                out, extra = made
                before = group.to_bytes()
                group.apply_pending_commit()
                entry = {
                    "group": group_id, "key": self.rng.random_bytes(16), "message": out.commit,
                    "position": record.cursor.handshake, "before": before,
                    "after": group.to_bytes(), "welcome": out.welcome,
                    "welcome_devices": list(extra.get("welcome_devices") or []) or None,
                    "remove": list(extra.get("remove") or []) or None,
                }  # fmt: skip
                record.snapshot = before
                await txn.put(GROUP, group_id, record.pack())
                await txn.put(OUTBOX, entry["key"], _pack(entry))
            if await self._deliver(entry):
                return True
        raise ClientError("could not get a commit accepted after several attempts; try again")

    async def _deliver(self, entry: dict[str, Any]) -> bool:
        """Post an outbox entry; True if the relay took it (now or before)."""
        req = E.PostMessageRequest(
            idempotency_key=entry["key"], message=entry["message"], position=entry.get("position"),
            welcome=entry.get("welcome"),
            welcome_devices=tuple(entry.get("welcome_devices") or ()) or None,
            remove=tuple(entry["remove"]) if entry.get("remove") else None,
        )  # fmt: skip
        group_id = entry["group"]
        try:
            answer = await self.call("post_message", req, path={"group_id": group_id.hex()})
        except RelayError as exc:
            # Refused for good (a conflict is retried by the caller as a new commit).
            async with self.store.transaction() as txn:
                await txn.delete(OUTBOX, entry["key"])
            if exc.code == ErrorCode.HANDSHAKE_CONFLICT:
                return False
            raise _client_error(exc) from None
        async with self.store.transaction() as txn:
            record, _ = await self._load(txn, group_id)
            record.cursor.own.add(answer.seq)
            if entry.get("after"):
                record.snapshot = entry["after"]
                record.cursor.handshake = max(record.cursor.handshake, answer.seq)
                record.last_update = now()
                record.sent_since_update = 0
                record.needs_update = False
            elif entry.get("handshake"):
                record.cursor.handshake = max(record.cursor.handshake, answer.seq)
            else:
                record.sent_since_update += 1
            await txn.put(GROUP, group_id, record.pack())
            await txn.delete(OUTBOX, entry["key"])
            if entry.get("record_id"):
                await self._mark_sent(txn, group_id, entry["record_id"], answer.seq)
        return True

    async def _post_handshake(self, group_id: bytes, make: Callable[[Group], bytes]) -> None:
        """Post a proposal (compare-and-set on the handshake position, retried)."""
        for _ in range(COMMIT_ATTEMPTS):
            await self._sync_group(group_id)
            async with self.store.transaction() as txn:
                record, group = await self._load(txn, group_id)
                message = make(group)
                entry = {
                    "group": group_id,
                    "key": self.rng.random_bytes(16),
                    "message": message,
                    "position": record.cursor.handshake,
                    "handshake": True,
                }
                await self._save(txn, record, group)
                await txn.put(OUTBOX, entry["key"], _pack(entry))
            if await self._deliver(entry):
                return
        raise ClientError("could not post the proposal; try again")

    async def _send_record(self, group_id: bytes, record: R.AppRecord) -> bytes:
        """Encrypt an app record to the group, keep it locally, post it."""
        await self._verify_pins(group_id)
        async with self.store.transaction() as txn:
            grec, group = await self._load(txn, group_id)
            if not group.active:
                raise UnknownGroup("we are no longer a member of this group")
            message = group.encrypt(R.encode(record))
            entry = {
                "group": group_id,
                "key": self.rng.random_bytes(16),
                "message": message,
                "record_id": record.id,
            }
            await self._save(txn, grec, group)
            await txn.put(OUTBOX, entry["key"], _pack(entry))
            await self._store_record(
                txn, group_id, record, self.account.handle, seq=None, epoch=group.epoch
            )
        await self._deliver(entry)
        await self._maybe_self_update(group_id)
        return record.id

    async def flush_outbox(self) -> int:
        """Post everything a crash or an outage left unsent."""
        async with self.store.transaction() as txn:
            entries = [_unpack(v) for _, v in await txn.scan(OUTBOX)]
        for entry in entries:
            await self._deliver(entry)
        return len(entries)

    # -- content ----------------------------------------------------------------------

    async def new_thread(
        self, group_id: bytes, title: str, body: str = "", attachments: Sequence[Path] = ()
    ) -> bytes:
        refs = await self._upload_attachments(group_id, attachments)
        return await self._send_record(group_id, R.thread(self.rng, title, body, refs))

    async def post(
        self,
        group_id: bytes,
        thread: bytes,
        text: str,
        *,
        reply_to: bytes | None = None,
        attachments: Sequence[Path] = (),
    ) -> bytes:
        async with self.store.transaction() as txn:
            root = await self._find(txn, thread)
        if root is None or root[0] != group_id or root[1]["type"] != "thread":
            raise UnknownMessage("no such thread in this group")
        refs = await self._upload_attachments(group_id, attachments)
        return await self._send_record(group_id, R.post(self.rng, thread, text, reply_to, refs))

    async def react(self, target: bytes, emoji: str) -> bytes:
        group_id = await self._group_of(target)
        return await self._send_record(group_id, R.reaction(self.rng, target, emoji))

    async def edit(self, target: bytes, text: str) -> bytes:
        group_id = await self._group_of(target, mine=True)
        return await self._send_record(group_id, R.edit(self.rng, target, text))

    async def delete(self, target: bytes) -> bytes:
        group_id = await self._group_of(target, mine=True)
        return await self._send_record(group_id, R.redaction(self.rng, target))

    async def dm(self, handle: str, text: str, attachments: Sequence[Path] = ()) -> bytes:
        """A private message: a 2-member group with ``handle``, created on first use."""
        if handle == self.account.handle:
            raise UsageProblem("you cannot send a private message to yourself")
        group_id = await self._dm_group(handle)
        if group_id is None:
            group_id = await self.create_group("", kind=GroupKind.DIRECT, peer=handle)
            await self.add_members(group_id, [handle])
        refs = await self._upload_attachments(group_id, attachments)
        return await self._send_record(group_id, R.direct(self.rng, text, refs))

    async def _dm_group(self, handle: str) -> bytes | None:
        async with self.store.transaction() as txn:
            for r in await self._all_groups(txn):
                if r.kind == GroupKind.DIRECT and r.peer == handle and r.active:
                    return r.group_id
        return None

    async def _upload_attachments(self, group_id: bytes, paths: Sequence[Path]) -> list[Any]:
        refs = []
        for path in paths:
            if not path.is_file():
                raise UsageProblem(f"no file {path}")
            if R.blob_size(path.stat().st_size) > BLOB_LIMIT:
                raise UsageProblem(f"{path.name} is too large for the relay")
            data = path.read_bytes()
            key, blob, ref_fields = R.encrypt_attachment(self.rng, data)
            answer = await self.call("upload_blob", raw=blob, path={"group_id": group_id.hex()})
            refs.append(
                R.attachment_ref(answer.blob_id, key, blob, len(data), path.name, ref_fields)
            )
        return refs

    async def get_attachment(self, attachment_id: str, out: Path) -> int:
        """Download, verify and decrypt an attachment (by its blob id) into ``out``."""
        found = None
        async with self.store.transaction() as txn:
            for group in await self._all_groups(txn):
                for _, value in await txn.scan(MESSAGE, partition=group.group_id):
                    rec = _unpack(value)
                    for att in rec.get("attachments") or []:
                        if att["blob_id"].hex() == attachment_id.lower():
                            found = (rec["group"], att)
        if found is None:
            raise UnknownMessage(f"no attachment {attachment_id}")
        group_id, att = found
        blob = await self.call(
            "download_blob", path={"group_id": group_id.hex(), "blob_id": att["blob_id"].hex()}
        )
        data = R.decrypt_attachment(att, blob)
        tmp = out.with_name(out.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
        return len(data)

    # -- local records ----------------------------------------------------------------

    async def _store_record(
        self,
        txn: Txn,
        group_id: bytes,
        record: R.AppRecord,
        sender: str,
        *,
        seq: int | None,
        epoch: int,
    ) -> bool:
        """Keep a decrypted record; a record id seen before is ignored (replays show once)."""
        if await txn.get(MSGINDEX, record.id) is not None:
            return False
        row = R.to_row(record)
        row.update(
            {"group": group_id, "sender": sender, "seq": seq, "epoch": epoch, "received_at": now()}
        )
        order = await txn.next_order(MESSAGE, group_id)
        await txn.put(MESSAGE, record.id, _pack(row), partition=group_id, order=order)
        await txn.put(MSGINDEX, record.id, _pack([group_id, order]))
        return True

    async def _mark_sent(self, txn: Txn, group_id: bytes, record_id: bytes, seq: int) -> None:
        value = await txn.get(MESSAGE, record_id)
        if value is None:
            return
        row = _unpack(value)
        row["seq"] = seq
        index = _unpack(await txn.get(MSGINDEX, record_id) or _pack([group_id, 0]))
        await txn.put(MESSAGE, record_id, _pack(row), partition=group_id, order=index[1])

    async def _find(self, txn: Txn, record_id: bytes) -> tuple[bytes, dict[str, Any]] | None:
        value = await txn.get(MESSAGE, record_id)
        if value is None:
            return None
        row = _unpack(value)
        return row["group"], row

    async def _group_of(self, record_id: bytes, *, mine: bool = False) -> bytes:
        async with self.store.transaction() as txn:
            found = await self._find(txn, record_id)
        if found is None:
            raise UnknownMessage(f"no message {record_id.hex()}")
        if mine and found[1]["sender"] != self.account.handle:
            raise NoPermission("only the author can edit or delete this message")
        return found[0]

    async def read(self, group_id: bytes, thread: bytes | None = None) -> list[R.MessageView]:
        """The group's messages (or one thread's), edits, reactions and deletions applied."""
        async with self.store.transaction() as txn:
            rows = [_unpack(v) for _, v in await txn.scan(MESSAGE, partition=group_id)]
        return R.fold(rows, thread)

    async def threads(self, group_id: bytes) -> list[R.MessageView]:
        return [m for m in await self.read(group_id) if m.type == "thread"]

    async def groups(self) -> list[GroupView]:
        async with self.store.transaction() as txn:
            records = await self._all_groups(txn)
        out = []
        for r in records:
            if not r.active or not r.snapshot:
                out.append(GroupView(r.group_id, "", _KIND[r.kind], 0, 0, False, r.peer))
                continue
            group = Group.from_bytes(r.snapshot, self.rng)
            meta = _metadata(group)
            out.append(
                GroupView(
                    r.group_id,
                    meta.name,
                    _KIND[r.kind],
                    len(group.members()),
                    group.epoch,
                    group.active,
                    r.peer,
                )
            )
        return out

    async def members(self, group_id: bytes) -> list[MemberView]:
        async with self.store.transaction() as txn:
            _, group = await self._load(txn, group_id)
            pins = {h: await self._pin(txn, h) for h in self._handles(group)}
        me = (self.account.handle, self.account.identity_key)
        out = []
        for m in group.members():
            ident = CoveIdentity.from_credential(m.credential)
            pin = pins.get(ident.handle)
            out.append(MemberView(
                ident.handle, m.leaf_index, safety_number(me, (ident.handle, ident.identity_key)),
                bool(pin and pin.changed), ident.handle == self.account.handle,
            ))  # fmt: skip
        return out

    async def settings(
        self, *, update_days: float | None = None, update_messages: int | None = None
    ) -> dict[str, float]:
        """Read or change the post-compromise-security schedule: a self-update commit in
        each group at least every ``update_days`` days and every ``update_messages``
        messages sent (and always after a member is removed)."""
        if update_days is not None:
            if update_days <= 0:
                raise UsageProblem("update_days must be positive")
            self.account.update_interval = int(update_days * 86400)
        if update_messages is not None:
            if update_messages < 1:
                raise UsageProblem("update_messages must be at least 1")
            self.account.update_after_messages = update_messages
        if update_days is not None or update_messages is not None:
            async with self.store.transaction() as txn:
                await txn.put(ACCOUNT, b"self", self.account.pack())
        return {
            "update_days": self.account.update_interval / 86400,
            "update_messages": self.account.update_after_messages,
        }

    # -- identity pins and safety numbers ----------------------------------------------

    @staticmethod
    def _handles(group: Group) -> list[str]:
        return [CoveIdentity.from_credential(m.credential).handle for m in group.members()]

    async def _pin(self, txn: Txn, handle: str) -> Pin | None:
        value = await txn.get(PIN, handle.encode())
        if value is None:
            return None
        h, key, changed, verified = _unpack(value)
        return Pin(h, key, changed, verified)

    async def _put_pin(self, txn: Txn, pin: Pin) -> None:
        await txn.put(
            PIN,
            pin.handle.encode(),
            _pack([pin.handle, pin.identity_key, pin.changed, pin.verified]),
        )

    async def _check_pin(self, txn: Txn, handle: str, identity_key: bytes) -> bool:
        """Pin on first use; True (and the new key recorded) if a known handle's key differs."""
        if handle == self.account.handle:
            return False
        pin = await self._pin(txn, handle)
        if pin is None:
            await self._put_pin(txn, Pin(handle, identity_key))
            return False
        if pin.identity_key == identity_key:
            return False
        if pin.changed != identity_key:
            await self._put_pin(txn, Pin(handle, pin.identity_key, identity_key, False))
        return True

    async def _verify_pins(
        self, group_id: bytes | None = None, keys: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """Before sending: every member's identity key must be the pinned one. A change
        is recorded (its own transaction, so it survives) and blocks with KeyChanged."""
        changed = []
        async with self.store.transaction() as txn:
            pairs = list(keys)
            if group_id is not None:
                record, group = await self._load(txn, group_id)
                for m in group.members():
                    ident = CoveIdentity.from_credential(m.credential)
                    pairs.append((ident.handle, ident.identity_key))
                self._groups[group_id] = (record.snapshot, group)  # unchanged: keep it
            for handle, key in pairs:
                if await self._check_pin(txn, handle, key):
                    changed.append(handle)
        if changed:
            names = ", ".join(sorted(set(changed)))
            raise KeyChanged(
                f"the identity key of {names} changed; compare safety numbers "
                f"('cove verify'), then run 'cove trust'"
            )

    async def _observe_pins(self, txn: Txn, credentials: Sequence[bytes]) -> None:
        """Record keys seen in commits; a change is flagged (and blocks sending)."""
        from cove.protocol.mls.credentials import Credential

        for raw in credentials:
            ident = CoveIdentity.from_credential(Credential.basic(raw))
            await self._check_pin(txn, ident.handle, ident.identity_key)

    async def verify(self, handle: str) -> tuple[str, bool]:
        """The safety number with ``handle`` as pinned, and whether a key change is pending."""
        async with self.store.transaction() as txn:
            pin = await self._pin(txn, handle)
        if pin is None:
            raise UnknownHandle(f"no known member '{handle}'")
        key = pin.changed or pin.identity_key
        me = (self.account.handle, self.account.identity_key)
        return safety_number(me, (handle, key)), pin.changed is not None

    async def trust(self, handle: str) -> None:
        """Accept ``handle``'s new identity key after checking the safety number."""
        async with self.store.transaction() as txn:
            pin = await self._pin(txn, handle)
            if pin is None:
                raise UnknownHandle(f"no known member '{handle}'")
            await self._put_pin(txn, Pin(handle, pin.changed or pin.identity_key, None, True))

    # -- sync -------------------------------------------------------------------------

    async def sync(self) -> SyncReport:
        """Fetch and process everything: Welcomes, every group's log, the outbox."""
        resent = await self.flush_outbox()
        joined = await self._process_inbox()
        async with self.store.transaction() as txn:
            ids = [r.group_id for r in await self._all_groups(txn) if r.active]
        received = quarantined = 0
        for group_id in ids:
            r, q = await self._sync_group(group_id)
            received += r
            quarantined += q
        commits = 0
        for group_id in ids:
            commits += await self._maintain(group_id)
        with contextlib.suppress(ClientError):
            await self._replenish_key_packages()
        return SyncReport(len(ids), received, joined, quarantined, commits, resent)

    async def _sync_group(self, group_id: bytes) -> tuple[int, int]:
        received = quarantined = 0
        while True:
            async with self.store.transaction() as txn:
                if not await self._is_active(txn, group_id):
                    return received, quarantined
                record, _ = await self._load(txn, group_id)
            try:
                page = await self.call(
                    "fetch_messages",
                    path={"group_id": group_id.hex()},
                    query={"after": str(record.cursor.seq), "limit": str(PAGE)},
                )
            except RelayError as exc:
                if exc.code != ErrorCode.NOT_FOUND:
                    raise _client_error(exc) from None
                # The relay no longer lets us read this group: we were removed (the
                # removal commit is not delivered to the removed). Forget its secrets;
                # the messages we already read stay readable here.
                await self._forget_group(group_id)
                return received, quarantined
            r, q = await self.apply_entries(group_id, [(m.seq, m.message) for m in page.messages])
            received += r
            quarantined += q
            if not page.more:
                return received, quarantined

    async def apply_entries(
        self,
        group_id: bytes,
        entries: Sequence[tuple[int, bytes]],
        new_rows: list[dict[str, Any]] | None = None,
    ) -> tuple[int, int]:
        """Run the engine over log entries; one transaction for the snapshot and the events."""
        if not entries:
            return 0, 0
        received = quarantined = 0
        removed = False
        async with self.store.transaction() as txn:
            record, group = await self._load(txn, group_id)
            events = process_log(group, record.cursor, entries)
            for ev in events:
                if isinstance(ev, Received):
                    sender = CoveIdentity.from_bytes(ev.sender_credential).handle
                    try:
                        app = R.decode(ev.data)
                    except CoveError as exc:
                        await self._quarantine(txn, group_id, ev.seq, f"bad app record: {exc}", b"")
                        quarantined += 1
                        continue
                    if await self._store_record(
                        txn, group_id, app, sender, seq=ev.seq, epoch=ev.epoch
                    ):
                        received += 1
                        if new_rows is not None:
                            new_rows.append({**R.to_row(app), "sender": sender, "seq": ev.seq})
                elif isinstance(ev, MembershipChanged):
                    await self._observe_pins(txn, ev.added + ev.updated)
                    if ev.removed and not ev.removed_me:
                        record.needs_update = True  # PCS after any removal
                    if ev.removed_me:  # we were removed: keep no MLS state at all
                        removed = True
                        record.active = False
                        record.snapshot = b""
                        break
                elif isinstance(ev, Quarantined):
                    await self._quarantine(txn, group_id, ev.seq, ev.reason, ev.message)
                    quarantined += 1
            await self._save(txn, record, None if removed else group)
        return received, quarantined

    async def _quarantine(
        self, txn: Txn, group_id: bytes, seq: int, reason: str, message: bytes
    ) -> None:
        order = await txn.next_order(QUARANTINE, group_id)
        await txn.put(
            QUARANTINE,
            group_id + seq.to_bytes(8, "big"),
            _pack({"group": group_id, "seq": seq, "reason": reason, "message": message}),
            partition=group_id,
            order=order,
        )

    async def quarantined(self, group_id: bytes) -> list[dict[str, Any]]:
        async with self.store.transaction() as txn:
            return [_unpack(v) for _, v in await txn.scan(QUARANTINE, partition=group_id)]

    async def _process_inbox(self) -> int:
        page = await self.call("fetch_inbox", query={"after": str(self.account.inbox_cursor)})
        joined = 0
        for entry in page.entries:
            if await self._join(entry):
                joined += 1
            self.account.inbox_cursor = max(self.account.inbox_cursor, entry.inbox_id)
        if page.entries:
            async with self.store.transaction() as txn:
                await txn.put(ACCOUNT, b"self", self.account.pack())
            await self.call("ack_inbox", E.InboxAck(up_to=self.account.inbox_cursor))
        return joined

    async def _join(self, entry: E.InboxEntry) -> bool:
        try:
            welcome = MLSMessage.from_bytes(entry.welcome).body
        except CoveError:
            return False
        if not isinstance(welcome, Welcome):
            return False
        async with self.store.transaction() as txn:
            if await txn.get(GROUP, entry.group_id) is not None:
                return False  # a replayed Welcome: we are already in (or were in) the group
            for secrets in welcome.secrets:
                value = await txn.get(BUNDLE, secrets.new_member)
                if value is None:
                    continue
                data, last_resort = _unpack(value)
                bundle = KeyPackageBundle.from_bytes(data)
                try:
                    group = Group.join(
                        welcome,
                        bundle,
                        self.rng,
                        config=group_config(),
                        credential_validator=_validator,
                    )
                except CoveError:
                    return False
                if group.group_id != entry.group_id:
                    return False
                if not last_resort:
                    await txn.delete(BUNDLE, secrets.new_member)  # one-time: its keys are gone
                meta = _metadata(group)
                peer = ""
                if meta.kind == GroupKind.DIRECT:
                    peer = next((h for h in self._handles(group) if h != self.account.handle), "")
                record = GroupRecord(
                    group.group_id,
                    b"",
                    Cursor(entry.commit_seq, entry.commit_seq),
                    kind=meta.kind,
                    peer=peer,
                    last_update=now(),
                )
                await self._observe_pins(txn, [m.credential.identity for m in group.members()])
                await self._save(txn, record, group)
                return True
        return False

    async def _maintain(self, group_id: bytes) -> int:
        """Commit waiting proposals and due self-updates (post-compromise security)."""
        async with self.store.transaction() as txn:
            if not await self._is_active(txn, group_id):
                return 0
            _, group = await self._load(txn, group_id)
        if group.pending_proposals:
            with contextlib.suppress(ClientError):
                if await self._commit(
                    group_id, lambda g: (g.commit(), {}) if g.pending_proposals else None
                ):
                    return 1
        return await self._maybe_self_update(group_id)

    async def _maybe_self_update(self, group_id: bytes) -> int:
        async with self.store.transaction() as txn:
            if not await self._is_active(txn, group_id):
                return 0
            record, group = await self._load(txn, group_id)
        due = (
            record.needs_update
            or now() - record.last_update >= self.account.update_interval
            or record.sent_since_update >= self.account.update_after_messages
        )
        if not due or not group.active or len(group.members()) < 2:
            return 0
        with contextlib.suppress(ClientError):
            await self.update_keys(group_id)
            return 1
        return 0

    async def listen(
        self,
        on_message: Callable[[bytes, R.MessageView], Awaitable[None] | None],
        stop: asyncio.Event | None = None,
    ) -> None:
        """Stay connected; process pushed messages and call ``on_message`` for new records."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.sync()
            async with self.store.transaction() as txn:
                records = [r for r in await self._all_groups(txn) if r.active]
            subscribe = E.Subscribe(
                cursors=tuple(E.Cursor(group_id=r.group_id, seq=r.cursor.seq) for r in records),
                inbox=self.account.inbox_cursor,
            )
            t = await self._relay()
            try:
                async with t.stream(subscribe) as ws:
                    async for msg in _until(ws, stop):
                        event = E.StreamEvent.decode(msg)
                        if (
                            event.kind == "message"
                            and event.group_id
                            and event.message
                            and event.seq
                        ):
                            rows: list[dict[str, Any]] = []
                            await self.apply_entries(
                                event.group_id, [(event.seq, event.message)], rows
                            )
                            for row in rows:
                                res = on_message(event.group_id, R.view(row))
                                if asyncio.iscoroutine(res):
                                    await res
                        elif event.kind in ("behind", "welcome", "removed"):
                            await self.sync()
            except RelayUnreachableError:
                await asyncio.sleep(1)


_KIND = {GroupKind.GROUP: "group", GroupKind.DIRECT: "dm"}


async def _until(ws: Any, stop: asyncio.Event) -> AsyncIterator[bytes]:
    import aiohttp

    while not stop.is_set():
        receive = asyncio.ensure_future(ws.receive())
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({receive, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stopped in done:
            receive.cancel()
            return
        stopped.cancel()
        msg = receive.result()
        if msg.type == aiohttp.WSMsgType.BINARY:
            yield msg.data
        elif msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            return


def _metadata(group: Group) -> GroupMetadata:
    return GroupMetadata.from_extensions(group.extensions) or GroupMetadata(GroupKind.GROUP, "")


def _key_package(data: bytes) -> KeyPackage:
    body = MLSMessage.from_bytes(data).body
    if not isinstance(body, KeyPackage):
        raise ClientError("the relay returned something that is not a KeyPackage")
    return body


def _client_error(exc: RelayError) -> ClientError:
    if exc.code in (ErrorCode.FORBIDDEN, ErrorCode.ACCOUNT_BANNED):
        return NoPermission(f"the relay refused: {exc}")
    if exc.code == ErrorCode.NOT_FOUND:
        return UnknownGroup(f"the relay does not know this group (or you are not in it): {exc}")
    if exc.code in (ErrorCode.INVALID_INVITE,):
        return NoPermission(f"invalid invite code: {exc}")
    return ClientError(f"the relay refused: {exc}")
