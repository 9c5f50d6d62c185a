"""Cove's reference client: the Python API.

::

    from cove.client import CoveClient
    async with await CoveClient.open(home, passphrase) as client:
        await client.sync()
        for m in await client.read(await client.resolve_group("Tuesdays")):
            print(m.sender, m.body)

See ``docs/architecture.md`` for the layout behind the facade.
"""

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
from cove.client.service import CoveClient
from cove.client.sync.integrity import DetectionView, GroupStranded
from cove.client.sync.runner import Applied, SyncReport

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
