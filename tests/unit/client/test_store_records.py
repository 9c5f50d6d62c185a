"""Typed store records: tagged, versioned, strictly decoded."""

from __future__ import annotations

import msgpack
import pytest

from cove.client.group_state import GroupRecord
from cove.client.outbox import ApplicationEntry, CommitEntry, HandshakeEntry, unpack_entry
from cove.client.store import StoreCorrupted
from cove.client.trust import Pin


def _pack(obj: object) -> bytes:
    return bytes(msgpack.packb(obj, use_bin_type=True))


def test_round_trip_and_the_tag() -> None:
    pin = Pin("bob", b"k" * 32)
    data = pin.pack()
    assert msgpack.unpackb(data)["k"] == "pin" and msgpack.unpackb(data)["v"] == 1
    assert Pin.unpack(data) == pin
    record = GroupRecord(b"g" * 16, seq=5, handshake=3)
    record.add_own(9)
    back = GroupRecord.unpack(record.pack())
    assert back == record and back.cursor().own == {9}


def test_outbox_entries_are_a_tagged_union() -> None:
    entries = [
        ApplicationEntry(b"g" * 16, b"k" * 16, b"m", b"r" * 16),
        HandshakeEntry(b"g" * 16, b"k" * 16, b"m", 4),
        CommitEntry(b"g" * 16, b"k" * 16, b"m", 4, b"before", b"after", None, (b"d" * 16,)),
    ]
    assert [unpack_entry(e.pack()) for e in entries] == entries
    with pytest.raises(StoreCorrupted, match="unknown kind 'poll'"):
        unpack_entry(_pack({"k": "poll", "v": 1}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"k": "pin", "v": 2, "handle": "bob", "identity_key": b"k"},
            "has version 2; this Cove reads up to 1",
        ),
        ({"k": "group", "v": 1, "handle": "bob", "identity_key": b"k"}, "not a pin record"),
        ({"k": "pin", "v": 1, "handle": "bob"}, "missing field 'identity_key'"),
        ({"k": "pin", "v": 1, "handle": 7, "identity_key": b"k"}, "pin.handle: expected a string"),
        (
            {"k": "pin", "v": 1, "handle": "bob", "identity_key": b"k", "verified": False, "x": 1},
            "unknown fields",
        ),
        ([1, 2], "not a map"),
    ],
)
def test_damaged_records_are_refused(value: object, message: str) -> None:
    with pytest.raises(StoreCorrupted, match=message):
        Pin.unpack(_pack(value))
    with pytest.raises(StoreCorrupted, match="damaged"):
        Pin.unpack(b"\xc1")


def test_local_store_doc_lists_every_record_and_field() -> None:
    """docs/client/local-store.md §14 names every kind, version and field, in order."""
    import re
    from pathlib import Path

    from cove.client.account import Account
    from cove.client.drafts import Draft
    from cove.client.group_state import EpochPart, MessagePart
    from cove.client.key_packages import Bundle
    from cove.client.messages import MessageRow, QuarantineRow
    from cove.client.reading import ReadMarker
    from cove.client.store.records import FormatRecord

    doc = (Path(__file__).resolve().parents[3] / "docs/client/local-store.md").read_text()
    from cove.client.features.history_bundle import SharedRow
    from cove.client.features.newcomers import PendingShare, WelcomeRow
    from cove.client.features.rules import PendingAcceptance
    from cove.client.features.rules_gate import AcceptedRow, RulesRow

    classes = [Account, GroupRecord, EpochPart, MessagePart, MessageRow, QuarantineRow, Pin,
               Bundle, ApplicationEntry, HandshakeEntry, CommitEntry, ReadMarker, Draft,
               FormatRecord, RulesRow, AcceptedRow, PendingAcceptance, WelcomeRow,
               PendingShare, SharedRow]  # fmt: skip
    for cls in classes:
        line = re.search(rf"^\*\*`{cls.KIND}`\*\* \(version (\d+)\): (.*)$", doc, re.M)
        assert line is not None, cls.KIND
        assert int(line.group(1)) == cls.VERSION
        names = re.findall(r"`(\w+)`(\??) ", line.group(2))
        expected = [(f.name, "?" if f.optional else "") for f in cls.fields_spec()]
        assert names == expected, cls.KIND


def test_reprs_of_records_with_secrets_or_plaintext_redact_them() -> None:
    from cove.client.account import Account
    from cove.client.group_state import EpochPart, MessagePart
    from cove.client.key_packages import Bundle
    from cove.client.messages import MessageRow, QuarantineRow, Stored
    from cove.protocol.app import ThreadRoot

    secret = b"SECRETSECRETSECRET"
    record = ThreadRoot(id=b"i" * 16, sent_at=1, title="SECRETTITLE", body="SECRETBODY")
    values = [
        Account("http://r", "ana", b"a", b"d", secret, secret, b"r", token="SECRETTOKEN"),
        EpochPart(1, secret), MessagePart(1, secret), Bundle(secret),
        MessageRow(b"g", secret, "ana", 0, 0, 1),
        QuarantineRow(b"g", 1, "r", secret, secret, "ana"),
        Stored(record, "ana", 1, 0, 0, 1),
        ApplicationEntry(b"g", b"k" * 16, secret, b"r" * 16),
        HandshakeEntry(b"g", b"k" * 16, secret, 1),
        CommitEntry(b"g", b"k" * 16, secret, 1, secret, secret, secret),
    ]  # fmt: skip
    for value in values:
        text = repr(value)
        for leak in ("SECRET", secret.hex(), repr(secret)):
            assert leak not in text, text


def test_read_markers_and_drafts_are_strict_and_drafts_redact_their_text() -> None:
    from cove.client.drafts import Draft
    from cove.client.reading import ReadMarker

    marker = ReadMarker(b"g" * 16, 3, b"t" * 16)
    assert ReadMarker.unpack(marker.pack()) == marker
    bad = marker.to_map()
    bad["thread"] = b"short"
    with pytest.raises(StoreCorrupted, match=r"read_marker\.thread"):
        ReadMarker.from_map(bad)
    draft = Draft("t:ab", "SECRETDRAFT", 1, "SECRETTITLE")
    assert Draft.unpack(draft.pack()) == draft
    assert "SECRET" not in repr(draft)
    newer = draft.to_map()
    newer["v"] = 2
    with pytest.raises(StoreCorrupted, match="has version 2; this Cove reads up to 1"):
        Draft.from_map(newer)
