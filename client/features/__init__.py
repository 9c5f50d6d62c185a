"""The feature registry: each feature is one module in this package.

A feature module builds a :class:`Feature` — the app record types it handles
and the handler the sync runner calls for each received record of those types —
and calls :func:`register`. The runner looks handlers up here by record type
(:func:`feature_for`) and the CLI finds its commands through its own registry
(``cove.client.cli``), so a new feature (polls, say) is a new module here plus a
new command module there; neither the runner nor the dispatcher changes.

::

    received app record --feature_for(type)--> Feature.receive(Incoming) -> MessageView | None
                                                (None: nothing new to show, e.g. a replay)
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cove.client.messages import MessageStore
from cove.client.records import MessageView
from cove.client.store import Txn
from cove.protocol.app import AppRecord

__all__ = ["Feature", "Incoming", "feature_for", "features", "register", "unregister"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One received record, inside the transaction that processes its log page."""

    txn: Txn
    messages: MessageStore
    group_id: bytes
    record: AppRecord
    sender: str
    seq: int
    epoch: int
    now: int
    #: the sender's identity key (authorship is compared by it, never by the handle)
    sender_key: bytes = b""


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    records: tuple[type[AppRecord], ...]
    receive: Callable[[Incoming], Awaitable[MessageView | None]]


_BY_TYPE: dict[type, Feature] = {}
_FEATURES: dict[str, Feature] = {}
_loaded = False


def register(feature: Feature) -> Feature:
    """Add a feature; a record type may belong to one feature only."""
    for cls in feature.records:
        owner = _BY_TYPE.get(cls)
        if owner is not None and owner.name != feature.name:
            raise ValueError(f"{cls.__name__} is already handled by {owner.name}")
    _FEATURES[feature.name] = feature
    for cls in feature.records:
        _BY_TYPE[cls] = feature
    return feature


def unregister(name: str) -> None:
    """Remove a feature (tests; a feature module registers itself once when imported)."""
    feature = _FEATURES.pop(name, None)
    if feature is not None:
        for cls in feature.records:
            if _BY_TYPE.get(cls) is feature:
                del _BY_TYPE[cls]


def _load() -> None:
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def feature_for(record: AppRecord) -> Feature | None:
    _load()
    return _BY_TYPE.get(type(record))


def features() -> dict[str, Feature]:
    _load()
    return dict(_FEATURES)
