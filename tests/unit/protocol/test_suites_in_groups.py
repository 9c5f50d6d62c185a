"""Every cipher suite runs a whole group: suites 4-7 and the PQ hybrid suite 0xF001.

Suites 1-3 have the same life cycle in test_group.py. Here each suite creates a
group, adds members by Welcome, exchanges application messages, updates,
removes, survives a snapshot, lets a newcomer join by external commit, and
refuses a message whose ciphertext was changed.
"""

from __future__ import annotations

import pytest

from cove.protocol.crypto import CipherSuite, SeededRandom, suite_for
from cove.protocol.errors import CryptoError, ValidationError
from cove.protocol.identity import CoveCredentialValidator, CoveIdentity
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import MLSMessage, PrivateMessage, Welcome
from cove.protocol.mls.group import ApplicationMessage, AppliedCommit, Group
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.key_package_bundle import KeyPackageBundle

NOW = 1_800_000_000
PQ = CipherSuite.MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519


def _group(suite: int, n: int) -> tuple[list[Group], SeededRandom]:
    rng = SeededRandom(f"suites-{suite}".encode())
    alice = Group.create(suite, b"s" * 16, Credential.basic(b"m0"), rng, now=NOW)
    groups = [alice]
    for i in range(1, n):
        b = KeyPackageBundle.create(suite, Credential.basic(f"m{i}".encode()), rng, now=NOW)
        out = alice.add([b.key_package_bytes()], now=NOW)
        for g in groups[1:]:
            assert isinstance(g.process(out.commit), AppliedCommit)
        alice.apply_pending_commit()
        assert out.welcome is not None
        groups.append(Group.join(out.welcome, b, rng))
    return groups, rng


def _agree(groups: list[Group]) -> None:
    first = groups[0]
    for g in groups[1:]:
        assert (g.epoch, g.epoch_authenticator, g.tree_hash) == (
            first.epoch,
            first.epoch_authenticator,
            first.tree_hash,
        )


@pytest.mark.parametrize("suite", [4, 5, 6, 7, int(PQ)])
def test_group_life_cycle_on_every_new_suite(suite: int) -> None:
    groups, rng = _group(suite, 3)
    _agree(groups)
    a, b, c = groups
    assert a.suite is suite_for(suite)
    got = c.process(b.encrypt(b"hello from b", authenticated_data=b"ad"))
    assert isinstance(got, ApplicationMessage)
    assert (got.data, got.sender.identity) == (b"hello from b", b"m1")

    out = c.update()
    for g in (a, b):
        assert isinstance(g.process(out.commit), AppliedCommit)
    c.apply_pending_commit()
    _agree(groups)

    # a snapshot of b keeps working
    b = Group.from_bytes(b.to_bytes(), rng)
    got = b.process(a.encrypt(b"after snapshot"))
    assert isinstance(got, ApplicationMessage) and got.data == b"after snapshot"

    # a newcomer joins by external commit (HPKE export with this suite's KEM)
    d, commit = Group.join_external(a.group_info_bytes(), Credential.basic(b"m3"), rng)
    for g in (a, b, c):
        assert isinstance(g.process(commit), AppliedCommit)
    _agree([a, b, c, d])

    # remove c; c cannot read on
    out = a.remove([c.my_leaf_index])
    for g in (b, d):
        assert isinstance(g.process(out.commit), AppliedCommit)
    removed = c.process(out.commit)
    assert isinstance(removed, AppliedCommit) and removed.removed_me
    a.apply_pending_commit()
    _agree([a, b, d])
    assert sorted(m.identity for m in a.members()) == [b"m0", b"m1", b"m3"]
    got = d.process(b.encrypt(b"to a, d"))
    assert isinstance(got, ApplicationMessage) and got.data == b"to a, d"
    assert a.export_secret(b"x", b"y", 32) == d.export_secret(b"x", b"y", 32)

    # a flipped ciphertext byte is refused
    msg = MLSMessage.from_bytes(b.encrypt(b"tamper"))
    assert isinstance(msg.body, PrivateMessage)
    data = bytearray(msg.to_bytes())
    data[-1] ^= 1
    with pytest.raises((CryptoError, ValidationError)):
        a.process(bytes(data))


