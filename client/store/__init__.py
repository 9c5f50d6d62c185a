"""The reference client's encrypted local store (``docs/client/local-store.md``).

One SQLite file holds everything the client keeps on disk; every row is sealed
with XChaCha20-Poly1305 under a random data key, which is wrapped under a key
derived from the member's passphrase with Argon2id. Row keys and partitions are
stored only as HMAC tags.
"""

from __future__ import annotations

from .crypto import KDF_CEILING, KDF_FLOOR, KdfParams
from .db import Store, Txn
from .errors import (
    StoreClosed,
    StoreCorrupted,
    StoreError,
    StoreExists,
    StoreLocked,
    StoreNotFound,
    WrongPassphrase,
)

__all__ = [
    "KDF_CEILING",
    "KDF_FLOOR",
    "KdfParams",
    "Store",
    "StoreClosed",
    "StoreCorrupted",
    "StoreError",
    "StoreExists",
    "StoreLocked",
    "StoreNotFound",
    "Txn",
    "WrongPassphrase",
]
