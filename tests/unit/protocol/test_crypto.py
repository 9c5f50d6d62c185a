"""Unit tests of cove.protocol.crypto: suites, HPKE, labels, randomness providers."""

from __future__ import annotations

import copy
import hashlib
import hmac
import pickle

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hpke as chpke
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from hypothesis import given, settings
from hypothesis import strategies as st

from cove.protocol.crypto import (
    PQ_SUITES,
    SUPPORTED_SUITES,
    CipherSuite,
    FixedRandom,
    HPKEContext,
    OsRandom,
    RandomProvider,
    SeededRandom,
    Suite,
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
from cove.protocol.crypto import hpke as our_hpke
from cove.protocol.crypto.dhkem import CURVE_ORDERS
from cove.protocol.crypto.labels import encrypt_context, kdf_label, sign_content
from cove.protocol.errors import (
    CryptoError,
    StateError,
    UnsupportedCipherSuite,
    UsageError,
)

PQ = 0xF001
SUITES = [1, 2, 3, 4, 5, 6, 7, PQ]
_HASH = {1: "sha256", 2: "sha256", 3: "sha256", 4: "sha512", 5: "sha512", 6: "sha512"}
_HASH |= {7: "sha384", PQ: "sha256"}
_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}

# cryptography's HPKE has every Cove KEM but X448 (suites 4 and 6).
_CRYPTOGRAPHY_HPKE = {
    1: (chpke.KEM.X25519, chpke.KDF.HKDF_SHA256, chpke.AEAD.AES_128_GCM),
    2: (chpke.KEM.P256, chpke.KDF.HKDF_SHA256, chpke.AEAD.AES_128_GCM),
    3: (chpke.KEM.X25519, chpke.KDF.HKDF_SHA256, chpke.AEAD.CHACHA20_POLY1305),
    5: (chpke.KEM.P521, chpke.KDF.HKDF_SHA512, chpke.AEAD.AES_256_GCM),
    7: (chpke.KEM.P384, chpke.KDF.HKDF_SHA384, chpke.AEAD.AES_256_GCM),
    PQ: (chpke.KEM.MLKEM768_X25519, chpke.KDF.HKDF_SHA256, chpke.AEAD.AES_128_GCM),
}
INTEROP_SUITES = sorted(_CRYPTOGRAPHY_HPKE)
_EC = {2: ec.SECP256R1(), 5: ec.SECP521R1(), 7: ec.SECP384R1()}


def _their_private(suite_id: int, private: bytes) -> object:
    if suite_id in _EC:
        return ec.derive_private_key(int.from_bytes(private, "big"), _EC[suite_id])
    if suite_id == PQ:
        expanded = hashlib.shake_256(private).digest(96)
        return chpke.MLKEM768X25519PrivateKey(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
            x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
        )
    return x25519.X25519PrivateKey.from_private_bytes(private)


def _their_public(suite_id: int, public: bytes) -> object:
    if suite_id in _EC:
        return ec.EllipticCurvePublicKey.from_encoded_point(_EC[suite_id], public)
    if suite_id == PQ:
        return chpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(public[:1184]),
            x25519.X25519PublicKey.from_public_bytes(public[1184:]),
        )
    return x25519.X25519PublicKey.from_public_bytes(public)


def _flip(data: bytes, index: int = -1) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


# --------------------------------------------------------------------------- suites


def test_cipher_suite_enum_names_and_values() -> None:
    assert [(s.value, s.name) for s in CipherSuite] == [
        (1, "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"),
        (2, "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"),
        (3, "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"),
        (4, "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448"),
        (5, "MLS_256_DHKEMP521_AES256GCM_SHA512_P521"),
        (6, "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448"),
        (7, "MLS_256_DHKEMP384_AES256GCM_SHA384_P384"),
        (0xF001, "MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519"),
    ]
    assert set(SUITES) == SUPPORTED_SUITES
    assert {0xF001} == PQ_SUITES


@pytest.mark.parametrize(
    ("suite_id", "nh", "nk", "kem_id", "kdf_id", "aead_id", "npk", "nenc", "nsk", "sig"),
    [
        (1, 32, 16, 0x0020, 1, 1, 32, 32, 32, "ed25519"),
        (2, 32, 16, 0x0010, 1, 1, 65, 65, 32, "ecdsa_secp256r1_sha256"),
        (3, 32, 32, 0x0020, 1, 3, 32, 32, 32, "ed25519"),
        (4, 64, 32, 0x0021, 3, 2, 56, 56, 56, "ed448"),
        (5, 64, 32, 0x0012, 3, 2, 133, 133, 66, "ecdsa_secp521r1_sha512"),
        (6, 64, 32, 0x0021, 3, 3, 56, 56, 56, "ed448"),
        (7, 48, 32, 0x0011, 2, 2, 97, 97, 48, "ecdsa_secp384r1_sha384"),
        (0xF001, 32, 16, 0x647A, 1, 1, 1216, 1120, 32, "ed25519"),
    ],
)
def test_suite_parameters(
    suite_id: int,
    nh: int,
    nk: int,
    kem_id: int,
    kdf_id: int,
    aead_id: int,
    npk: int,
    nenc: int,
    nsk: int,
    sig: str,
) -> None:
    s = suite_for(suite_id)
    assert s.suite_id == suite_id
    assert s.name == CipherSuite(suite_id).name
    assert (s.hash_length, s.aead_key_length, s.aead_nonce_length) == (nh, nk, 12)
    assert (s.kem_id, s.kdf_id, s.aead_id) == (kem_id, kdf_id, aead_id)
    assert (s.kem_public_key_length, s.kem_output_length) == (npk, nenc)
    assert s.kem_private_key_length == nsk
    assert s.signature_name == sig