def test_pq_suite_by_configuration_sizes_and_refusals() -> None:
    """A group created with the PQ suite id uses X-Wing for every HPKE use."""
    groups, rng = _group(int(PQ), 2)
    a, b = groups
    suite = suite_for(PQ)
    assert (suite.kem_id, suite.kem_public_key_length, suite.kem_output_length) == (
        0x647A,
        1216,
        1120,
    )
    kp_bundle = KeyPackageBundle.create(PQ, Credential.basic(b"m2"), rng, now=NOW)
    kp = MLSMessage.from_bytes(kp_bundle.key_package_bytes()).body
    assert isinstance(kp, KeyPackage)
    assert kp.cipher_suite == PQ and len(kp.init_key) == 1216
    assert len(kp.leaf_node.encryption_key) == 1216
    assert PQ in kp.leaf_node.capabilities.cipher_suites
    out = a.add([kp_bundle.key_package_bytes()], now=NOW)
    assert out.welcome is not None
    welcome = MLSMessage.from_bytes(out.welcome).body
    assert isinstance(welcome, Welcome) and welcome.cipher_suite == PQ
    assert [len(s.encrypted_group_secrets.kem_output) for s in welcome.secrets] == [1120]
    assert isinstance(b.process(out.commit), AppliedCommit)
    a.apply_pending_commit()
    c = Group.join(out.welcome, kp_bundle, rng)
    _agree([a, b, c])
    for sender, receivers in ((a, (b, c)), (c, (a, b))):
        ct = sender.encrypt(b"post-quantum hello")
        for r in receivers:
            got = r.process(ct)
            assert isinstance(got, ApplicationMessage) and got.data == b"post-quantum hello"

    # A suite-1 KeyPackage cannot be added to a PQ group.
    other = KeyPackageBundle.create(1, Credential.basic(b"m9"), rng, now=NOW)
    with pytest.raises(ValidationError) as info:
        a.add([other.key_package_bytes()], now=NOW)
    assert info.value.rule == "V-KP-002"


def test_pq_suite_with_cove_identities() -> None:
    """Cove's identity model (an Ed25519 device key is the leaf signature key)
    works unchanged on the PQ suite, whose signatures are Ed25519; the credential
    validator refuses a leaf whose signature key is not the bound device key."""
    rng = SeededRandom(b"pq-cove-identities")
    ed = suite_for(1)
    validator = CoveCredentialValidator()
    people = []
    for handle in ("alice", "bob"):
        identity_private, _ = ed.generate_signature_key_pair(rng)
        device_private, device_key = ed.generate_signature_key_pair(rng)
        identity = CoveIdentity.create(handle, identity_private, device_key)
        people.append((identity.credential(), device_private))
    (alice_cred, alice_dev), (bob_cred, bob_dev) = people
    alice = Group.create(
        PQ,
        b"c" * 16,
        alice_cred,
        rng,
        signature_private=alice_dev,
        credential_validator=validator,
        now=NOW,
    )
    bob_kp = KeyPackageBundle.create(PQ, bob_cred, rng, signature_private=bob_dev, now=NOW)
    out = alice.add([bob_kp.key_package_bytes()], now=NOW)
    alice.apply_pending_commit()
    assert out.welcome is not None
    bob = Group.join(out.welcome, bob_kp, rng, credential_validator=validator)
    got = bob.process(alice.encrypt(b"hello bob"))
    assert isinstance(got, ApplicationMessage) and got.data == b"hello bob"
    assert CoveIdentity.from_credential(got.sender.credential).handle == "alice"

    # A KeyPackage whose leaf key is not the device key bound in the credential.
    other_private, _ = ed.generate_signature_key_pair(rng)
    forged = KeyPackageBundle.create(PQ, bob_cred, rng, signature_private=other_private, now=NOW)
    with pytest.raises(ValidationError) as info:
        alice.add([forged.key_package_bytes()], now=NOW)
    assert info.value.rule == "V-CRED-004"
