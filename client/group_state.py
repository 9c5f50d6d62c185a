"""Per-group records: the sync cursor, what the list of groups shows, and the MLS state.

Collections (key: the group id):

* ``group`` — :class:`GroupRecord`: cursor, kind (group or private conversation),
  peer, active, the key-update schedule, and the group's name, description,
  member count and epoch as of the last epoch change (so listing and naming
  groups never decodes MLS state — a group we left has none);
* ``group_epoch`` — :class:`EpochPart`: ``Group.epoch_state()`` (trees, context,
  epoch secrets, proposals, pending commit: O(members)), written only when
  ``Group.state_serial`` differs from the stored serial;
* ``group_secrets`` — :class:`MessagePart`: ``Group.message_state()`` (the secret
  trees: independent of the member count), written after every message.

All three are written in the same transaction; ``Group.from_state`` refuses a pair
whose serials differ. ``GroupRecord.state_version`` counts the writes, so a loaded
:class:`Group` is reused while it matches (contract C1,
``docs/decisions/0011-client-layout-and-store-records.md``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from cove.client.errors import NotAMember, UnknownGroup
from cove.client.profile import validator
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.client.sync.engine import Cursor
from cove.protocol import Group, RandomProvider
from cove.protocol.group_metadata import GroupKind, GroupMetadata
from cove.protocol.identity import CoveIdentity
from cove.protocol.wire.schema import Bool, Bytes, Int, Str

GROUP, GROUP_EPOCH, GROUP_SECRETS = "group", "group_epoch", "group_secrets"
I63 = 2**63 - 1
_OWN_MAX = 1 << 20  # acknowledged own posts not yet passed by the cursor
_STATE_MAX = 256 << 20


@dataclass(slots=True)
class GroupRecord(StoreRecord):
    KIND: ClassVar[str] = "group"

    group_id: Annotated[bytes, Bytes(1, 255)]
    seq: Annotated[int, Int(0, I63)] = 0
    handshake: Annotated[int, Int(0, I63)] = 0
    #: log positions of our own acknowledged posts after ``seq``, big-endian u64 each
    own: Annotated[bytes, Bytes(0, 8 * _OWN_MAX)] = b""
    kind: Annotated[int, Int(0, 255)] = GroupKind.GROUP
    peer: Annotated[str, Str(0, 64)] = ""
    active: Annotated[bool, Bool()] = True
    last_update: Annotated[int, Int(0, I63)] = 0
    sent_since_update: Annotated[int, Int(0, I63)] = 0
    needs_update: Annotated[bool, Bool()] = False
    name: Annotated[str, Str(0, 1000)] = ""
    description: Annotated[str, Str(0, 10_000)] = ""
    members: Annotated[int, Int(0, I63)] = 0
    epoch: Annotated[int, Int(0, I63)] = 0
    state_version: Annotated[int, Int(0, I63)] = 0
    #: who removed us (a handle), when we were removed by a commit we processed
    removed_by: Annotated[str | None, Str(0, 64)] = None
    #: the ``state_serial`` of the stored epoch part (None: none stored)
    epoch_serial: Annotated[int | None, Int(0, I63)] = None

    def cursor(self) -> Cursor:
        own = {v for (v,) in struct.iter_unpack(">Q", self.own)}
        return Cursor(self.seq, self.handshake, own)

    def set_cursor(self, cursor: Cursor) -> None:
        self.seq, self.handshake = cursor.seq, cursor.handshake
        self.own = b"".join(struct.pack(">Q", v) for v in sorted(cursor.own))

    def add_own(self, seq: int) -> None:
        c = self.cursor()
        c.own.add(seq)
        self.set_cursor(c)


@dataclass(slots=True)
class EpochPart(StoreRecord):
    KIND: ClassVar[str] = "group_epoch"
    MAX_BYTES: ClassVar[int] = _STATE_MAX + 64

    serial: Annotated[int, Int(0, I63)]
    state: Annotated[bytes, Bytes(1, _STATE_MAX)]

    def __repr__(self) -> str:
        return f"EpochPart(serial={self.serial}, <{len(self.state)} bytes of group secrets>)"


@dataclass(slots=True)
class MessagePart(StoreRecord):
    KIND: ClassVar[str] = "group_secrets"
    MAX_BYTES: ClassVar[int] = _STATE_MAX + 64

    serial: Annotated[int, Int(0, I63)]
    state: Annotated[bytes, Bytes(1, _STATE_MAX)]

    def __repr__(self) -> str:
        return f"MessagePart(serial={self.serial}, <{len(self.state)} bytes of group secrets>)"


def metadata(group: Group) -> GroupMetadata:
    return GroupMetadata.from_extensions(group.extensions) or GroupMetadata(GroupKind.GROUP, "")


def handles(group: Group) -> list[str]:
    return [CoveIdentity.from_credential(m.credential).handle for m in group.members()]


@dataclass(slots=True)
class GroupStates:
    """Loads and saves groups; keeps the last saved :class:`Group` of each in memory."""

    rng: RandomProvider
    _cache: dict[bytes, tuple[int, Group]] = field(default_factory=dict)

    async def all(self, txn: Txn) -> list[GroupRecord]:
        return [GroupRecord.unpack(v) for _, v in await txn.scan(GROUP)]

    async def record(self, txn: Txn, group_id: bytes) -> GroupRecord | None:
        data = await txn.get(GROUP, group_id)
        return None if data is None else GroupRecord.unpack(data)

    async def is_active(self, txn: Txn, group_id: bytes) -> bool:
        record = await self.record(txn, group_id)
        return record is not None and record.active

    async def load(self, txn: Txn, group_id: bytes) -> tuple[GroupRecord, Group]:
        """The group's record and MLS state (UnknownGroup if we have none)."""
        record = await self.record(txn, group_id)
        if record is None:
            raise UnknownGroup(f"no group {group_id.hex()}")
        # Taken out of the cache: a transaction that fails after changing the object
        # can never leave a changed object behind.
        cached = self._cache.pop(group_id, None)
        if cached is not None and cached[0] == record.state_version and record.active:
            return record, cached[1]
        epoch = await txn.get(GROUP_EPOCH, group_id)
        secrets = await txn.get(GROUP_SECRETS, group_id)
        if epoch is None or secrets is None or not record.active:
            raise NotAMember("you are no longer a member of this group")
        group = Group.from_state(
            EpochPart.unpack(epoch).state, MessagePart.unpack(secrets).state, self.rng,
            credential_validator=validator,
        )  # fmt: skip
        return record, group

    def keep(self, record: GroupRecord, group: Group) -> None:
        """Put an unchanged loaded group back into the cache."""
        self._cache[record.group_id] = (record.state_version, group)

    async def save(self, txn: Txn, record: GroupRecord, group: Group | None = None) -> None:
        """Write the record and, if given, the group's state: the epoch part (and what
        the list of groups shows) only when its serial changed, the message part always."""
        if group is not None:
            serial = group.state_serial
            record.active = group.active
            if record.epoch_serial != serial:
                meta = metadata(group)
                record.name, record.description = meta.name, meta.description
                record.members, record.epoch = len(group.members()), group.epoch
                part = EpochPart(serial, group.epoch_state())
                await txn.put(GROUP_EPOCH, record.group_id, part.pack())
                record.epoch_serial = serial
            secrets = MessagePart(serial, group.message_state())
            await txn.put(GROUP_SECRETS, record.group_id, secrets.pack())
            record.state_version += 1
        await txn.put(GROUP, record.group_id, record.pack())
        if group is not None:
            self._cache[record.group_id] = (record.state_version, group)

    async def save_snapshot(self, txn: Txn, record: GroupRecord, snapshot: bytes) -> None:
        """Store a state taken with ``Group.to_bytes`` (before or after a commit)."""
        record.epoch_serial = None  # written again whatever its serial
        await self.save(
            txn, record, Group.from_bytes(snapshot, self.rng, credential_validator=validator)
        )

    async def forget(self, txn: Txn, record: GroupRecord) -> None:
        """We are out of the group: no MLS state (no secret) of it stays."""
        record.active = False
        record.state_version += 1
        record.epoch_serial = None
        await txn.delete(GROUP_EPOCH, record.group_id)
        await txn.delete(GROUP_SECRETS, record.group_id)
        await txn.put(GROUP, record.group_id, record.pack())
        self._cache.pop(record.group_id, None)