@pytest.mark.parametrize("suite_id", SUITES)
def test_suite_is_cached_immutable_and_picklable(suite_id: int) -> None:
    s = suite_for(suite_id)
    assert suite_for(CipherSuite(suite_id)) is s
    assert suite_for(suite_id) is s
    with pytest.raises(AttributeError):
        s.hash_length = 64  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del s.suite_id
    assert pickle.loads(pickle.dumps(s)) is s
    assert copy.deepcopy(s) is s
    assert isinstance(s, Suite)


@pytest.mark.parametrize("suite_id", [0, 8, 0x0A0A, 0x4D, 0xF000, 0xF002, 0xFFFF])
def test_unsupported_suites(suite_id: int) -> None:
    with pytest.raises(UnsupportedCipherSuite) as info:
        suite_for(suite_id)
    assert info.value.suite == suite_id
    assert isinstance(info.value, UsageError)


@pytest.mark.parametrize("suite_id", SUITES)
def test_hash_mac_kdf_against_references(suite_id: int) -> None:
    s = suite_for(suite_id)
    name, nh = _HASH[suite_id], s.hash_length
    algorithm = _HASHES[name]
    data, key, salt, ikm, info = b"data", b"k" * 32, b"salt", b"ikm" * 11, b"info"
    assert s.hash(data) == hashlib.new(name, data).digest()
    assert len(s.hash(data)) == nh == algorithm.digest_size
    assert s.mac(key, data) == hmac.new(key, data, name).digest()
    prk = s.kdf_extract(salt, ikm)
    assert prk == hmac.new(salt, ikm, name).digest()
    # Empty salt means Nh zero bytes (RFC 5869); cryptography's HKDF agrees.
    assert s.kdf_extract(b"", ikm) == s.kdf_extract(bytes(nh), ikm)
    for length in (0, 1, 12, 16, 32, 33, 48, 64, 65, 100, 255 * nh):
        theirs = HKDFExpand(algorithm, length, info).derive(prk) if length else b""
        assert s.kdf_expand(prk, info, length) == theirs
    full = HKDF(algorithm, 80, salt, info).derive(ikm)
    assert s.kdf_expand(s.kdf_extract(salt, ikm), info, 80) == full
    with pytest.raises(UsageError):
        s.kdf_expand(prk, info, 255 * nh + 1)
    with pytest.raises(UsageError):
        s.kdf_expand(prk, info, -1)


@pytest.mark.parametrize("suite_id", SUITES)
def test_aead_against_reference_and_tampering(suite_id: int) -> None:
    s = suite_for(suite_id)
    key = bytes(range(s.aead_key_length))
    nonce = bytes(range(12))
    cls = ChaCha20Poly1305 if suite_id in (3, 6) else AESGCM
    ct = s.aead_encrypt(key, nonce, b"aad", b"hello")
    assert ct == cls(key).encrypt(nonce, b"hello", b"aad")
    assert len(ct) == 5 + s.aead_tag_length
    assert s.aead_decrypt(key, nonce, b"aad", ct) == b"hello"
    assert s.aead_decrypt(key, nonce, b"", s.aead_encrypt(key, nonce, b"", b"")) == b""
    for bad in (_flip(ct, 0), _flip(ct, -1), ct[:-1], ct[:15], b""):
        with pytest.raises(CryptoError):
            s.aead_decrypt(key, nonce, b"aad", bad)
    with pytest.raises(CryptoError):
        s.aead_decrypt(key, nonce, b"aaD", ct)
    with pytest.raises(CryptoError):
        s.aead_decrypt(_flip(key), nonce, b"aad", ct)
    with pytest.raises(UsageError):
        s.aead_encrypt(key[:-1], nonce, b"", b"x")
    with pytest.raises(UsageError):
        s.aead_decrypt(key, nonce[:-1], b"", ct)


