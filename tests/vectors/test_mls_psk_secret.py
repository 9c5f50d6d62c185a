"""Runner for psk_secret.json (RFC 9420 §8.4).

Format: per case ``cipher_suite``, ``psks`` (a list of {``psk_id``, ``psk``,
``psk_nonce``}, all of type external) and the expected ``psk_secret``. We build
each PreSharedKeyID, chain the PSKs in order and compare; zero PSKs give the
all-zero secret.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import suite_for
from cove.protocol.mls.key_schedule import psk_secret
from cove.protocol.mls.psk import PreSharedKeyID
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("psk_secret.json"))
def test_psk_secret(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    psks = [
        (PreSharedKeyID.external(h(p["psk_id"]), h(p["psk_nonce"])).to_bytes(), h(p["psk"]))
        for p in case["psks"]
    ]
    assert psk_secret(suite, psks).hex() == case["psk_secret"]
