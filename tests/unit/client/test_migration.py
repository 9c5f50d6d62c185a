"""A store written in format 1 (the positional lists and untyped maps of the client
before December 2026) is migrated to the typed records of format 2 when opened.

The fixture rows are written exactly the way the old code wrote them (its
``pack`` functions are repeated here), into a real store file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgpack
import pytest

from cove.client import CoveClient, StoreDamaged
from cove.client.outbox import ApplicationEntry, CommitEntry, HandshakeEntry
from cove.client.store import KdfParams, Store
from cove.client.store.records import FORMAT
from cove.protocol import Group, KeyPackageBundle, SeededRandom
from cove.protocol.app import AttachmentRef, Post, Reaction, ThreadRoot
from cove.protocol.crypto import suite_for
from cove.protocol.group_metadata import GroupKind, GroupMetadata
from cove.protocol.identity import CoveIdentity

FAST = KdfParams.insecure_for_tests()
NOW = 1_800_000_000


def _pack(obj: Any) -> bytes:  # the old client's encoding
    return bytes(msgpack.packb(obj, use_bin_type=True))


def _row(record: Any, group_id: bytes, sender: str, seq: int | None) -> dict[str, Any]:
    """The old ``records.to_row`` plus what ``_store_record`` added."""
    types = {ThreadRoot: "thread", Post: "post", Reaction: "reaction"}
    row: dict[str, Any] = {"id": record.id, "type": types[type(record)], "sent_at": record.sent_at}
    for name in ("title", "body", "thread", "reply_to", "target", "emoji", "remove"):
        value = getattr(record, name, None)
        if value is not None:
            row[name] = value
    row["attachments"] = [
        {"blob_id": a.blob_id, "key": a.key, "sha256": a.sha256, "size": a.size,
         "media_type": a.media_type, "name": a.file_name, "chunk_size": a.chunk_size}
        for a in getattr(record, "attachments", ())
    ]  # fmt: skip
    row.update({"group": group_id, "sender": sender, "seq": seq, "epoch": 0, "received_at": NOW})
    return row


async def _format_1_store(home: Path) -> dict[str, Any]:
    rng = SeededRandom(b"migration")
    suite = suite_for(1)
    ipriv, _ = suite.generate_signature_key_pair(rng)
    dpriv, dkey = suite.generate_signature_key_pair(rng)
    ident = CoveIdentity.create("alice", ipriv, dkey)
    gid = b"G" * 16
    meta = GroupMetadata(GroupKind.GROUP, "Tuesdays", "pacing and rest")
    group = Group.create(1, gid, ident.credential(), rng, signature_private=dpriv,
                         extensions=[meta.extension()], now=NOW)  # fmt: skip
    att = AttachmentRef(
        blob_id=b"B" * 16, key=b"K" * 32, sha256=b"S" * 32, size=10,
        media_type="text/plain", file_name="notes.txt", chunk_size=65536,
    )  # fmt: skip
    root = ThreadRoot(id=b"T" * 16, sent_at=NOW, title="Pacing", body="", attachments=(att,))
    post = Post(id=b"P" * 16, sent_at=NOW + 1, thread=root.id, body="hello")
    react = Reaction(id=b"R" * 16, sent_at=NOW + 2, target=post.id, emoji="💜")
    bundle = KeyPackageBundle.create(1, ident.credential(), rng, now=NOW, signature_private=dpriv)
    store = await Store.create(home / "cove.db", "pw", kdf=FAST)
    async with store.transaction() as txn:
        account = ["http://relay", "alice", b"a" * 16, b"d" * 16, ipriv, dpriv, b"r" * 16,
                   "token", 7, 3600, 50]  # fmt: skip
        await txn.put("account", b"self", _pack(account))
        snap = group.to_bytes()
        await txn.put("group", gid, _pack([gid, snap, 3, 2, [9], 1, "", True, NOW, 4, True]))
        left = b"L" * 16
        await txn.put("group", left, _pack([left, b"", 5, 5, [], 1, "", False, NOW, 0, False]))
        for order, (rec, sender, seq) in enumerate(
            [(root, "alice", 1), (post, "bob", 2), (react, "alice", None)], start=1
        ):
            row = _row(rec, gid, sender, seq)
            await txn.put("message", rec.id, _pack(row), partition=gid, order=order)
            await txn.put("msgindex", rec.id, _pack([gid, order]))
        await txn.put("pin", b"bob", _pack(["bob", b"k" * 32, b"c" * 32, False]))
        await txn.put("kp_bundle", bundle.ref(), _pack([bundle.to_bytes(), True]))
        await txn.put("outbox", b"1" * 16, _pack({"group": gid, "key": b"1" * 16,
                      "message": b"m1", "record_id": react.id}))  # fmt: skip
        await txn.put("outbox", b"2" * 16, _pack({"group": gid, "key": b"2" * 16,
                      "message": b"m2", "position": 2, "handshake": True}))  # fmt: skip
        commit = {"group": gid, "key": b"3" * 16, "message": b"m3", "position": 2,
                  "before": snap, "after": snap, "welcome": b"w",
                  "welcome_devices": [b"d" * 16], "remove": None}  # fmt: skip
        await txn.put("outbox", b"3" * 16, _pack(commit))
        await txn.put("quarantine", gid + (4).to_bytes(8, "big"),
                      _pack({"group": gid, "seq": 4, "reason": "bad", "message": b"x"}),
                      partition=gid, order=1)  # fmt: skip
    await store.close()
    return {"gid": gid, "root": root, "post": post, "left": left, "bundle": bundle}


def test_a_format_1_store_is_migrated_on_open(tmp_path: Path) -> None:
    asyncio.run(_migrate(tmp_path))


async def _migrate(tmp_path: Path) -> None:
    f = await _format_1_store(tmp_path)
    gid = f["gid"]
    async with await CoveClient.open(tmp_path, "pw", kdf_floor=FAST) as c:
        a = c.account
        assert (a.handle, a.relay, a.token, a.inbox_cursor) == ("alice", "http://relay", "token", 7)
        assert (a.update_interval, a.update_after_messages) == (3600, 50)
        views = {g.group_id: g for g in await c.groups()}
        g = views[gid]
        assert (g.name, g.description, g.members, g.active) == (
            "Tuesdays",
            "pacing and rest",
            1,
            True,
        )
        assert not views[f["left"]].active
        async with c.store.transaction() as txn:
            record = await c.states.record(txn, gid)
            assert record is not None
            assert (record.seq, record.handshake, record.cursor().own) == (3, 2, {9})
            assert (record.sent_since_update, record.needs_update) == (4, True)
            kinds = sorted(type(e).__name__ for e in await c.outbox.entries(txn))
            assert kinds == ["ApplicationEntry", "CommitEntry", "HandshakeEntry"]
            entries = {type(e): e for e in await c.outbox.entries(txn)}
            assert isinstance(entries[CommitEntry], CommitEntry)
            assert entries[CommitEntry].welcome_devices == (b"d" * 16,)
            assert isinstance(entries[HandshakeEntry], HandshakeEntry)
            assert entries[HandshakeEntry].position == 2
            app = entries[ApplicationEntry]
            assert isinstance(app, ApplicationEntry) and app.record_id == b"R" * 16
            pin = await c.trust_store.pin(txn, "bob")
            assert pin is not None and (pin.identity_key, pin.changed) == (b"k" * 32, b"c" * 32)
            found = await c.key_packages.find(txn, f["bundle"].ref())
            assert found is not None and found[1] is True
            assert await txn.get("msgindex", f["root"].id) is None  # format 1 only
        (thread,) = await c.threads(gid)
        assert thread.title == "Pacing" and thread.attachments[0]["name"] == "notes.txt"
        posts = await c.read(gid, f["root"].id)
        assert [(m.sender, m.body) for m in posts] == [("alice", ""), ("bob", "hello")]
        assert posts[1].reactions == {"💜": ["alice"]}
        (q,) = await c.quarantined(gid)
        assert (q["seq"], q["reason"], q["message"]) == (4, "bad", b"x")
    # Opening again finds format 2 and changes nothing.
    async with await CoveClient.open(tmp_path, "pw", kdf_floor=FAST) as c:
        assert [m.body for m in await c.read(gid, f["root"].id)] == ["", "hello"]
        async with c.store.transaction() as txn:
            assert await txn.get("meta", b"format") is not None


def test_a_store_from_a_newer_cove_is_refused(tmp_path: Path) -> None:
    async def go() -> None:
        await _format_1_store(tmp_path)
        store = await Store.open(tmp_path / "cove.db", "pw", kdf_floor=FAST)
        async with store.transaction() as txn:
            await txn.put("meta", b"format", _pack({"k": "format", "v": 1, "format": FORMAT + 1}))
        await store.close()
        with pytest.raises(
            StoreDamaged, match=f"written by a newer Cove \\(format {FORMAT + 1}\\)"
        ):
            await CoveClient.open(tmp_path, "pw", kdf_floor=FAST)

    asyncio.run(go())