# --------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("suite_id", SUITES)
def test_signatures_round_trip_and_tampering(suite_id: int) -> None:
    s = suite_for(suite_id)
    priv, pub = s.generate_signature_key_pair(SeededRandom(b"sig"))
    assert s.signature_public_key(priv) == pub
    s.check_signature_public_key(pub)
    sig = s.sign(priv, b"message")
    s.verify(pub, b"message", sig)
    # Every scheme is deterministic here (EdDSA by design, ECDSA by RFC 6979).
    assert s.sign(priv, b"message") == sig
    with pytest.raises(CryptoError):
        s.verify(pub, b"messagE", sig)
    for bad in (_flip(sig, -1), _flip(sig, 10), sig[:-1], sig + b"\x00", b"", bytes(len(sig))):
        with pytest.raises(CryptoError):
            s.verify(pub, b"message", bad)
    _, other_pub = s.generate_signature_key_pair(SeededRandom(b"other"))
    with pytest.raises(CryptoError):
        s.verify(other_pub, b"message", sig)
    # A malformed public key from a peer is a failed check, not a crash.
    for bad_pub in (b"", pub[:-1], pub + b"\x00"):
        with pytest.raises(CryptoError):
            s.verify(bad_pub, b"message", sig)
        with pytest.raises(CryptoError):
            s.check_signature_public_key(bad_pub)
    with pytest.raises(UsageError):
        s.sign(priv[:-1], b"message")


@pytest.mark.parametrize(("suite_id", "size"), [(2, 32), (5, 66), (7, 48)])
def test_ecdsa_encoding_is_der_and_uncompressed(suite_id: int, size: int) -> None:
    s = suite_for(suite_id)
    priv, pub = s.generate_signature_key_pair(SeededRandom(b"ecdsa"))
    assert len(priv) == size
    assert len(pub) == 1 + 2 * size and pub[0] == 0x04
    sig = s.sign(priv, b"m")
    assert sig[0] == 0x30  # DER SEQUENCE (P-521 needs the long length form 0x81)
    assert sig[1] == len(sig) - 2 or (sig[1] == 0x81 and sig[2] == len(sig) - 3)
    # A compressed point is refused even though it names the same key.
    key = ec.EllipticCurvePublicKey.from_encoded_point(_EC[suite_id], pub)
    from cryptography.hazmat.primitives import serialization

    compressed = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    with pytest.raises(CryptoError):
        s.verify(compressed, b"m", sig)
    # Raw r||s (IEEE P1363) is not the MLS encoding and does not verify.
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s_ = decode_dss_signature(sig)
    with pytest.raises(CryptoError):
        s.verify(pub, b"m", r.to_bytes(size, "big") + s_.to_bytes(size, "big"))
    # Out-of-range private scalars are refused.
    order = CURVE_ORDERS[{2: "P-256", 5: "P-521", 7: "P-384"}[suite_id]]
    for bad in (bytes(size), order.to_bytes(size, "big"), b"\xff" * size):
        with pytest.raises(UsageError):
            s.sign(bad, b"m")


# --------------------------------------------------------------------------- HPKE interop


@pytest.mark.parametrize("suite_id", INTEROP_SUITES)
def test_hpke_ours_to_cryptography(suite_id: int) -> None:
    s = suite_for(suite_id)
    theirs = chpke.Suite(*_CRYPTOGRAPHY_HPKE[suite_id])
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"recipient"))
    rng = SeededRandom(b"eph")
    for info, pt in ((b"", b""), (b"info", b"hello world"), (b"i" * 100, bytes(1000))):
        enc, ct = s.hpke_seal(pub, info, b"", pt, rng)
        assert len(enc) == s.kem_output_length
        assert theirs.decrypt(enc + ct, _their_private(suite_id, priv), info=info) == pt


@pytest.mark.parametrize("suite_id", INTEROP_SUITES)
def test_hpke_cryptography_to_ours(suite_id: int) -> None:
    s = suite_for(suite_id)
    theirs = chpke.Suite(*_CRYPTOGRAPHY_HPKE[suite_id])
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"recipient2"))
    for info, pt in ((b"", b""), (b"info", b"hello world"), (b"i" * 100, bytes(1000))):
        blob = theirs.encrypt(pt, _their_public(suite_id, pub), info=info)
        n = s.kem_output_length
        assert s.hpke_open(priv, blob[:n], info, b"", blob[n:]) == pt


@pytest.mark.parametrize("suite_id", INTEROP_SUITES)
def test_encrypt_with_label_interop(suite_id: int) -> None:
    """EncryptWithLabel is SealBase with info = EncryptContext and empty AAD."""
    s = suite_for(suite_id)
    theirs = chpke.Suite(*_CRYPTOGRAPHY_HPKE[suite_id])
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"ewl"))
    info = encrypt_context(b"UpdatePathNode", b"group context")
    kem_output, ct = encrypt_with_label(
        s, pub, b"UpdatePathNode", b"group context", b"path secret", SeededRandom(b"e")
    )
    assert theirs.decrypt(kem_output + ct, _their_private(suite_id, priv), info=info) == (
        b"path secret"
    )
    blob = theirs.encrypt(b"secret 2", _their_public(suite_id, pub), info=info)
    n = s.kem_output_length
    out = decrypt_with_label(s, priv, b"UpdatePathNode", b"group context", blob[:n], blob[n:])
    assert out == b"secret 2"


