"""Relay storage: the :class:`~.base.Storage` interface and its SQLite backend."""

from .base import Storage, Txn
from .sqlite import SqliteStorage

__all__ = ["SqliteStorage", "Storage", "Txn"]
