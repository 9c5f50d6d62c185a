"""Runner for deserialization.json (RFC 9420 §2.1.2, variable-length headers).

Format: one object per case with ``vlbytes_header`` (hex, 1, 2 or 4 bytes) and
the ``length`` it encodes. We decode the header, and check that our encoder
picks the same (shortest) form. No cipher suite.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.codec import Reader, encode_varint
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("deserialization.json"))
def test_vlbytes_header(case: dict[str, Any]) -> None:
    header = h(case["vlbytes_header"])
    r = Reader(header)
    assert r.varint() == case["length"]
    r.expect_end()
    assert encode_varint(case["length"]) == header