@pytest.mark.parametrize("suite_id", SUITES)
def test_hpke_tampering(suite_id: int) -> None:
    s = suite_for(suite_id)
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"tamper"))
    enc, ct = s.hpke_seal(pub, b"info", b"aad", b"plaintext", SeededRandom(b"x"))
    assert s.hpke_open(priv, enc, b"info", b"aad", ct) == b"plaintext"
    bad_cases = [
        (enc, b"info", b"aad", _flip(ct, 0)),  # ciphertext body
        (enc, b"info", b"aad", _flip(ct, -1)),  # tag
        (enc, b"info", b"aad", ct[:-1]),
        (enc, b"info", b"aad", b""),
        (enc, b"infO", b"aad", ct),
        (enc, b"info", b"", ct),
        (_flip(enc, 5), b"info", b"aad", ct),  # a different (or invalid) ephemeral key
        (enc[:-1], b"info", b"aad", ct),
        (b"", b"info", b"aad", ct),
    ]
    for e, info, aad, c in bad_cases:
        with pytest.raises(CryptoError):
            s.hpke_open(priv, e, info, aad, c)
    other_priv, _ = s.generate_kem_key_pair(SeededRandom(b"other"))
    with pytest.raises(CryptoError):
        s.hpke_open(other_priv, enc, b"info", b"aad", ct)
    with pytest.raises(UsageError):
        s.hpke_open(priv[:-1], enc, b"info", b"aad", ct)


@pytest.mark.parametrize("suite_id", [1, 3, 4, 6])
def test_x25519_and_x448_low_order_point_is_refused(suite_id: int) -> None:
    s = suite_for(suite_id)
    priv, _ = s.generate_kem_key_pair(SeededRandom(b"lo"))
    zero_point = bytes(s.kem_public_key_length)
    with pytest.raises(CryptoError):
        s.hpke_open(priv, zero_point, b"", b"", bytes(32))
    with pytest.raises(CryptoError):
        s.hpke_seal(zero_point, b"", b"", b"x", SeededRandom(b"y"))


@pytest.mark.parametrize("suite_id", [2, 5, 7])
def test_nist_curve_invalid_points_are_refused(suite_id: int) -> None:
    s = suite_for(suite_id)
    size = s.kem_private_key_length
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"p256"))
    not_on_curve = pub[:-1] + bytes([pub[-1] ^ 1])
    for bad in (not_on_curve, b"\x00" + pub[1:], pub[: size + 1], b"\x04" + bytes(2 * size)):
        with pytest.raises(CryptoError):
            s.check_kem_public_key(bad)
        with pytest.raises(CryptoError):
            s.hpke_seal(bad, b"", b"", b"x", SeededRandom(b"y"))
        with pytest.raises(CryptoError):
            s.hpke_open(priv, bad, b"", b"", bytes(32))
    order = CURVE_ORDERS[{2: "P-256", 5: "P-521", 7: "P-384"}[suite_id]]
    for bad_priv in (bytes(size), order.to_bytes(size, "big"), bytes(size - 1)):
        with pytest.raises(UsageError):
            s.kem_public_key(bad_priv)


def test_xwing_invalid_keys_and_ciphertexts_are_refused() -> None:
    s = suite_for(PQ)
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"xwing"))
    # The ML-KEM encapsulation key check (FIPS 203 §7.2): coefficients >= q are refused.
    over_q = b"\xff" * 1184 + pub[1184:]
    for bad in (pub[:-1], pub + b"\x00", b"", over_q):
        with pytest.raises(CryptoError) as info:
            s.check_kem_public_key(bad)
        assert str(info.value) == "invalid X-Wing public key"
        with pytest.raises(CryptoError):
            s.hpke_seal(bad, b"", b"", b"x", SeededRandom(b"y"))
    enc, ct = s.hpke_seal(pub, b"i", b"a", b"pt", SeededRandom(b"e"))
    for bad_enc in (enc[:-1], enc + b"\x00", enc[:1088] + bytes(32)):
        with pytest.raises(CryptoError):
            s.hpke_open(priv, bad_enc, b"i", b"a", ct)
    with pytest.raises(UsageError):
        s.kem_public_key(priv[:-1])


# --------------------------------------------------------------------------- HPKE known answers

