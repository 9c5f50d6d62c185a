"""Bytes pinned before the two msgpack engines were merged into one.

``data/codec_golden.json`` was written by ``data/make_codec_golden.py`` with the
old engines (``app/codec.py`` and ``wire/schema.py`` each with its own reader):
138 envelopes (four of every class in ``ALL_ENVELOPES``; classes added since,
such as ``RedactRequest``, were sampled with the one engine when they were added) and 32 app records
(four of every record class and of ``AttachmentRef``, several with nested
lists). Each sample is rebuilt from its stored field values; the current code
must encode it to exactly the stored bytes and decode those bytes back to an
equal object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cove.protocol.app import RECORD_CLASSES, AttachmentRef, decode
from cove.protocol.wire import envelopes as E

GOLDEN = json.loads(Path(__file__).with_name("data").joinpath("codec_golden.json").read_text())
_CLASSES: dict[str, Any] = {c.__name__: c for c in E.ALL_ENVELOPES}
_CLASSES |= {c.__name__: c for c in (AttachmentRef, *RECORD_CLASSES.values())}


def build(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if "b" in value:
        return bytes.fromhex(value["b"])
    if "s" in value:
        return value["s"]
    if "l" in value:
        return tuple(build(v) for v in value["l"])
    return _CLASSES[value["c"]](**{k: build(v) for k, v in value["f"].items()})


def test_every_class_is_sampled() -> None:
    envelopes = {e["value"]["c"] for e in GOLDEN["envelopes"]}
    records = {r["value"]["c"] for r in GOLDEN["records"]}
    assert envelopes == {c.__name__ for c in E.ALL_ENVELOPES}
    assert records == {c.__name__ for c in (AttachmentRef, *RECORD_CLASSES.values())}


@pytest.mark.parametrize("entry", GOLDEN["envelopes"], ids=lambda e: e["value"]["c"])
def test_envelope_bytes_unchanged(entry: dict[str, Any]) -> None:
    env = build(entry["value"])
    data = bytes.fromhex(entry["bytes"])
    assert env.encode() == data
    assert type(env).decode(data) == env


@pytest.mark.parametrize(
    "entry", [r for r in GOLDEN["records"] if "bytes" in r], ids=lambda e: e["value"]["c"]
)
def test_record_bytes_unchanged(entry: dict[str, Any]) -> None:
    record = build(entry["value"])
    data = bytes.fromhex(entry["bytes"])
    assert record.encode() == data
    assert decode(data) == record
    assert type(record).decode(data) == record
