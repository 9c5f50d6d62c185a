"""The encrypted local store: one SQLite file, every row sealed under the data key.

::

    Store.create(path, passphrase)   new file (0600) in a 0700 directory, never overwrites
    Store.open(path, passphrase)     one Argon2id run; WrongPassphrase, StoreCorrupted, StoreLocked
      async with store.transaction() as txn:     one SQLite transaction (BEGIN IMMEDIATE)
          await txn.put("message", msg_id, body, partition=group_id, order=n)
          await txn.scan("message", partition=group_id, after_order=cursor, limit=50)

SQLite settings (``docs/client/local-store.md`` "Durability" argues them):
``journal_mode=WAL``, ``synchronous=FULL`` (+ ``fullfsync`` on macOS),
``locking_mode=EXCLUSIVE`` (one connection owns the file; no ``-shm`` file),
``secure_delete=ON``, ``temp_store=MEMORY``, ``trusted_schema=OFF``,
``cell_size_check=ON``. On open the schema must match this module's exactly.

SQL tables hold only tags (HMAC-SHA256 under the index key), ciphertext,
``order`` integers and per-partition counters; see :mod:`.crypto`.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from argon2.exceptions import HashingError

from .crypto import (
    KDF_FLOOR,
    SALT_LEN,
    Header,
    KdfParams,
    StoreKeys,
    argon2id,
    check_kdf_params,
    encode_passphrase,
    new_header,
    unwrap_data_key,
)
from .errors import (
    StoreClosed,
    StoreCorrupted,
    StoreError,
    WrongPassphrase,
)
from .files import (
    O_CLOEXEC,
    O_NOFOLLOW,
    SIBLING_SUFFIXES,
    fsync_dir,
    fsync_path,
    make_private_dir,
    publish,
    refuse_existing,
    sibling,
    tighten_modes,
)
from .sqlite import (
    APPLICATION_ID,
    SCHEMA,
    Connection,
    check_file,
    check_sqlite_header,
    connect,
    initialize,
)
from .txn import Txn

__all__ = ["APPLICATION_ID", "SCHEMA", "SIBLING_SUFFIXES", "Store", "Txn"]

#: RFC 9106's second recommended option: t=3, m=64 MiB, p=4
DEFAULT_KDF = KdfParams()


class Store:
    """The client's encrypted local store. Create with :meth:`create` or :meth:`open`.

    One ``Store`` owns its file exclusively until :meth:`close`; transactions
    are serialized (not re-entrant: do not open one inside another).
    """

    def __init__(self, path: Path, conn: Connection, keys: StoreKeys, header: Header) -> None:
        """Internal: use :meth:`create` or :meth:`open`."""
        self._path = path
        self._conn: Connection | None = conn
        self._keys: StoreKeys | None = keys
        self._header = header
        self._lock = asyncio.Lock()
        self._txn_task: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        return f"<Store {self._path.name!r} {'open' if self._conn else 'closed'}>"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def kdf(self) -> KdfParams:
        """The Argon2id parameters in the header."""
        return self._header.kdf

    @property
    def closed(self) -> bool:
        return self._conn is None

    # -- lifecycle ----------------------------------------------------------------------

    @classmethod
    async def create(
        cls, path: Path | str, passphrase: str, *, kdf: KdfParams = DEFAULT_KDF
    ) -> Store:
        """Create a new store at ``path`` and return it open.

        Refuses (StoreExists) if ``path`` or one of its ``-wal``/``-shm``/``-journal``
        siblings exists. Creates missing directories with mode 0700. The file
        appears at ``path`` only once complete (built under a temporary name,
        then hard-linked into place), so a crash never leaves half a store.
        """
        path = Path(os.path.abspath(path))
        if not isinstance(kdf, KdfParams):
            raise TypeError("kdf must be KdfParams")
        floor = kdf if kdf.is_insecure_for_tests else KDF_FLOOR
        if not check_kdf_params(kdf, floor):
            raise ValueError(f"KDF parameters must be at least {KDF_FLOOR!r}")
        try:
            secret = encode_passphrase(passphrase)
        except UnicodeError:
            raise ValueError("passphrase is not valid Unicode text") from None
        if not secret:
            raise ValueError("passphrase must not be empty")
        make_private_dir(path.parent)
        refuse_existing(path)

        keys = StoreKeys.generate()
        salt = secrets.token_bytes(SALT_LEN)
        kek = await _kdf(secret, salt, kdf)
        header = new_header(kek, keys.data_key, kdf, salt)
        del kek, secret

        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.creating")
        try:
            flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | O_NOFOLLOW | O_CLOEXEC
            fd = os.open(tmp, flags, 0o600)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            await initialize(tmp, header)
            fsync_path(tmp)
            publish(tmp, path)
            fsync_dir(path.parent)
        finally:
            for leftover in (tmp, *(sibling(tmp, s) for s in SIBLING_SUFFIXES)):
                with suppress(FileNotFoundError):
                    os.unlink(leftover)
        conn = await connect(path)
        try:
            await check_file(conn, path)
        except BaseException:
            await conn.close()
            raise
        return cls(path, conn, keys, header)

    @classmethod
    async def open(
        cls, path: Path | str, passphrase: str, *, kdf_floor: KdfParams = KDF_FLOOR
    ) -> Store:
        """Open an existing store.

        Raises StoreNotFound, StoreCorrupted (not a Cove store, damaged,
        truncated or extended, unknown version, KDF parameters outside
        ``[kdf_floor, KDF_CEILING]``), StoreLocked, or WrongPassphrase.
        ``kdf_floor`` below the default is accepted only from
        ``KdfParams.insecure_for_tests()``. Costs one Argon2id run.
        """
        path = Path(os.path.abspath(path))
        if not isinstance(kdf_floor, KdfParams):
            raise TypeError("kdf_floor must be KdfParams")
        if not kdf_floor.is_insecure_for_tests and not check_kdf_params(kdf_floor, KDF_FLOOR):
            raise ValueError("kdf_floor below the minimum requires KdfParams.insecure_for_tests()")
        try:
            secret: bytes | None = encode_passphrase(passphrase)
        except UnicodeError:
            secret = None  # cannot be right; still fails with the generic error below
        check_sqlite_header(path)
        tighten_modes(path)
        conn = await connect(path)
        try:
            await check_file(conn, path)
            row = await conn.one("SELECT header FROM store_header WHERE id = 1")
            if row is None:
                raise StoreCorrupted("store header is missing")
            header = Header.decode(row[0])
            if not check_kdf_params(header.kdf, kdf_floor):
                raise StoreCorrupted("KDF parameters in the header are outside the accepted range")
            kek_task = asyncio.ensure_future(_kdf(secret or b"", header.salt, header.kdf))
            try:
                check = await conn.all("PRAGMA integrity_check")
            finally:
                kek = await kek_task
            if check != [("ok",)]:
                raise StoreCorrupted("the database file is damaged")
            if secret is None:
                raise WrongPassphrase()
            keys = StoreKeys(unwrap_data_key(kek, header))
        except BaseException:
            await conn.close()
            raise
        return cls(path, conn, keys, header)

    async def close(self) -> None:
        """Checkpoint the WAL into the file, release the lock, forget the keys. Idempotent."""
        if self._conn is None:
            return
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            with suppress(StoreError):
                await conn.run("PRAGMA wal_checkpoint(TRUNCATE)")
            await conn.close()
            if self._keys is not None:
                self._keys.forget()
                self._keys = None

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def change_passphrase(self, old: str, new: str, *, kdf: KdfParams | None = None) -> None:
        """Rewrap the data key under ``new`` (fresh salt and nonce; rows untouched).

        ``old`` must open the header (WrongPassphrase otherwise). ``kdf``
        defaults to the header's current parameters. The old header is then
        checkpointed out of the WAL; copies of the file taken before the change
        still open with ``old`` (see the doc, "Changing the passphrase").
        """
        if kdf is None:
            kdf = self._header.kdf  # accepted when the store was opened or created
        elif not check_kdf_params(kdf, kdf if kdf.is_insecure_for_tests else KDF_FLOOR):
            raise ValueError(f"KDF parameters must be at least {KDF_FLOOR!r}")
        try:
            new_secret = encode_passphrase(new)
        except UnicodeError:
            raise ValueError("new passphrase is not valid Unicode text") from None
        if not new_secret:
            raise ValueError("new passphrase must not be empty")
        try:
            old_secret = encode_passphrase(old)
        except UnicodeError:
            raise WrongPassphrase() from None
        conn, keys = self._require_open()
        header = self._header
        old_kek = await _kdf(old_secret, header.salt, header.kdf)
        if not hmac.compare_digest(unwrap_data_key(old_kek, header), keys.data_key):
            raise WrongPassphrase()
        salt = secrets.token_bytes(SALT_LEN)
        kek = await _kdf(new_secret, salt, kdf)
        rewrapped = new_header(kek, keys.data_key, kdf, salt)
        async with self.transaction():
            await conn.run("UPDATE store_header SET header = ? WHERE id = 1", (rewrapped.encode(),))
        self._header = rewrapped
        async with self._lock:  # no transaction may be open during a checkpoint
            await conn.run("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- transactions -------------------------------------------------------------------

    def _require_open(self) -> tuple[Connection, StoreKeys]:
        if self._conn is None or self._keys is None:
            raise StoreClosed("the store is closed")
        return self._conn, self._keys

    def transaction(self) -> AbstractAsyncContextManager[Txn]:
        """One atomic SQLite transaction: committed when the block ends, rolled back
        if it raises (the exception propagates). Transactions are serialized."""
        self._require_open()
        task = asyncio.current_task()
        if task is not None and task is self._txn_task:
            raise RuntimeError("Store.transaction() is not re-entrant")
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Txn]:
        async with self._lock:
            conn, keys = self._require_open()
            self._txn_task = asyncio.current_task()
            txn = Txn(conn, keys)
            try:
                await conn.run("BEGIN IMMEDIATE")
                try:
                    yield txn
                except BaseException:
                    txn._active = False
                    with suppress(StoreError):
                        await conn.run("ROLLBACK")
                    raise
                try:
                    await txn._flush()
                    txn._active = False
                    await conn.run("COMMIT")
                except BaseException:
                    with suppress(StoreError):
                        await conn.run("ROLLBACK")
                    raise
            finally:
                txn._active = False
                self._txn_task = None

    # -- single-operation conveniences (each its own transaction) ------------------------

    async def get(self, collection: str, key: bytes) -> bytes | None:
        async with self.transaction() as txn:
            return await txn.get(collection, key)

    async def put(
        self,
        collection: str,
        key: bytes,
        value: bytes,
        *,
        partition: bytes = b"",
        order: int | None = None,
    ) -> None:
        async with self.transaction() as txn:
            await txn.put(collection, key, value, partition=partition, order=order)

    async def delete(self, collection: str, key: bytes) -> None:
        async with self.transaction() as txn:
            await txn.delete(collection, key)

    async def scan(
        self,
        collection: str,
        *,
        partition: bytes = b"",
        after_order: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        async with self.transaction() as txn:
            return await txn.scan(
                collection,
                partition=partition,
                after_order=after_order,
                limit=limit,
                reverse=reverse,
            )

    async def count(self, collection: str, *, partition: bytes = b"") -> int:
        async with self.transaction() as txn:
            return await txn.count(collection, partition=partition)

    async def next_order(self, collection: str, partition: bytes = b"") -> int:
        async with self.transaction() as txn:
            return await txn.next_order(collection, partition)


async def _kdf(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id off the event loop; a failure (e.g. memory exhausted) is a StoreError."""
    try:
        return await asyncio.to_thread(argon2id, secret, salt, params)
    except HashingError as exc:
        raise StoreError(f"key derivation failed: {exc}") from None
