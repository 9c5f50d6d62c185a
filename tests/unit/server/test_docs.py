"""The relay's documents agree with the code: limits table, data inventory,
API endpoints and error codes, wire-format envelopes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from cove.protocol.wire.api import ENDPOINTS
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.envelopes import ALL_ENVELOPES
from cove.protocol.wire.limits import LIMITS
from cove.server.storage.sqlite import SqliteStorage

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _rows(text: str) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            out.append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1].split("\n## ")[0] for i in range(1, len(parts), 2)}


def test_limits_doc_matches_the_table() -> None:
    text = (DOCS / "server" / "limits.md").read_text()
    table = text.split("## What happens")[0]
    rows = [r for r in _rows(table) if r[0].startswith("`")]
    documented = {r[0].strip("`"): (int(r[1]), r[2], r[3] == "yes") for r in rows}
    expected = {lim.name: (lim.value, lim.unit, not lim.fixed) for lim in LIMITS}
    assert documented == expected


def test_data_inventory_matches_the_schema(tmp_path: Path) -> None:
    async def schema() -> dict[str, list[str]]:
        storage = SqliteStorage(tmp_path / "relay.sqlite3")
        await storage.open()
        try:
            return await storage.schema()
        finally:
            await storage.close()

    real = asyncio.run(schema())
    text = (DOCS / "server" / "data-inventory.md").read_text()
    documented = {}
    for title, body in _sections(text).items():
        table = title.strip("`")
        documented[table] = [r[0].strip("`") for r in _rows(body) if r[0] != "column"]
    assert sorted(documented) == sorted(real)
    for table, columns in real.items():
        assert documented[table] == columns, table


def test_every_endpoint_and_error_code_is_documented() -> None:
    text = (DOCS / "server" / "api.md").read_text()
    sections = _sections(text)
    for ep in ENDPOINTS:
        title = f"`{ep.method} {ep.path}` — {ep.name}"
        assert title in sections, title
        body = sections[title]
        for code in ep.errors:
            assert f"`{code.value}`" in body, (ep.name, code)
    codes = {r[0].strip("`"): int(r[1]) for r in _rows(text.split("## Error codes")[1])[1:]}
    assert codes == {c.value: c.status for c in ErrorCode}


def test_every_envelope_is_in_the_wire_format() -> None:
    sections = _sections((DOCS / "protocol" / "wire-format.md").read_text())
    for cls in ALL_ENVELOPES:
        assert cls.__name__ in sections, cls.__name__
        keys = [r[0].strip("`") for r in _rows(sections[cls.__name__]) if r[0] != "key"]
        assert keys == ["v", *[name for name, _, _ in cls.schema()]], cls.__name__
