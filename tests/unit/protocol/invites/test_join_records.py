"""The join app records: they decode through app.decode, strictly."""

from __future__ import annotations

from dataclasses import replace

import msgpack  # type: ignore[import-untyped]
import pytest

from cove.protocol.app import decode
from cove.protocol.app.codec import padded_size
from cove.protocol.app.join_records import HistoryShare, Rules, RulesAcceptance, WelcomeMessage
from cove.protocol.app.records import register_record_class
from cove.protocol.errors import DecodeError, UsageError

ID = bytes(range(16))
RECORDS = [
    Rules(id=ID, sent_at=1, version=1, salt=bytes(16), text="Be kind."),
    RulesAcceptance(id=ID, sent_at=1, version=1, rules_hash=bytes(32), signature=bytes(64)),
    WelcomeMessage(id=ID, sent_at=1, text="Welcome!"),
    WelcomeMessage(id=ID, sent_at=1, text="Welcome, nia!", newcomer=bytes(32)),
    HistoryShare(
        id=ID,
        sent_at=1,
        newcomer=bytes(32),
        level=1,
        blob_id=bytes(16),
        sha256=bytes(32),
        size=100,
        chunk_size=65536,
        kem_output=bytes(32),
        sealed_key=bytes(48),
    ),
]


def raw(obj: dict[str, object]) -> bytes:
    packed = msgpack.packb(obj, use_bin_type=True)
    return packed + bytes(padded_size(len(packed)) - len(packed))


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_round_trip(record: object) -> None:
    data = record.encode()  # type: ignore[attr-defined]
    assert decode(data) == record
    assert type(record).decode(data) == record  # type: ignore[attr-defined]
    assert len(data) == 512


def test_type_numbers_and_layout() -> None:
    assert [r.RECORD_TYPE for r in RECORDS] == [32, 33, 48, 48, 49]
    obj = msgpack.unpackb(RECORDS[0].encode().rstrip(b"\x00"), raw=False)
    assert obj == {
        "v": 1,
        "t": 32,
        "id": ID,
        "sent_at": 1,
        "version": 1,
        "salt": bytes(16),
        "text": "Be kind.",
    }


def test_decoding_is_strict() -> None:
    good = {"v": 1, "t": 32, "id": ID, "sent_at": 1, "version": 1, "salt": bytes(16), "text": "x"}
    for bad, message in (
        ({**good, "salt": bytes(15)}, "15 bytes"),
        ({**good, "version": 0}, "not in 1"),
        ({**good, "text": ""}, "0 bytes"),
        ({**good, "text": "a\x00b"}, "control character"),
        ({**good, "extra": 1}, "unknown field"),
        ({k: v for k, v in good.items() if k != "text"}, "missing field"),
    ):
        with pytest.raises(DecodeError, match=message):
            decode(raw(bad))
    with pytest.raises(DecodeError, match="not a Rules"):
        Rules.decode(RECORDS[1].encode())


def test_constructor_checks() -> None:
    with pytest.raises(UsageError, match="level"):
        replace(RECORDS[4], level=3)
    with pytest.raises(UsageError, match="text"):
        WelcomeMessage(id=ID, sent_at=1, text="x" * 2001)


def test_secrets_not_in_repr() -> None:
    assert "Be kind" not in repr(RECORDS[0])
    assert "Welcome!" not in repr(RECORDS[2])
    assert "hidden" in repr(RECORDS[4])


def test_registry_refuses_taken_numbers() -> None:
    for number in (2, 32, 200):
        with pytest.raises(UsageError, match="taken or out of range"):
            register_record_class(number, Rules)
