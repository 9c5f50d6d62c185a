"""Cove's reference client: the Python API.

::

    from cove.client import CoveClient
    async with await CoveClient.open(home, passphrase) as client:
        await client.sync()
        for m in await client.read(await client.resolve_group("Tuesdays")):
            print(m.sender, m.body)

See ``docs/architecture.md`` for the layout behind the facade.
"""

from typing import TYPE_CHECKING, Any

from cove.client.clock import Clock, FixedClock, SystemClock
from cove.client.errors import (
    ClientError,
    KeyChanged,
    NoPermission,
    NotAMember,
    NotInitialized,
    RelayUnreachableError,
    StoreDamaged,
    UnknownGroup,
    UnknownHandle,
    UnknownMessage,
    UsageProblem,
    WrongPassphraseError,
)
from cove.client.records import GroupView, MemberView, MessageView

if TYPE_CHECKING:
    from cove.client.service import CoveClient
    from cove.client.sync.integrity import DetectionView, GroupStranded
    from cove.client.sync.runner import Applied, SyncReport

# Loaded on first use (PEP 562): the CLI imports this package, and ``cove --help``
# must not load aiohttp and all of MLS. ``from cove.client import CoveClient`` works.
_LAZY = {
    "CoveClient": "cove.client.service",
    "Applied": "cove.client.sync.runner",
    "SyncReport": "cove.client.sync.runner",
    "DetectionView": "cove.client.sync.integrity",
    "GroupStranded": "cove.client.sync.integrity",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Applied",
    "ClientError",
    "Clock",
    "CoveClient",
    "DetectionView",
    "FixedClock",
    "GroupStranded",
    "GroupView",
    "KeyChanged",
    "MemberView",
    "MessageView",
    "NoPermission",
    "NotAMember",
    "NotInitialized",
    "RelayUnreachableError",
    "StoreDamaged",
    "SyncReport",
    "SystemClock",
    "UnknownGroup",
    "UnknownHandle",
    "UnknownMessage",
    "UsageProblem",
    "WrongPassphraseError",
]
