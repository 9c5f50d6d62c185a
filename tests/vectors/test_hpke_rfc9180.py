"""RFC 9180 HPKE vectors: rfc9180-mode0-x25519-hkdfsha256-aes128gcm.json.

File format (cfrg/draft-irtf-cfrg-hpke ``test-vectors.json``, filtered): a JSON
array of entries (here one: mode 0 = Base, kem_id 0x0020 DHKEM(X25519,
HKDF-SHA256), kdf_id 0x0001 HKDF-SHA256, aead_id 0x0001 AES-128-GCM, the key
material of RFC 9180 Appendix A.1.1). Byte strings are hex::

    mode, kem_id, kdf_id, aead_id: int
    info, ikmE, ikmR, skEm, pkEm, skRm, pkRm, enc, shared_secret,
    key_schedule_context, secret, key, base_nonce, exporter_secret: hex
    encryptions: [{aad, pt, nonce, ct}]   list position = sequence number (0..256)
    exports:     [{exporter_context, L, exported_value}]

We reproduce everything: both key pairs by DeriveKeyPair(ikm), enc and the
shared secret by Encap with DeriveKeyPair(ikmE) as the ephemeral key, the key
schedule, every encryption in sequence (sender context, byte-equal ciphertext
and nonce) and its decryption (receiver context), and every export from both
contexts. The same checks run through the MLS :class:`Suite` API for suite 1,
whose HPKE suite this is.

The PQ file in the same folder (X-Wing) is for a future suite and is not tested.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import FixedRandom, suite_for
from cove.protocol.crypto.hpke import MODE_BASE, hpke_suite
from cove.protocol.errors import CryptoError
from tests.support.vectors import cases, h, hpke_vector_dir

pytestmark = pytest.mark.vectors

CASES = cases("rfc9180-mode0-x25519-hkdfsha256-aes128gcm.json", directory=hpke_vector_dir())


@pytest.mark.parametrize("case", CASES)
def test_rfc9180_base_mode(case: dict[str, Any]) -> None:
    assert case["mode"] == MODE_BASE
    suite = hpke_suite(case["kem_id"], case["kdf_id"], case["aead_id"])
    kem = suite.kem
    info = h(case["info"])

    # DeriveKeyPair and SerializePublicKey/SerializePrivateKey
    assert kem.derive_key_pair(h(case["ikmR"])) == (h(case["skRm"]), h(case["pkRm"]))
    assert kem.derive_key_pair(h(case["ikmE"])) == (h(case["skEm"]), h(case["pkEm"]))
    assert kem.public_key(h(case["skRm"])) == h(case["pkRm"])

    # Encap (ephemeral = DeriveKeyPair(ikmE)) and Decap
    shared_secret, enc = kem.encap(h(case["pkRm"]), h(case["ikmE"]))
    assert enc == h(case["enc"])
    assert shared_secret == h(case["shared_secret"])
    assert kem.decap(enc, h(case["skRm"])) == shared_secret

    # Key schedule
    ksc, secret = suite.key_schedule_inputs(shared_secret, info)
    assert ksc == h(case["key_schedule_context"])
    assert secret == h(case["secret"])
    enc_s, sender = suite.setup_base_sender(h(case["pkRm"]), info, h(case["ikmE"]))
    receiver = suite.setup_base_receiver(enc_s, h(case["skRm"]), info)
    assert enc_s == enc
    for ctx in (sender, receiver):
        assert ctx.key == h(case["key"])
        assert ctx.base_nonce == h(case["base_nonce"])
        assert ctx.exporter_secret == h(case["exporter_secret"])

    # Every encryption, in sequence-number order
    assert len(case["encryptions"]) == 257
    for seq, e in enumerate(case["encryptions"]):
        assert sender.sequence_number == seq
        assert sender.compute_nonce(seq) == h(e["nonce"])
        assert sender.seal(h(e["aad"]), h(e["pt"])) == h(e["ct"])
        assert receiver.open(h(e["aad"]), h(e["ct"])) == h(e["pt"])
    assert receiver.sequence_number == 257

    # Every export, from both contexts
    for x in case["exports"]:
        for ctx in (sender, receiver):
            assert ctx.export(h(x["exporter_context"]), x["L"]) == h(x["exported_value"])


@pytest.mark.parametrize("case", CASES)
def test_rfc9180_through_mls_suite_1(case: dict[str, Any]) -> None:
    """The same vector through :class:`Suite` (suite 1 = this HPKE suite)."""
    suite = suite_for(1)
    assert (suite.kem_id, suite.kdf_id, suite.aead_id) == (
        case["kem_id"],
        case["kdf_id"],
        case["aead_id"],
    )
    info = h(case["info"])
    assert suite.derive_key_pair(h(case["ikmR"])) == (h(case["skRm"]), h(case["pkRm"]))

    # Single-shot SealBase/OpenBase is sequence 0.
    e0 = case["encryptions"][0]
    enc, ct = suite.hpke_seal(
        h(case["pkRm"]), info, h(e0["aad"]), h(e0["pt"]), FixedRandom(h(case["ikmE"]))
    )
    assert (enc, ct) == (h(case["enc"]), h(e0["ct"]))
    assert suite.hpke_open(h(case["skRm"]), enc, info, h(e0["aad"]), ct) == h(e0["pt"])

    # Contexts: all encryptions and exports.
    enc, sender = suite.hpke_setup_sender(h(case["pkRm"]), info, FixedRandom(h(case["ikmE"])))
    assert enc == h(case["enc"])
    receiver = suite.hpke_setup_receiver(h(case["skRm"]), enc, info)
    for e in case["encryptions"]:
        assert sender.seal(h(e["aad"]), h(e["pt"])) == h(e["ct"])
        assert receiver.open(h(e["aad"]), h(e["ct"])) == h(e["pt"])
    for x in case["exports"]:
        assert receiver.export(h(x["exporter_context"]), x["L"]) == h(x["exported_value"])

    # Out of order: sequence 0's ciphertext does not open at sequence 257.
    with pytest.raises(CryptoError):
        receiver.open(h(e0["aad"]), h(e0["ct"]))
    assert receiver.sequence_number == 257
