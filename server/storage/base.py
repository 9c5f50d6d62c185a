"""The storage interface the relay's domain layer is written against.

A backend (SQLite now, PostgreSQL later) implements :class:`Storage`: it hands
out read and write transactions, each a :class:`Txn`. Every :class:`Txn` method
runs inside that open transaction (the whole object is the ``_txn`` argument
of Synapse's convention), so the domain can read, decide and write atomically:

    async with storage.write() as txn:      # BEGIN IMMEDIATE ... COMMIT
        group = await txn.group(group_id)
        ...

A write transaction commits durably when the block exits without an exception
and rolls back otherwise; only after that does the domain answer. Handlers never
see storage.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InviteRecord:
    code_hash: bytes
    uses_left: int
    expires_at: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: bytes
    handle: str
    identity_key: bytes


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    device_id: bytes
    account_id: bytes
    device_key: bytes


@dataclass(frozen=True, slots=True)
class Session:
    account_id: bytes
    device_id: bytes
    expires_at: int

    def __repr__(self) -> str:
        return f"Session(account={self.account_id.hex()[:8]}…)"


@dataclass(frozen=True, slots=True)
class GroupRecord:
    group_id: bytes
    head_seq: int
    handshake_seq: int
    retention_seconds: int | None
    blob_bytes: int


@dataclass(frozen=True, slots=True)
class MemberRecord:
    account_id: bytes
    handle: str
    role: str
    joined_seq: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    data: bytes
    received_at: int


@dataclass(frozen=True, slots=True)
class InboxRecord:
    inbox_id: int
    group_id: bytes
    commit_seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    messages: int
    blobs: int
    inbox: int


class Txn(Protocol):
    """One open transaction. Methods are grouped by the table they own."""

    # relay_meta, invites
    async def get_meta(self, key: str) -> bytes | None: ...
    async def set_meta(self, key: str, value: bytes) -> None: ...
    async def insert_invite(
        self, code_hash: bytes, uses: int, expires_at: int | None, now: int
    ) -> None: ...
    async def use_invite(self, code_hash: bytes, now: int) -> bool: ...
    async def invites(self, now: int) -> list[InviteRecord]:
        """Invites still usable at ``now``, oldest first."""
        ...

    async def delete_invite(self, code_hash: bytes) -> bool: ...

    # accounts, devices, tokens
    async def insert_account(
        self, account_id: bytes, handle: str, identity_key: bytes, now: int
    ) -> None: ...
    async def account_by_id(self, account_id: bytes) -> AccountRecord | None: ...
    async def account_by_handle(self, handle: str) -> AccountRecord | None: ...
    async def key_in_use(self, key: bytes) -> bool: ...
    async def insert_device(
        self, device_id: bytes, account_id: bytes, device_key: bytes, now: int
    ) -> None: ...
    async def device_by_key(self, device_key: bytes) -> DeviceRecord | None: ...
    async def devices_of(self, account_id: bytes) -> list[DeviceRecord]: ...
    async def devices_by_ids(self, device_ids: list[bytes]) -> list[DeviceRecord]: ...
    async def delete_account(self, account_id: bytes) -> None: ...
    async def insert_token(self, token_hash: bytes, device_id: bytes, expires_at: int) -> None: ...
    async def session_by_token(self, token_hash: bytes, now: int) -> Session | None: ...
    async def delete_token(self, token_hash: bytes) -> None: ...

    # key_packages
    async def count_key_packages(self, device_id: bytes) -> tuple[int, bool]: ...
    async def insert_key_packages(self, device_id: bytes, data: list[bytes]) -> None: ...
    async def set_last_resort(self, device_id: bytes, data: bytes) -> None: ...
    async def take_key_package(self, device_id: bytes) -> tuple[bytes, bool] | None: ...

    # groups, members, bans
    async def insert_group(self, group_id: bytes, now: int) -> bool: ...
    async def group(self, group_id: bytes) -> GroupRecord | None: ...
    async def groups_of(self, account_id: bytes) -> list[tuple[GroupRecord, str]]: ...
    async def member(self, group_id: bytes, account_id: bytes) -> MemberRecord | None: ...
    async def members(self, group_id: bytes) -> list[MemberRecord]: ...
    async def member_accounts(self, group_id: bytes) -> list[bytes]: ...
    async def count_members(self, group_id: bytes) -> int: ...
    async def upsert_member(
        self, group_id: bytes, account_id: bytes, role: str, joined_seq: int
    ) -> None: ...
    async def delete_member(self, group_id: bytes, account_id: bytes) -> bool: ...
    async def is_banned(self, group_id: bytes, account_id: bytes) -> bool: ...
    async def set_ban(self, group_id: bytes, account_id: bytes, banned: bool) -> None: ...
    async def set_retention(self, group_id: bytes, seconds: int | None) -> None: ...
    async def delete_group(self, group_id: bytes) -> None: ...
    async def empty_groups(self) -> list[bytes]: ...

    # messages (posting goes through Storage.run_batch and BatchTxn)
    async def messages_after(
        self, group_id: bytes, after: int, limit: int
    ) -> list[StoredMessage]: ...

    # inbox
    async def insert_inbox(
        self, device_id: bytes, group_id: bytes, commit_seq: int, now: int, data: bytes
    ) -> int: ...
    async def inbox_after(self, device_id: bytes, after: int, limit: int) -> list[InboxRecord]: ...
    async def delete_inbox_upto(self, device_id: bytes, up_to: int) -> None: ...

    # blobs
    async def insert_blob(self, group_id: bytes, blob_id: bytes, data: bytes, now: int) -> None: ...
    async def blob(self, group_id: bytes, blob_id: bytes) -> bytes | None: ...
    async def delete_blob(self, group_id: bytes, blob_id: bytes) -> bool: ...
    async def delete_application_message(self, group_id: bytes, seq: int) -> bool: ...

    # retention and status
    async def purge_expired(self, now: int, default_max_age: int) -> PurgeCounts: ...
    async def counts(self) -> dict[str, int]: ...


class BatchTxn(Protocol):
    """The statements a post needs, run synchronously by a group commit inside the
    batch's one write transaction (see :meth:`Storage.run_batch`)."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: rolled back alone if its block raises."""
        ...

    def in_transaction(self) -> bool:
        """False once the database has rolled the whole transaction back by itself
        (SQLite does on some I/O errors): the batch must then fail as a whole."""
        ...

    def post_context(
        self, group_id: bytes, account_id: bytes, key: bytes
    ) -> tuple[MemberRecord | None, GroupRecord | None, StoredMessage | None]:
        """In one read: the poster's membership, the group, and the message already
        stored under this idempotency key (all None if the poster is not a member)."""
        ...

    def append_message(
        self, group: GroupRecord, key: bytes, handshake: bool, now: int, data: bytes
    ) -> int: ...
    def member(self, group_id: bytes, account_id: bytes) -> MemberRecord | None: ...
    def member_accounts(self, group_id: bytes) -> list[bytes]: ...
    def devices_by_ids(self, device_ids: list[bytes]) -> list[DeviceRecord]: ...
    def is_banned(self, group_id: bytes, account_id: bytes) -> bool: ...
    def upsert_member(
        self, group_id: bytes, account_id: bytes, role: str, joined_seq: int
    ) -> None: ...
    def delete_member(self, group_id: bytes, account_id: bytes) -> bool: ...
    def insert_inbox(
        self, device_id: bytes, group_id: bytes, commit_seq: int, now: int, data: bytes
    ) -> int: ...


class Storage(Protocol):
    """A relay database: one writer at a time, any number of readers."""

    async def run_batch(self, work: Callable[[BatchTxn], T]) -> T:
        """Run ``work`` synchronously inside one write transaction (one database
        call, one commit); return its result once the commit is durable. If
        ``work`` or the commit raises, nothing of it is kept."""
        ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def read(self) -> AbstractAsyncContextManager[Txn]: ...
    def write(self) -> AbstractAsyncContextManager[Txn]: ...
    async def backup(self, target: Path) -> None: ...
    async def checkpoint(self) -> None: ...
    async def schema(self) -> dict[str, list[str]]: ...


__all__ = [
    "AccountRecord",
    "BatchTxn",
    "DeviceRecord",
    "GroupRecord",
    "InboxRecord",
    "InviteRecord",
    "MemberRecord",
    "PurgeCounts",
    "Session",
    "Storage",
    "StoredMessage",
    "Txn",
]