# RFC 9180 Appendix A.3.1 (DHKEM(P-256), HKDF-SHA256, AES-128-GCM) and A.2.1
# (DHKEM(X25519), HKDF-SHA256, ChaCha20-Poly1305), base mode: the HPKE suites
# of MLS cipher suites 2 and 3. Values copied from the RFC's test vectors.
_INFO = "4f6465206f6e2061204772656369616e2055726e"
_PT = "4265617574792069732074727574682c20747275746820626561757479"
_RFC9180_KATS = {
    2: {
        "ikmE": "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
        "skEm": "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
        "pkEm": "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b32"
        "5ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
        "ikmR": "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
        "skRm": "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
        "pkRm": "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f70"
        "6a826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
        "shared_secret": "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8",
        "key": "868c066ef58aae6dc589b6cfdd18f97e",
        "base_nonce": "4e0bc5018beba4bf004cca59",
        "exporter_secret": "14ad94af484a7ad3ef40e9f3be99ecc6fa9036df9d4920548424df127ee0d99f",
        "ct0": "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f"
        "9076ac232e3ab2523f39513434",
        "ct1": "fa6f037b47fc21826b610172ca9637e82d6e5801eb31cbd3748271affd4ecb06"
        "646e0329cbdf3c3cd655b28e82",
        "export_empty_32": "5e9bc3d236e1911d95e65b576a8a86d478fb827e8bdfe77b741b289890490d4d",
    },
    3: {
        "ikmE": "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
        "skEm": "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600",
        "pkEm": "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
        "ikmR": "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
        "skRm": "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
        "pkRm": "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
        "shared_secret": "0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7",
        "key": "ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91",
        "base_nonce": "5c4d98150661b848853b547f",
        "exporter_secret": "a3b010d4994890e2c6968a36f64470d3c824c8f5029942feb11e7a74b2921922",
        "ct0": "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db"
        "21993c62ce81883d2dd1b51a28",
        "ct1": "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e"
        "85285337cc95ba5f59992dc98c",
        "export_empty_32": "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e",
    },
}


@pytest.mark.parametrize("suite_id", sorted(_RFC9180_KATS))
def test_rfc9180_appendix_a_known_answers(suite_id: int) -> None:
    v = {k: bytes.fromhex(x) for k, x in _RFC9180_KATS[suite_id].items()}
    s = suite_for(suite_id)
    info, pt = bytes.fromhex(_INFO), bytes.fromhex(_PT)
    assert s.derive_key_pair(v["ikmR"]) == (v["skRm"], v["pkRm"])
    assert s.derive_key_pair(v["ikmE"]) == (v["skEm"], v["pkEm"])
    assert s.kem_public_key(v["skRm"]) == v["pkRm"]
    shared_secret, enc = s.hpke.kem.encap(v["pkRm"], v["ikmE"])
    assert (shared_secret, enc) == (v["shared_secret"], v["pkEm"])
    enc, sender = s.hpke_setup_sender(v["pkRm"], info, FixedRandom(v["ikmE"]))
    receiver = s.hpke_setup_receiver(v["skRm"], enc, info)
    for ctx in (sender, receiver):
        assert (ctx.key, ctx.base_nonce, ctx.exporter_secret) == (
            v["key"],
            v["base_nonce"],
            v["exporter_secret"],
        )
        assert ctx.export(b"", 32) == v["export_empty_32"]
    for seq, ct in enumerate((v["ct0"], v["ct1"])):
        aad = b"Count-%d" % seq
        assert sender.seal(aad, pt) == ct
        assert receiver.open(aad, ct) == pt


# --------------------------------------------------------------------------- HPKE context


@pytest.mark.parametrize("suite_id", SUITES)
def test_hpke_context_sequence_roles_and_export(suite_id: int) -> None:
    s = suite_for(suite_id)
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"ctx"))
    enc, sender = s.hpke_setup_sender(pub, b"info", SeededRandom(b"ctx-e"))
    receiver = s.hpke_setup_receiver(priv, enc, b"info")
    assert isinstance(sender, HPKEContext) and sender.role == "sender"
    assert receiver.role == "receiver"
    cts = [sender.seal(b"a%d" % i, b"m%d" % i) for i in range(5)]
    assert sender.sequence_number == 5
    assert len(set(cts)) == 5
    # out of order fails and does not advance
    with pytest.raises(CryptoError):
        receiver.open(b"a1", cts[1])
    assert receiver.sequence_number == 0
    assert [receiver.open(b"a%d" % i, ct) for i, ct in enumerate(cts)] == [
        b"m%d" % i for i in range(5)
    ]
    # roles are enforced (RFC 9180 §5.2)
    with pytest.raises(UsageError):
        sender.open(b"", cts[0])
    with pytest.raises(UsageError):
        receiver.seal(b"", b"x")
    # export agrees on both sides, any context/length, and is bounded
    for ctx_bytes, length in ((b"", 0), (b"MLS 1.0 external init secret", 32), (b"x", 100)):
        assert sender.export(ctx_bytes, length) == receiver.export(ctx_bytes, length)
        assert len(sender.export(ctx_bytes, length)) == length
    assert sender.export(b"a", 32) != sender.export(b"b", 32)
    assert len(sender.export(b"", 255 * s.hash_length)) == 255 * s.hash_length
    with pytest.raises(UsageError):
        sender.export(b"", 255 * s.hash_length + 1)
    # single-shot seal == context seal at sequence 0
    enc1, ct1 = s.hpke_seal(pub, b"info", b"aad", b"pt", SeededRandom(b"same"))
    enc2, ctx2 = s.hpke_setup_sender(pub, b"info", SeededRandom(b"same"))
    if suite_id in PQ_SUITES:
        # X-Wing: OpenSSL draws the ML-KEM randomness, so two encapsulations differ
        # even from the same provider; the X25519 half (last 32 bytes) is ours.
        assert enc1 != enc2 and enc1[-32:] == enc2[-32:]
    else:
        assert (enc1, ct1) == (enc2, ctx2.seal(b"aad", b"pt"))


