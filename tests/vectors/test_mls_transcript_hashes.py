"""Runner for transcript-hashes.json (RFC 9420 §8.2, §6.1).

Format: per case ``cipher_suite``, ``confirmation_key``,
``authenticated_content`` (an encoded AuthenticatedContent carrying a Commit),
``interim_transcript_hash_before`` and the expected
``confirmed_transcript_hash_after`` and ``interim_transcript_hash_after``. We
parse the content, check that its ``confirmation_tag`` is the MAC of the new
confirmed hash, and check both new hashes.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import suite_for
from cove.protocol.errors import CryptoError
from cove.protocol.mls.framing import AuthenticatedContent
from cove.protocol.mls.transcript import (
    confirmed_transcript_hash,
    interim_transcript_hash,
    verify_confirmation_tag,
)
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("transcript-hashes.json"))
def test_transcript_hashes(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    data = h(case["authenticated_content"])
    content = AuthenticatedContent.from_bytes(data)
    assert content.to_bytes() == data
    confirmed = confirmed_transcript_hash(
        suite, h(case["interim_transcript_hash_before"]), content.confirmed_transcript_hash_input()
    )
    assert confirmed.hex() == case["confirmed_transcript_hash_after"]
    tag = content.auth.confirmation_tag
    assert tag is not None
    verify_confirmation_tag(suite, h(case["confirmation_key"]), confirmed, tag)
    with pytest.raises(CryptoError):
        verify_confirmation_tag(suite, h(case["confirmation_key"]), confirmed[::-1], tag)
    interim = interim_transcript_hash(suite, confirmed, tag)
    assert interim.hex() == case["interim_transcript_hash_after"]
