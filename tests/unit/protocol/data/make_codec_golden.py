"""Writes codec_golden.json: sample envelopes and app records with their bytes.

Run once, before the msgpack schema engine was merged (commit 1d6d681), so the
file pins the bytes the old engines produced; test_codec_golden.py checks the
current code against it. Samples come from the same hypothesis strategies as
tests/unit/server/test_envelopes.py and tests/property/test_app_decoders.py,
derandomized, plus the all-minimum and all-maximum fill of every class.
Usage: .venv/bin/python -m tests.unit.protocol.data.make_codec_golden
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from cove.protocol.app import RECORD_CLASSES, AttachmentRef
from cove.protocol.wire import envelopes as E
from tests.property.test_app_decoders import struct_strategy
from tests.unit.server.test_envelopes import envelopes_of

OUT = Path(__file__).with_name("codec_golden.json")
PER_CLASS = 4


def to_json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, bytes):
        return {"b": value.hex()}
    if isinstance(value, str):
        return {"s": value}
    if isinstance(value, tuple):
        return {"l": [to_json(v) for v in value]}
    fields = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return {"c": type(value).__name__, "f": fields}


def samples(strategy: Any) -> list[Any]:
    found: list[Any] = []

    @settings(
        max_examples=PER_CLASS,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(x: Any) -> None:
        if x not in found:
            found.append(x)

    collect()
    return found


def main() -> None:
    out: dict[str, list[dict[str, Any]]] = {"envelopes": [], "records": []}
    for cls in E.ALL_ENVELOPES:
        for env in samples(envelopes_of(cls)):
            out["envelopes"].append({"value": to_json(env), "bytes": env.encode().hex()})
    for rcls in (AttachmentRef, *RECORD_CLASSES.values()):
        for rec in samples(struct_strategy(rcls)):
            entry = {"value": to_json(rec)}
            if rcls is not AttachmentRef:  # a struct inside records, not a record
                entry["bytes"] = rec.encode().hex()
            out["records"].append(entry)
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    print(len(out["envelopes"]), "envelopes,", len(out["records"]), "records")


if __name__ == "__main__":
    main()