def test_hpke_context_message_limit() -> None:
    s = suite_for(1)
    _, pub = s.generate_kem_key_pair(SeededRandom(b"limit"))
    _, sender = s.hpke_setup_sender(pub, b"", SeededRandom(b"e"))
    # Jump to the end of the sequence space (white-box: 2^96 - 1 is never used).
    sender._seq = (1 << 96) - 2
    sender.seal(b"", b"last")
    with pytest.raises(StateError):
        sender.seal(b"", b"one too many")


def test_hpke_registry_errors() -> None:
    for kem, kdf, aead in (
        (0x0030, 1, 1),  # X25519Kyber768Draft00: not built
        (0x0041, 1, 1),  # pure ML-KEM-768: not built
        (0x0020, 0x0010, 1),  # SHAKE128: not built
        (0x0020, 0x0004, 1),
        (0x0020, 1, 0x0004),
    ):
        with pytest.raises(UsageError) as info:
            our_hpke.hpke_suite(kem, kdf, aead)
        assert "unsupported HPKE" in str(info.value)
    assert our_hpke.hpke_suite(0x0020, 1, 1) is suite_for(1).hpke
    assert our_hpke.hpke_suite(0x0021, 3, 2) is suite_for(4).hpke
    assert our_hpke.hpke_suite(0x647A, 1, 1) is suite_for(0xF001).hpke
    # SHAKE256 (one-stage) has no Extract/Expand: its key schedule is LabeledDerive
    shake = our_hpke.hpke_suite(0x647A, 0x0011, 3)
    assert shake.kdf.one_stage
    with pytest.raises(UsageError):
        shake.key_schedule_inputs(bytes(32), b"")
    # the export-only AEAD exports and refuses to seal or open
    priv, pub = suite_for(1).derive_key_pair(b"export-only")
    export_only = our_hpke.hpke_suite(0x0020, 1, 0xFFFF)
    enc, sender = export_only.setup_base_sender(pub, b"", bytes(32))
    receiver = export_only.setup_base_receiver(enc, priv, b"")
    assert sender.export(b"c", 32) == receiver.export(b"c", 32)
    with pytest.raises(UsageError) as refused:
        sender.seal(b"", b"x")
    assert str(refused.value) == "an export-only HPKE context cannot seal"
    with pytest.raises(UsageError) as refused:
        receiver.open(b"", bytes(16))
    assert str(refused.value) == "an export-only HPKE context cannot open"


@pytest.mark.parametrize(("curve", "name"), [("P-256", "SECP256R1"), ("P-384", "SECP384R1"),
                                             ("P-521", "SECP521R1")])  # fmt: skip
def test_curve_orders_are_the_group_orders(curve: str, name: str) -> None:
    """(n - 1)·G = -G: same x, other y; so n is the order (it is prime) and d < n is right."""
    n = CURVE_ORDERS[curve]
    one = ec.derive_private_key(1, getattr(ec, name)()).public_key().public_numbers()
    minus_one = ec.derive_private_key(n - 1, getattr(ec, name)()).public_key().public_numbers()
    assert one.x == minus_one.x and one.y != minus_one.y
    assert n.bit_length() == {"P-256": 256, "P-384": 384, "P-521": 521}[curve]


@pytest.mark.parametrize("suite_id", SUITES)
def test_derive_key_pair_is_deterministic_and_valid(suite_id: int) -> None:
    s = suite_for(suite_id)
    a = s.derive_key_pair(b"ikm")
    assert a == s.derive_key_pair(b"ikm")
    assert a != s.derive_key_pair(b"ikm2")
    priv, pub = a
    assert s.kem_public_key(priv) == pub
    s.check_kem_public_key(pub)
    assert len(priv) == s.kem_private_key_length
    assert len(pub) == s.kem_public_key_length


# --------------------------------------------------------------------------- labels


