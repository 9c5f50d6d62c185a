"""crypto-basics.json: the labelled crypto helpers of RFC 9420 (§5.1.2, §5.1.3, §5.2, §8, §9).

File format (mlswg/mls-implementations ``test-vectors.md``): a JSON array, one
object per cipher suite (7 cases, suites 1-7, all checked), all byte strings lowercase hex::

    {
      "cipher_suite": uint16,
      "ref_hash":           {"label": str, "value": hex, "out": hex},
      "expand_with_label":  {"secret": hex, "label": str, "context": hex,
                             "length": int, "out": hex},
      "derive_secret":      {"secret": hex, "label": str, "out": hex},
      "derive_tree_secret": {"secret": hex, "label": str, "generation": uint32,
                             "length": int, "out": hex},
      "sign_with_label":    {"priv": hex, "pub": hex, "content": hex,
                             "label": str, "signature": hex},
      "encrypt_with_label": {"priv": hex, "pub": hex, "label": str, "context": hex,
                             "plaintext": hex, "kem_output": hex, "ciphertext": hex}
    }

Labels are ASCII strings WITHOUT the "MLS 1.0 " prefix, which our functions add;
RefHash hashes its label exactly as given. Deterministic outputs are compared
byte for byte. Signatures: the given one must verify, and ours must verify
(EdDSA is deterministic, so ours must also equal theirs; our ECDSA is
deterministic RFC 6979 while the vector's is not, so only verification is
compared). Encryption: the given ``kem_output``/``ciphertext`` must decrypt,
and a fresh encryption of ours (randomized) must round-trip.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import (
    SeededRandom,
    decrypt_with_label,
    derive_secret,
    derive_tree_secret,
    encrypt_with_label,
    expand_with_label,
    ref_hash,
    sign_with_label,
    suite_for,
    verify_with_label,
)
from cove.protocol.errors import CryptoError
from tests.support.vectors import cases, h

pytestmark = pytest.mark.vectors

CASES = cases("crypto-basics.json")


@pytest.mark.parametrize("case", CASES)
def test_ref_hash(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    v = case["ref_hash"]
    assert ref_hash(suite, v["label"].encode(), h(v["value"])) == h(v["out"])


@pytest.mark.parametrize("case", CASES)
def test_expand_with_label(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    v = case["expand_with_label"]
    out = expand_with_label(
        suite, h(v["secret"]), v["label"].encode(), h(v["context"]), v["length"]
    )
    assert out == h(v["out"])


@pytest.mark.parametrize("case", CASES)
def test_derive_secret(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    v = case["derive_secret"]
    out = derive_secret(suite, h(v["secret"]), v["label"].encode())
    assert out == h(v["out"])
    assert len(out) == suite.hash_length


@pytest.mark.parametrize("case", CASES)
def test_derive_tree_secret(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    v = case["derive_tree_secret"]
    out = derive_tree_secret(
        suite, h(v["secret"]), v["label"].encode(), v["generation"], v["length"]
    )
    assert out == h(v["out"])


@pytest.mark.parametrize("case", CASES)
def test_sign_with_label(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    v = case["sign_with_label"]
    priv, pub, label, content = h(v["priv"]), h(v["pub"]), v["label"].encode(), h(v["content"])
    assert suite.signature_public_key(priv) == pub
    # theirs verifies
    verify_with_label(suite, pub, label, content, h(v["signature"]))
    # ours verifies
    ours = sign_with_label(suite, priv, label, content)
    verify_with_label(suite, pub, label, content, ours)
    if suite.signature_name in ("ed25519", "ed448"):
        assert ours == h(v["signature"])
    else:
        # ECDSA: DER-encoded Ecdsa-Sig-Value (SEQUENCE of two INTEGERs), as in the vector.
        assert h(v["signature"])[0] == 0x30 and ours[0] == 0x30
    # the label is bound: another label or content does not verify
    with pytest.raises(CryptoError):
        verify_with_label(suite, pub, label + b"x", content, ours)
    with pytest.raises(CryptoError):
        verify_with_label(suite, pub, label, content + b"x", ours)


@pytest.mark.parametrize("case", CASES)
def test_encrypt_with_label(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    v = case["encrypt_with_label"]
    priv, pub = h(v["priv"]), h(v["pub"])
    label, context, plaintext = v["label"].encode(), h(v["context"]), h(v["plaintext"])
    assert suite.kem_public_key(priv) == pub
    # theirs decrypts
    out = decrypt_with_label(suite, priv, label, context, h(v["kem_output"]), h(v["ciphertext"]))
    assert out == plaintext
    # ours round-trips
    rng = SeededRandom(b"crypto-basics " + bytes([case["cipher_suite"]]))
    kem_output, ciphertext = encrypt_with_label(suite, pub, label, context, plaintext, rng)
    assert len(kem_output) == suite.kem_output_length
    assert decrypt_with_label(suite, priv, label, context, kem_output, ciphertext) == plaintext
    # and the context is bound
    with pytest.raises(CryptoError):
        decrypt_with_label(suite, priv, label, context + b"x", kem_output, ciphertext)
