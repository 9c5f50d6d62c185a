"""Errors raised by the encrypted local store (``cove.client.store``).

::

    StoreError                  base class; also I/O failures (disk full, permission denied)
      WrongPassphrase           the passphrase does not open this store
      StoreCorrupted            tampered, truncated, or not a Cove store
      StoreLocked               another connection or process holds the store
      StoreExists               create() would overwrite an existing file (also FileExistsError)
      StoreNotFound             open() found no file at the path (also FileNotFoundError)
      StoreClosed               the store was closed, or a transaction used after it ended

Messages never contain secrets, keys, row keys, partitions or values: every
``WrongPassphrase`` carries the same text, whatever the reason the header did
not authenticate, and ``StoreCorrupted`` names the check that failed, not the data.
Plain argument mistakes raise ``TypeError`` / ``ValueError``.
"""

from __future__ import annotations

__all__ = [
    "StoreClosed",
    "StoreCorrupted",
    "StoreError",
    "StoreExists",
    "StoreLocked",
    "StoreNotFound",
    "WrongPassphrase",
]


class StoreError(Exception):
    """Base class of every error raised by :mod:`cove.client.store`."""


class WrongPassphrase(StoreError):
    """The passphrase does not open this store.

    Raised when the wrapped data key fails to authenticate. A wrong passphrase
    and an edited salt, nonce, wrapped key or in-range KDF parameter look the
    same to the store (the AEAD tag fails either way), so both raise this, with
    one generic message.
    """

    MESSAGE = "the passphrase does not open this store"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class StoreCorrupted(StoreError):
    """The file is not a Cove store, or it was tampered with or truncated."""


class StoreLocked(StoreError):
    """Another connection (in this or another process) holds the store open."""


class StoreExists(StoreError, FileExistsError):
    """``Store.create`` refuses to overwrite an existing file (or leftover journal)."""


class StoreNotFound(StoreError, FileNotFoundError):
    """``Store.open`` found no file at the path."""


class StoreClosed(StoreError):
    """The store is closed, or a transaction object is used after its block ended."""