def test_label_structs_exact_bytes() -> None:
    assert kdf_label(b"key", b"", 16) == b"\x00\x10" + b"\x0bMLS 1.0 key" + b"\x00"
    assert kdf_label(b"nonce", b"\x01\x02", 12) == b"\x00\x0c\x0dMLS 1.0 nonce\x02\x01\x02"
    assert sign_content(b"LeafNodeTBS", b"abc") == b"\x13MLS 1.0 LeafNodeTBS\x03abc"
    assert encrypt_context(b"Welcome", b"") == b"\x0fMLS 1.0 Welcome\x00"
    # a 64-byte context needs a 2-byte varint header
    assert kdf_label(b"x", bytes(64), 1).endswith(b"\x40\x40" + bytes(64))


@pytest.mark.parametrize("suite_id", SUITES)
def test_labelled_functions_match_their_definitions(suite_id: int) -> None:
    s = suite_for(suite_id)
    secret = bytes(range(32))
    ctx = b"context" * 20
    assert expand_with_label(s, secret, b"tree", ctx, 32) == s.kdf_expand(
        secret, kdf_label(b"tree", ctx, 32), 32
    )
    assert derive_secret(s, secret, b"epoch") == expand_with_label(
        s, secret, b"epoch", b"", s.hash_length
    )
    assert derive_tree_secret(s, secret, b"key", 7, 16) == expand_with_label(
        s, secret, b"key", (7).to_bytes(4, "big"), 16
    )
    assert derive_tree_secret(s, secret, b"secret", 0xFFFFFFFF, 32) == expand_with_label(
        s, secret, b"secret", b"\xff\xff\xff\xff", 32
    )
    # long output (more than one HKDF block)
    assert len(expand_with_label(s, secret, b"long", b"", 100)) == 100
    assert ref_hash(s, b"MLS 1.0 Proposal Reference", b"v") == s.hash(
        b"\x1aMLS 1.0 Proposal Reference\x01v"
    )
    with pytest.raises(UsageError):
        derive_tree_secret(s, secret, b"key", 1 << 32, 16)
    with pytest.raises(UsageError):
        derive_tree_secret(s, secret, b"key", -1, 16)
    with pytest.raises(UsageError):
        expand_with_label(s, secret, b"key", b"", 0x10000)


@pytest.mark.parametrize("suite_id", SUITES)
def test_sign_and_encrypt_with_label(suite_id: int) -> None:
    s = suite_for(suite_id)
    priv, pub = s.generate_signature_key_pair(SeededRandom(b"swl"))
    sig = sign_with_label(s, priv, b"FramedContentTBS", b"content")
    verify_with_label(s, pub, b"FramedContentTBS", b"content", sig)
    s.verify(pub, sign_content(b"FramedContentTBS", b"content"), sig)
    with pytest.raises(CryptoError):
        verify_with_label(s, pub, b"LeafNodeTBS", b"content", sig)
    with pytest.raises(CryptoError):
        verify_with_label(s, pub, b"FramedContentTBS", b"content", _flip(sig))
    kpriv, kpub = s.generate_kem_key_pair(SeededRandom(b"ewl"))
    kem_output, ct = encrypt_with_label(s, kpub, b"Welcome", b"ctx", b"pt", SeededRandom(b"r"))
    assert decrypt_with_label(s, kpriv, b"Welcome", b"ctx", kem_output, ct) == b"pt"
    with pytest.raises(CryptoError):
        decrypt_with_label(s, kpriv, b"UpdatePathNode", b"ctx", kem_output, ct)
    with pytest.raises(CryptoError):
        decrypt_with_label(s, kpriv, b"Welcome", b"ctx", kem_output, _flip(ct))


def test_prefixed_label_is_refused() -> None:
    s = suite_for(1)
    with pytest.raises(UsageError):
        derive_secret(s, bytes(32), b"MLS 1.0 epoch")


# --------------------------------------------------------------------------- randomness


def test_seeded_random_is_deterministic_and_split_invariant() -> None:
    a, b = SeededRandom(b"seed"), SeededRandom(b"seed")
    assert a.random_bytes(500) == b.random_bytes(500)
    c, d = SeededRandom(b"seed"), SeededRandom(b"seed")
    assert c.random_bytes(10) + c.random_bytes(300) + c.random_bytes(0) == d.random_bytes(310)
    assert SeededRandom(b"seed").random_bytes(32) != SeededRandom(b"seed2").random_bytes(32)
    assert SeededRandom(7).random_bytes(16) == SeededRandom(b"\x07").random_bytes(16)
    assert SeededRandom("x").random_bytes(16) == SeededRandom(b"x").random_bytes(16)
    # the seed length is framed: b"ab" + ... differs from b"a" + ...
    assert SeededRandom(b"").random_bytes(16) != SeededRandom(b"\x00").random_bytes(16)
    with pytest.raises(UsageError):
        SeededRandom(b"s").random_bytes(-1)
    with pytest.raises(UsageError):
        SeededRandom(-1)


