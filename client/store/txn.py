"""A transaction of the encrypted local store (:class:`Txn`): reads, writes, scans
and per-partition counters inside one SQLite transaction, every row sealed under
the data key and found by its tags (:mod:`.crypto`). :class:`~.db.Store` opens
them; ``docs/client/local-store.md`` specifies the rows.
"""

from __future__ import annotations

import re

from .crypto import StoreKeys, check_order
from .errors import StoreClosed, StoreCorrupted, StoreError
from .sqlite import Connection

_COLLECTION = re.compile(r"[a-z][a-z0-9_]{0,31}")
_I64_MAX = 2**63 - 1


def _collection(name: str) -> bytes:
    if not isinstance(name, str):
        raise TypeError("collection must be str")
    if not _COLLECTION.fullmatch(name):
        raise ValueError("collection must match [a-z][a-z0-9_]{0,31}")
    return name.encode("ascii")


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes")


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise StoreCorrupted("a stored column has the wrong type")
    return value


def _order_from_row(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise StoreCorrupted("a stored order has the wrong type")


_PUT_ROW = "INSERT OR REPLACE INTO rows (coll, k, part, ord, v) VALUES (?, ?, ?, ?, ?)"
_BUMP_COUNTER = (
    "INSERT INTO counters (coll, part, next) VALUES (?, ?, ?)"
    " ON CONFLICT (coll, part) DO UPDATE SET next = max(next, excluded.next)"
)


class Txn:
    """Operations inside one :meth:`Store.transaction` block.

    Keys, partitions and values are bytes; ``order`` is a signed 64-bit integer
    or None. A Txn must not be used after its ``async with`` block ends.
    """

    __slots__ = ("_active", "_bump", "_conn", "_keys", "_known", "_read", "_rows")

    def __init__(self, conn: Connection, keys: StoreKeys) -> None:
        self._conn = conn
        self._keys = keys
        self._active = True
        # Order counters: raised in memory and written once, just before COMMIT
        # (:meth:`_flush`), so keeping a page of messages costs no counter round trips.
        #: (collection tag, partition tag) -> the value the stored counter must reach
        self._bump: dict[tuple[bytes, bytes], int] = {}
        #: counters read in this transaction -> their exact next value
        self._known: dict[tuple[bytes, bytes], int] = {}
        # Rows put are written in one statement before the next read that could see
        # them (scan, count, delete) and before COMMIT; ``get`` answers from here.
        #: (collection tag, key tag) -> (the row's columns, its value)
        self._rows: dict[tuple[bytes, bytes], tuple[tuple[object, ...], bytes]] = {}
        #: rows read ahead by :meth:`get_many` (None: not stored), until written or deleted
        self._read: dict[tuple[bytes, bytes], bytes | None] = {}

    def _raise_counter(self, ctag: bytes, ptag: bytes, at_least: int) -> None:
        slot = (ctag, ptag)
        if at_least > self._bump.get(slot, 0):
            self._bump[slot] = at_least
        known = self._known.get(slot)
        if known is not None and at_least > known:
            self._known[slot] = at_least

    async def _write_rows(self) -> None:
        if self._rows:
            rows = [columns for columns, _ in self._rows.values()]
            self._rows.clear()
            await self._conn.run_many(_PUT_ROW, rows)

    async def _flush(self) -> None:
        """Write the rows put and the raised order counters (a round trip each)."""
        conn, _ = self._check()
        await self._write_rows()
        if self._bump:
            await conn.run_many(_BUMP_COUNTER, [(c, p, n) for (c, p), n in self._bump.items()])
            self._bump.clear()

    def __repr__(self) -> str:
        return f"<Txn {'active' if self._active else 'finished'}>"

    def _check(self) -> tuple[Connection, StoreKeys]:
        if not self._active:
            raise StoreClosed("the transaction has ended")
        return self._conn, self._keys

    async def get(self, collection: str, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        conn, keys = self._check()
        coll = _collection(collection)
        key = _bytes(key, "key")
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        pending = self._rows.get((ctag, ktag))
        if pending is not None:
            return pending[1]
        if (ctag, ktag) in self._read:
            return self._read[(ctag, ktag)]
        row = await conn.one("SELECT part, ord, v FROM rows WHERE coll = ? AND k = ?", (ctag, ktag))
        if row is None:
            return None
        part, order, blob = _blob(row[0]), _order_from_row(row[1]), _blob(row[2])
        _, value = keys.open_row(coll, ktag, part, order, blob)
        return value

    async def get_many(self, collection: str, keys: list[bytes]) -> None:
        """Read the rows of ``keys`` ahead, in one query: the following :meth:`get` of any
        of them answers without a round trip (a page of messages checks its ids so)."""
        conn, store_keys = self._check()
        coll = _collection(collection)
        ctag = store_keys.collection_tag(coll)
        tags: dict[bytes, None] = {}
        for key in keys:
            ktag = store_keys.key_tag(coll, _bytes(key, "key"))
            if (ctag, ktag) not in self._rows:
                tags[ktag] = None
        found: dict[bytes, bytes | None] = dict.fromkeys(tags)
        chunk = list(tags)
        for start in range(0, len(chunk), 500):  # SQLite's default limit is 32,766 variables
            part_tags = chunk[start : start + 500]
            marks = ", ".join("?" * len(part_tags))
            rows = await conn.all(
                f"SELECT k, part, ord, v FROM rows WHERE coll = ? AND k IN ({marks})",  # noqa: S608 (only placeholders)
                [ctag, *part_tags],
            )
            for ktag, part, order, blob in rows:
                _, value = store_keys.open_row(
                    coll, _blob(ktag), _blob(part), _order_from_row(order), _blob(blob)
                )
                found[_blob(ktag)] = value
        for ktag, kept in found.items():
            self._read[(ctag, ktag)] = kept

    async def put(
        self,
        collection: str,
        key: bytes,
        value: bytes,
        *,
        partition: bytes = b"",
        order: int | None = None,
    ) -> None:
        """Insert or replace the row ``key`` (value, partition and order all replaced)."""
        _, keys = self._check()
        coll = _collection(collection)
        key = _bytes(key, "key")
        value = _bytes(value, "value")
        partition = _bytes(partition, "partition")
        check_order(order)
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        ptag = keys.partition_tag(coll, partition)
        blob = keys.seal_row(coll, ktag, ptag, order, key, value)
        self._rows.pop((ctag, ktag), None)  # a replaced row is written in its new place
        self._read.pop((ctag, ktag), None)
        self._rows[(ctag, ktag)] = ((ctag, ktag, ptag, order, blob), value)
        if order is not None:
            self._raise_counter(ctag, ptag, min(order + 1, _I64_MAX))

    async def delete(self, collection: str, key: bytes) -> None:
        """Remove the row ``key`` if present (its bytes are zeroed: secure_delete)."""
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        key = _bytes(key, "key")
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        self._read.pop((ctag, ktag), None)
        await conn.run("DELETE FROM rows WHERE coll = ? AND k = ?", (ctag, ktag))

    async def delete_partition(self, collection: str, partition: bytes) -> int:
        """Remove every row of ``partition``; returns how many. Its counter is kept."""
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        ctag, ptag = keys.collection_tag(coll), keys.partition_tag(coll, partition)
        self._read.clear()
        row = await conn.one("SELECT count(*) FROM rows WHERE coll = ? AND part = ?", (ctag, ptag))
        await conn.run("DELETE FROM rows WHERE coll = ? AND part = ?", (ctag, ptag))
        return int(row[0]) if row else 0

    async def scan(
        self,
        collection: str,
        *,
        partition: bytes = b"",
        after_order: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        """(key, value) pairs of one partition by ascending ``order`` (descending if ``reverse``).

        ``after_order`` is a paging cursor in the scan's direction: only rows
        with ``order > after_order`` (``< after_order`` when ``reverse``) are
        returned, and rows stored without an order are skipped. Without it,
        rows stored without an order come before all others (after them when
        ``reverse``). Ties in ``order`` come in a stable, unspecified order.
        """
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        check_order(after_order, "after_order")
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool):
                raise TypeError("limit must be int or None")
            if limit < 0:
                raise ValueError("limit must be >= 0")
            if limit == 0:
                return []
        ctag, ptag = keys.collection_tag(coll), keys.partition_tag(coll, partition)
        sql = "SELECT k, ord, v FROM rows WHERE coll = ? AND part = ?"
        args: list[object] = [ctag, ptag]
        if after_order is not None:
            sql += " AND ord < ?" if reverse else " AND ord > ?"
            args.append(after_order)
        sql += " ORDER BY ord DESC, k DESC" if reverse else " ORDER BY ord ASC, k ASC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        out = []
        for ktag, order, blob in await conn.all(sql, args):
            out.append(keys.open_row(coll, _blob(ktag), ptag, _order_from_row(order), _blob(blob)))
        return out

    async def count(self, collection: str, *, partition: bytes = b"") -> int:
        """Number of rows in one partition of ``collection``."""
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        row = await conn.one(
            "SELECT count(*) FROM rows WHERE coll = ? AND part = ?",
            (keys.collection_tag(coll), keys.partition_tag(coll, partition)),
        )
        return int(row[0]) if row else 0

    async def next_order(self, collection: str, partition: bytes = b"") -> int:
        """A fresh ``order`` for this partition, starting at 1.

        Strictly greater than every value it returned before for the partition
        and every ``order`` ever ``put`` into it (also after deletions and
        reopening). Rolled back with the transaction.
        """
        conn, keys = self._check()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        ctag, ptag = keys.collection_tag(coll), keys.partition_tag(coll, partition)
        slot = (ctag, ptag)
        n = self._known.get(slot)
        if n is None:
            row = await conn.one(
                "SELECT next FROM counters WHERE coll = ? AND part = ?", (ctag, ptag)
            )
            n = 1 if row is None else max(1, _order_from_row(row[0]) or 1)
            n = max(n, self._bump.get(slot, 1))
        if n >= _I64_MAX:
            raise StoreError("order counter exhausted")
        self._known[slot] = n + 1
        self._raise_counter(ctag, ptag, n + 1)
        return n
