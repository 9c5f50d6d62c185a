"""The history bundle on the client: what a moderator's app puts in it from the local
message store, and how the newcomer's app imports it (``docs/protocol/invites.md``
§11; the bundle format and its checks are :mod:`cove.protocol.invites.history`).

* **Building** (:func:`bundle_items`): the records as folded for reading, so a
  deleted post is not shared and an edited title is shared as it reads now.
  ``TITLES``: each thread root that is not deleted, with its current title (the
  protocol strips body and files), and the current rules text. ``FULL``: every
  thread, post and private message that is not deleted, with the edits and
  reactions on them, and the rules. Records whose author is unknown (no identity
  key) or that the relay has not acknowledged yet (no log position) are left out.
* **Importing** (:func:`import_items`): every item after :func:`check_bundle`
  passed is kept in the newcomer's message store under its original id, author
  handle and identity key and at its original log position — so threads read in
  their place and replies reach the threads everyone sees — and the id is noted
  in the ``shared`` collection with the handle of the member who shared it, which
  the read models show ("shared by mona"): the authors' own MLS signatures do
  not travel with the bundle. A ``Rules`` item counts only if it matches the join
  settings' hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from cove.client.features import rules_gate as gate
from cove.client.features.content import CONTENT_TYPES, fold
from cove.client.messages import MessageStore, Stored
from cove.client.records import MessageView
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol import CoveError
from cove.protocol.app import Edit, Reaction, ThreadRoot
from cove.protocol.app import decode as decode_record
from cove.protocol.app.join_records import Rules
from cove.protocol.invites import HistoryItem, HistoryLevel, InviteRefused
from cove.protocol.invites.rules import check_rules_text
from cove.protocol.wire.schema import Bytes, Str

SHARED = "shared"

__all__ = ["SHARED", "SharedRow", "bundle_items", "import_items", "mark_shared"]


@dataclass(slots=True)
class SharedRow(StoreRecord):
    """A record that came in a history bundle (``shared``, key: the record id,
    partition: the group): who vouched for it."""

    KIND: ClassVar[str] = "shared"

    group: Annotated[bytes, Bytes(1, 255)]
    shared_by: Annotated[str, Str(1, 64)]

    def __repr__(self) -> str:
        return f"SharedRow(shared_by={self.shared_by!r})"


def _item(m: Stored, record_bytes: bytes) -> HistoryItem | None:
    if m.seq is None or len(m.sender_key) != 32 or not 1 <= len(m.sender) <= 32:
        return None
    if not m.sender.isascii():
        return None
    return HistoryItem(m.seq, m.received_at, m.sender_key, m.sender, record_bytes)


def bundle_items(
    rows: Sequence[Stored], level: HistoryLevel, rules: gate.RulesRow | None
) -> list[HistoryItem]:
    """The items the group's ``level`` shares, from a group's stored records."""
    views = {v.id: v for v in fold(rows)}
    live = {i for i, v in views.items() if not v.deleted}
    items: list[HistoryItem] = []
    for m in rows:
        r = m.record
        item: HistoryItem | None = None
        if isinstance(r, ThreadRoot) and r.id in live:
            if level == HistoryLevel.TITLES:
                title = views[r.id].title
                item = _item(
                    m, ThreadRoot(id=r.id, sent_at=r.sent_at, title=title, body="").encode()
                )
            else:
                item = _item(m, r.encode())
        elif (level == HistoryLevel.FULL and type(r) in CONTENT_TYPES and r.id in live) or (
            level == HistoryLevel.FULL and isinstance(r, Edit | Reaction) and r.target in live
        ):
            item = _item(m, r.encode())
        if item is not None:
            items.append(item)
    if rules is not None and rules.seq is not None and len(rules.author) == 32:
        handle = rules.author_handle
        if handle.isascii() and len(handle) <= 32 and rules.seq not in {i.position for i in items}:
            items.append(
                HistoryItem(rules.seq, rules.sent_at, rules.author, handle, rules.record().encode())
            )
    return sorted(items, key=lambda i: i.position)


async def import_items(
    txn: Txn, messages: MessageStore, group_id: bytes, items: Sequence[HistoryItem],
    shared_by: str, rules_now: gate.Pair | None, now: int,
) -> int:  # fmt: skip
    """Keep the (checked) bundle's items; returns how many were new."""
    kept = 0
    for item in items:
        try:
            record = decode_record(item.record)
        except CoveError:
            continue  # a newer record type: nothing to show (the bundle is still good)
        if isinstance(record, Rules):
            try:
                check_rules_text(rules_now, group_id, record.version, record.salt, record.text)
            except InviteRefused:
                continue  # older rules: superseded
            await gate.keep_rules(txn, gate.RulesRow(
                group_id, record.version, record.salt, record.text, record.id, record.sent_at,
                item.author, item.author_handle, item.position,
            ))  # fmt: skip
            continue
        stored = await messages.keep(
            txn, group_id, record, item.author_handle, seq=item.position, epoch=0, now=now,
            sender_key=item.author,
        )  # fmt: skip
        if stored is not None:
            await txn.put(SHARED, record.id, SharedRow(group_id, shared_by).pack(),
                          partition=group_id)  # fmt: skip
            kept += 1
    return kept


async def mark_shared(txn: Txn, group_id: bytes, views: Sequence[MessageView]) -> None:
    """Set ``shared_by`` on the views of records that came in a history bundle."""
    rows = await txn.scan(SHARED, partition=group_id)
    if not rows:
        return
    by_id = {k: SharedRow.unpack(v).shared_by for k, v in rows}
    for v in views:
        who = by_id.get(v.id)
        if who is not None:
            v.shared_by = who