@pytest.mark.parametrize("suite_id", SUITES)
def test_key_generation_reproducible_from_seed(suite_id: int) -> None:
    s = suite_for(suite_id)
    assert s.generate_signature_key_pair(SeededRandom(1)) == s.generate_signature_key_pair(
        SeededRandom(1)
    )
    assert s.generate_kem_key_pair(SeededRandom(1)) == s.generate_kem_key_pair(SeededRandom(1))
    _, pub = s.generate_kem_key_pair(SeededRandom(2))
    one = s.hpke_seal(pub, b"", b"", b"m", SeededRandom(3))
    two = s.hpke_seal(pub, b"", b"", b"m", SeededRandom(3))
    # X-Wing is the exception (ML-KEM randomness comes from OpenSSL, see xwing.py).
    assert (one == two) is (suite_id not in PQ_SUITES)


def test_fixed_and_os_random() -> None:
    f = FixedRandom(b"ab", b"cd")
    assert f.random_bytes(3) == b"abc"
    assert f.remaining == 1
    with pytest.raises(UsageError):
        f.random_bytes(2)
    o = OsRandom()
    assert len(o.random_bytes(32)) == 32
    assert o.random_bytes(16) != o.random_bytes(16)
    for provider in (f, o, SeededRandom(b"s")):
        assert isinstance(provider, RandomProvider)


def test_os_urandom_only_in_rng_module() -> None:
    """No module of cove.protocol but crypto/rng.py draws OS or stdlib randomness."""
    import ast
    from pathlib import Path

    import cove.protocol

    root = Path(cove.protocol.__file__).parent
    banned_modules = {"secrets", "random"}
    banned_names = {"urandom", "getrandom", "getrandbits", "SystemRandom", "token_bytes"}
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "crypto" / "rng.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            found = None
            if isinstance(node, ast.Import):
                found = next(
                    (a.name for a in node.names if a.name.split(".")[0] in banned_modules), None
                )
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in banned_modules or any(
                    a.name in banned_names for a in node.names
                ):
                    found = node.module
            elif isinstance(node, ast.Attribute) and node.attr in banned_names:
                found = node.attr
            elif isinstance(node, ast.Name) and node.id in banned_names:
                found = node.id
            if found:
                offenders.append(f"{path.relative_to(root)}:{node.lineno}: {found}")
    assert offenders == []


# --------------------------------------------------------------------------- reprs


@pytest.mark.parametrize("suite_id", SUITES)
def test_reprs_do_not_show_secrets(suite_id: int) -> None:
    s = suite_for(suite_id)
    seed = b"very secret seed value"
    rng = SeededRandom(seed)
    assert seed.hex() not in repr(rng) and repr(seed) not in repr(rng)
    assert "very secret" not in repr(rng)
    fixed = FixedRandom(b"\x13" * 32)
    assert "13" * 4 not in repr(fixed) and "\\x13" not in repr(fixed)
    priv, pub = s.generate_kem_key_pair(SeededRandom(b"repr"))
    enc, sender = s.hpke_setup_sender(pub, b"", SeededRandom(b"e"))
    receiver = s.hpke_setup_receiver(priv, enc, b"")
    for ctx in (sender, receiver):
        text = repr(ctx) + str(ctx)
        for secret in (ctx.key, ctx.base_nonce, ctx.exporter_secret, priv):
            assert secret.hex() not in text
            assert repr(secret) not in text
    assert repr(s) == f"Suite({suite_id}, {s.name})"


# --------------------------------------------------------------------------- properties


@settings(max_examples=50)
@given(
    suite_id=st.sampled_from(SUITES),
    prk=st.binary(min_size=0, max_size=80),
    info=st.binary(max_size=100),
    length=st.integers(min_value=1, max_value=255 * 32),
)
def test_kdf_expand_matches_cryptography(
    suite_id: int, prk: bytes, info: bytes, length: int
) -> None:
    ours = suite_for(suite_id).kdf_expand(prk, info, length)
    assert ours == HKDFExpand(_HASHES[_HASH[suite_id]], length, info).derive(prk)


@settings(max_examples=25, deadline=None)
@given(
    suite_id=st.sampled_from(SUITES),
    seed=st.binary(max_size=16),
    info=st.binary(max_size=70),
    aad=st.binary(max_size=70),
    pt=st.binary(max_size=300),
)
def test_hpke_round_trip(suite_id: int, seed: bytes, info: bytes, aad: bytes, pt: bytes) -> None:
    s = suite_for(suite_id)
    rng = SeededRandom(seed)
    priv, pub = s.generate_kem_key_pair(rng)
    enc, ct = s.hpke_seal(pub, info, aad, pt, rng)
    assert len(ct) == len(pt) + s.aead_tag_length
    assert s.hpke_open(priv, enc, info, aad, ct) == pt


@settings(max_examples=50)
@given(seed=st.binary(max_size=40), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_seeded_random_split_invariance(seed: bytes, cuts: list[int]) -> None:
    a = SeededRandom(seed)
    pieces = b"".join(a.random_bytes(n) for n in cuts)
    assert pieces == SeededRandom(seed).random_bytes(sum(cuts))
