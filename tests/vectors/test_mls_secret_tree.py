"""Runner for secret-tree.json (RFC 9420 §9, §9.1 and the sender-data key of §6.3.2).

Format: per case ``cipher_suite``, ``encryption_secret``, ``sender_data``
{``sender_data_secret``, ``ciphertext``, ``key``, ``nonce``} and ``leaves``:
one list per leaf of {``generation``, ``handshake_key``, ``handshake_nonce``,
``application_key``, ``application_nonce``}. The tree has ``len(leaves)``
leaves. We derive the sender-data key and nonce from the ciphertext sample,
then for every leaf and listed generation both ratchets' key and nonce, on a
receiving tree (jumping ahead, so skipped keys are kept) and on a sending
tree (stepping one generation at a time).
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import suite_for
from cove.protocol.mls.message_protection import sender_data_key_nonce
from cove.protocol.mls.secret_tree import RatchetType, SecretTree
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("secret-tree.json"))
def test_secret_tree(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    sd = case["sender_data"]
    key, nonce = sender_data_key_nonce(suite, h(sd["sender_data_secret"]), h(sd["ciphertext"]))
    assert (key.hex(), nonce.hex()) == (sd["key"], sd["nonce"])

    n = len(case["leaves"])
    receiver = SecretTree(suite, h(case["encryption_secret"]), n)
    sender = SecretTree(suite, h(case["encryption_secret"]), n)
    for leaf, generations in enumerate(case["leaves"]):
        for g in generations:
            for kind, prefix in (
                (RatchetType.HANDSHAKE, "handshake"),
                (RatchetType.APPLICATION, "application"),
            ):
                want = (g[f"{prefix}_key"], g[f"{prefix}_nonce"])
                got = receiver.with_decryption_keys(
                    leaf, kind, g["generation"], lambda k, n_: (k.hex(), n_.hex())
                )
                assert got == want
                while True:
                    gen, k, n_ = sender.next_encryption_keys(leaf, kind)
                    if gen == g["generation"]:
                        break
                assert (k.hex(), n_.hex()) == want
