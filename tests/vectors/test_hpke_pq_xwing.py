"""X-Wing (MLKEM768-X25519) HPKE vectors: hpke-pq-mlkem768x25519.json.

File format (hpkewg/hpke-pq ``test-vectors.json``, draft-ietf-hpke-pq,
filtered to KEM ``0x647a``): a JSON array of two base-mode entries, KDF
HKDF-SHA256 ``0x0001`` or SHAKE256 ``0x0011`` (one-stage), AEAD
ChaCha20-Poly1305. Byte strings are hex::

    mode, kem_id, kdf_id, aead_id: int
    info, ikmE (64 bytes), ikmR, skRm (the 32-byte X-Wing seed), pkRm (1216 bytes),
    enc (1120 bytes), shared_secret, suite_id, key, base_nonce, exporter_secret: hex
    encryptions: [{aad, pt, nonce, ct}]   list position = sequence number (10)
    exports:     [{exporter_context, L, exported_value}]   (5)

What we check, per entry: DeriveKeyPair(ikmR) = (skRm, pkRm); Decap(enc, skRm)
= shared_secret; the key schedule (two-stage for HKDF, one-stage LabeledDerive
for SHAKE256) gives key, base_nonce and exporter_secret; every encryption
seals to the given ciphertext and opens; every export, from both contexts.

Encap cannot be reproduced byte for byte: ``cryptography`` draws the ML-KEM
encapsulation randomness itself. We check its X25519 half exactly (the last 32
bytes of ``ikmE`` are the ephemeral X25519 scalar: our ``enc`` ends with the
given ``ct_X``), our full Encap against our Decap, and both directions
against ``cryptography``'s own X-Wing HPKE (an independent implementation).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hpke as chpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from cove.protocol.crypto import CipherSuite, suite_for
from cove.protocol.crypto.hpke import MODE_BASE, hpke_suite
from cove.protocol.errors import CryptoError
from tests.support.vectors import cases, h, hpke_vector_dir

pytestmark = pytest.mark.vectors

CASES = cases("hpke-pq-mlkem768x25519.json", directory=hpke_vector_dir())

_THEIR_KDF = {0x0001: chpke.KDF.HKDF_SHA256, 0x0011: chpke.KDF.SHAKE256}


def _their_private(seed: bytes) -> chpke.MLKEM768X25519PrivateKey:
    expanded = hashlib.shake_256(seed).digest(96)
    return chpke.MLKEM768X25519PrivateKey(
        mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
        x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
    )


def test_both_entries_are_present() -> None:
    assert [(c.values[0]["kem_id"], c.values[0]["kdf_id"]) for c in CASES] == [
        (0x647A, 0x0001),
        (0x647A, 0x0011),
    ]


@pytest.mark.parametrize("case", CASES)
def test_xwing_base_mode(case: dict[str, Any]) -> None:
    assert case["mode"] == MODE_BASE
    suite = hpke_suite(case["kem_id"], case["kdf_id"], case["aead_id"])
    assert suite.suite_id == h(case["suite_id"])
    kem = suite.kem
    info, sk, pk, enc = h(case["info"]), h(case["skRm"]), h(case["pkRm"]), h(case["enc"])
    assert (kem.nsecret, kem.nenc, kem.npk, kem.nsk) == (32, 1120, 1216, 32)

    # DeriveKeyPair (SHAKE256 LabeledDerive, suite_id "KEM" 0x647a) and the public key
    assert kem.derive_key_pair(h(case["ikmR"])) == (sk, pk)
    assert kem.public_key(sk) == pk
    kem.check_public_key(pk)

    # Decap reproduces the shared secret
    assert kem.decap(enc, sk) == h(case["shared_secret"])

    # Encap: the X25519 half is exact; the whole round-trips through our Decap
    ours_ss, ours_enc = kem.encap(pk, h(case["ikmE"])[32:])
    assert ours_enc[1088:] == enc[1088:]
    assert len(ours_enc) == 1120 and ours_enc[:1088] != enc[:1088]
    assert kem.decap(ours_enc, sk) == ours_ss

    # Key schedule and contexts
    sender = suite.key_schedule(h(case["shared_secret"]), info, "sender")
    receiver = suite.setup_base_receiver(enc, sk, info)
    for ctx in (sender, receiver):
        assert ctx.key == h(case["key"])
        assert ctx.base_nonce == h(case["base_nonce"])
        assert ctx.exporter_secret == h(case["exporter_secret"])
    assert len(case["encryptions"]) == 10
    for seq, e in enumerate(case["encryptions"]):
        assert sender.compute_nonce(seq) == h(e["nonce"])
        assert sender.seal(h(e["aad"]), h(e["pt"])) == h(e["ct"])
        assert receiver.open(h(e["aad"]), h(e["ct"])) == h(e["pt"])
    assert len(case["exports"]) == 5
    for x in case["exports"]:
        for ctx in (sender, receiver):
            assert ctx.export(h(x["exporter_context"]), x["L"]) == h(x["exported_value"])

    # A flipped ML-KEM ciphertext decapsulates to another secret (implicit
    # rejection), so the context's first open fails.
    bad = bytearray(enc)
    bad[7] ^= 1
    first = case["encryptions"][0]
    with pytest.raises(CryptoError):
        suite.setup_base_receiver(bytes(bad), sk, info).open(h(first["aad"]), h(first["ct"]))


@pytest.mark.parametrize("case", CASES)
def test_xwing_against_cryptography(case: dict[str, Any]) -> None:
    """Single-shot base mode (empty AAD) both ways with cryptography's X-Wing HPKE."""
    ours = hpke_suite(case["kem_id"], case["kdf_id"], case["aead_id"])
    theirs = chpke.Suite(
        chpke.KEM.MLKEM768_X25519, _THEIR_KDF[case["kdf_id"]], chpke.AEAD.CHACHA20_POLY1305
    )
    sk, pk, info = h(case["skRm"]), h(case["pkRm"]), h(case["info"])
    their_sk = _their_private(sk)
    blob = theirs.encrypt(b"to cove", their_sk.public_key(), info=info)
    assert ours.open_base(blob[:1120], sk, info, b"", blob[1120:]) == b"to cove"
    enc, ct = ours.seal_base(pk, info, b"", b"from cove", bytes(range(32)))
    assert theirs.decrypt(enc + ct, their_sk, info=info) == b"from cove"


@pytest.mark.parametrize("case", CASES[:1])
def test_xwing_key_pair_through_the_mls_suite(case: dict[str, Any]) -> None:
    """The PQ MLS suite's KEM is this one: same DeriveKeyPair, same sizes."""
    suite = suite_for(CipherSuite.MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519)
    assert suite.kem_id == case["kem_id"]
    assert suite.derive_key_pair(h(case["ikmR"])) == (h(case["skRm"]), h(case["pkRm"]))
    assert suite.kem_output_length == 1120 and suite.kem_public_key_length == 1216
