"""The invites feature's store records (docs/client/local-store.md §14): round trips,
the documented fields, redacted reprs, strict decoding."""

from __future__ import annotations

import re
from pathlib import Path

import msgpack
import pytest

from cove.client.features.invites_store import (
    HandledRequest,
    KeptIntake,
    KeptLink,
    KeptPending,
)
from cove.client.store import StoreCorrupted
from cove.client.store.records import StoreRecord

SECRET_URL = "https://relay.example.org/j/aaaaaaaaaaaaaaaa#" + "b" * 42
RECORDS: list[StoreRecord] = [
    KeptLink(b"g" * 16, SECRET_URL, 1, ("How did you hear of us?",), 10, 25, 5),
    KeptIntake(3, b"\x11" * 32, b"\x22" * 32),
    HandledRequest(b"r" * 16, b"h" * 32, "approved", 7),
    KeptPending(b"SECRETREQUEST", b"SECRETSEALED", b"\x33" * 32, "https://r", "Group", 9),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_round_trip_and_documented_fields(record: StoreRecord) -> None:
    assert type(record).unpack(record.pack()) == record
    doc = (Path(__file__).resolve().parents[3] / "docs/client/local-store.md").read_text()
    line = re.search(rf"^\*\*`{record.KIND}`\*\* \(version (\d+)\): (.*)$", doc, re.M)
    assert line is not None and int(line.group(1)) == record.VERSION
    names = re.findall(r"`(\w+)`(\??) ", line.group(2))
    assert names == [(f.name, "?" if f.optional else "") for f in record.fields_spec()]
    assert f"| `{record.KIND}` |" in doc


def test_reprs_hide_the_link_and_keys() -> None:
    text = " ".join(repr(r) for r in RECORDS)
    for secret in ("bbbbbbbb", "SECRET", "11111111", "33333333", "x11", "x33"):
        assert secret not in text, text


def test_damaged_records_are_refused() -> None:
    good = msgpack.unpackb(RECORDS[0].pack())
    with pytest.raises(StoreCorrupted, match="mode"):
        KeptLink.unpack(msgpack.packb({**good, "mode": 3}, use_bin_type=True))
    with pytest.raises(StoreCorrupted, match="outcome"):
        HandledRequest.unpack(msgpack.packb({
            **msgpack.unpackb(RECORDS[2].pack()), "outcome": "maybe",
        }, use_bin_type=True))  # fmt: skip
