"""Group API: life cycle, external joins, and every refusal leaving the group unchanged."""

from __future__ import annotations

import dataclasses

import pytest

from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import CoveError, CryptoError, StateError, UsageError, ValidationError
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import MLSMessage, PrivateMessage, PublicMessage, WireFormat
from cove.protocol.mls.group import (
    ApplicationMessage,
    AppliedCommit,
    Group,
    GroupConfig,
    ProposalMessage,
)
from cove.protocol.mls.group.epoch import EPOCH_KEY_NAMES
from cove.protocol.mls.key_package_bundle import KeyPackageBundle, sign_leaf_node
from tests.support.secrets import assert_redacted

NOW = 1_800_000_000
PUBLIC = GroupConfig(handshake_wire_format=WireFormat.PUBLIC_MESSAGE)


def bundle(name: str, rng: SeededRandom, suite: int = 1) -> KeyPackageBundle:
    return KeyPackageBundle.create(suite, Credential.basic(name.encode()), rng, now=NOW)


def make_group(
    n: int, suite: int = 1, config: GroupConfig | None = None
) -> tuple[list[Group], SeededRandom]:
    rng = SeededRandom(f"group-{n}-{suite}".encode())
    alice = Group.create(suite, b"g" * 16, Credential.basic(b"m0"), rng, now=NOW, config=config)
    groups = [alice]
    for i in range(1, n):
        b = bundle(f"m{i}", rng, suite)
        out = alice.add([b.key_package_bytes()], now=NOW)
        for g in groups[1:]:
            g.process(out.commit)
        alice.apply_pending_commit()
        assert out.welcome is not None
        groups.append(Group.join(out.welcome, b, rng, config=config))
    return groups, rng


def agree(groups: list[Group]) -> None:
    for g in groups[1:]:
        assert (g.epoch, g.epoch_authenticator, g.tree_hash) == (
            groups[0].epoch,
            groups[0].epoch_authenticator,
            groups[0].tree_hash,
        )


@pytest.mark.parametrize("suite", [1, 2, 3])
@pytest.mark.parametrize("config", [None, PUBLIC], ids=["private-handshakes", "public"])
def test_life_cycle(suite: int, config: GroupConfig | None) -> None:
    groups, _ = make_group(4, suite, config)
    agree(groups)
    a, b, c, d = groups
    msg = b.encrypt(b"hello", authenticated_data=b"ad")
    got = c.process(msg)
    assert isinstance(got, ApplicationMessage)
    assert (got.data, got.sender.identity, got.authenticated_data) == (b"hello", b"m1", b"ad")
    # Update, then remove d; d cannot read what follows.
    out = c.update()
    for g in (a, b, d):
        assert isinstance(g.process(out.commit), AppliedCommit)
    c.apply_pending_commit()
    agree(groups)
    out = b.remove([d.my_leaf_index])
    removed = d.process(out.commit)
    assert isinstance(removed, AppliedCommit) and removed.removed_me
    for g in (a, c):
        result = g.process(out.commit)
        assert isinstance(result, AppliedCommit)
        assert [m.identity for m in result.removed] == [b"m3"]
    b.apply_pending_commit()
    agree([a, b, c])
    secret = a.encrypt(b"after removal")
    with pytest.raises(StateError):
        d.process(secret)
    assert a.export_secret(b"label", b"ctx", 32) == b.export_secret(b"label", b"ctx", 32)
    assert sorted(m.identity for m in a.members()) == [b"m0", b"m1", b"m2"]


def test_proposals_by_reference_and_leave() -> None:
    groups, _ = make_group(3, config=PUBLIC)
    a, b, c = groups
    leave = c.leave()
    for g in (a, b):
        assert isinstance(g.process(leave), ProposalMessage)
    out = a.commit()  # commits c's Remove proposal by reference
    assert isinstance(b.process(out.commit), AppliedCommit)
    result = c.process(out.commit)
    assert isinstance(result, AppliedCommit) and result.removed_me
    a.apply_pending_commit()
    agree([a, b])


def test_external_join_and_rejoin() -> None:
    groups, rng = make_group(3)
    a, b, c = groups
    joiner, commit = Group.join_external(a.group_info_bytes(), Credential.basic(b"newcomer"), rng)
    for g in groups:
        result = g.process(commit)
        assert isinstance(result, AppliedCommit)
        assert result.committer.identity == b"newcomer"
    agree([*groups, joiner])
    got = a.process(joiner.encrypt(b"hi all"))
    assert isinstance(got, ApplicationMessage) and got.data == b"hi all"
    # c lost its state: it rejoins externally, removing its old leaf.
    c2, commit = Group.join_external(
        a.group_info_bytes(), Credential.basic(b"m2"), rng, remove_leaf=c.my_leaf_index
    )
    for g in (a, b, joiner):
        g.process(commit)
    agree([a, b, joiner, c2])
    assert sorted(m.identity for m in a.members()) == [b"m0", b"m1", b"m2", b"newcomer"]


def test_pending_commit_discard_and_conflict() -> None:
    groups, _ = make_group(3)
    a, b, c = groups
    out_a = a.update()
    out_b = b.update()
    with pytest.raises(StateError):
        a.update()  # one pending commit at a time
    # The relay accepted b's commit: a discards its own and processes b's.
    c.process(out_b.commit)
    a.discard_pending_commit()
    a.process(out_b.commit)
    b.apply_pending_commit()
    agree(groups)
    # a's losing commit is now for an old epoch.
    with pytest.raises(StateError):
        c.process(out_a.commit)


def test_snapshot_roundtrip_keeps_working() -> None:
    groups, rng = make_group(3)
    a, b, _ = groups
    b2 = Group.from_bytes(b.to_bytes(), rng)
    got = b2.process(a.encrypt(b"x"))
    assert isinstance(got, ApplicationMessage)
    # The repr shows none of the restored group's secrets (in any encoding).
    ep = b2._epoch
    secrets = {name: getattr(ep.secrets, name) for name in EPOCH_KEY_NAMES}
    secrets["signature_private"] = b2._signature_private
    secrets |= {f"node key {n}": k for n, k in ep.keys.keys.items()}
    assert_redacted(repr(b2), secrets)
    assert_redacted(repr(ep), secrets)


def test_late_message_from_previous_epoch() -> None:
    groups, _ = make_group(3)
    a, b, c = groups
    late = a.encrypt(b"sent before the commit")
    out = b.update()
    for g in (a, c):
        g.process(out.commit)
    b.apply_pending_commit()
    got = c.process(late)
    assert isinstance(got, ApplicationMessage) and got.epoch == out.epoch - 1


def test_old_epochs_are_forgotten() -> None:
    groups, _ = make_group(2, config=GroupConfig(max_past_epochs=1))
    a, b = groups
    late = a.encrypt(b"old")
    for _ in range(2):
        out = a.update()
        b.process(out.commit)
        a.apply_pending_commit()
    with pytest.raises(StateError, match="no longer kept"):
        b.process(late)


# -- refusals: typed error, state unchanged ------------------------------------------


def _state(g: Group) -> bytes:
    return g.to_bytes()


def _refused(g: Group, message: bytes, error: type[CoveError]) -> None:
    before = _state(g)
    with pytest.raises(error):
        g.process(message)
    assert _state(g) == before


def _tamper_public(message: bytes, **changes: object) -> bytes:
    msg = MLSMessage.from_bytes(message)
    body = msg.body
    assert isinstance(body, PublicMessage)
    return MLSMessage(dataclasses.replace(body, **changes)).to_bytes()


def test_tampered_signature_membership_and_confirmation_tags() -> None:
    groups, _ = make_group(3, config=PUBLIC)
    a, b, _ = groups
    out = a.update()
    body = MLSMessage.from_bytes(out.commit).body
    assert isinstance(body, PublicMessage)
    assert body.membership_tag is not None
    flip = lambda x: bytes([x[0] ^ 1]) + x[1:]  # noqa: E731
    _refused(b, _tamper_public(out.commit, membership_tag=flip(body.membership_tag)), CryptoError)
    bad_sig = dataclasses.replace(body.auth, signature=flip(body.auth.signature))
    _refused(b, _tamper_public(out.commit, auth=bad_sig), CryptoError)
    # A bad confirmation tag with a valid membership tag and signature.
    tag = body.auth.confirmation_tag
    assert tag is not None
    bad_tag = dataclasses.replace(body.auth, confirmation_tag=flip(tag))
    forged = dataclasses.replace(body, auth=bad_tag)
    forged = dataclasses.replace(
        forged,
        membership_tag=a.suite.mac(a._epoch.secrets.membership_key, forged.tbm(a.group_context)),
    )
    _refused(b, MLSMessage(forged).to_bytes(), CryptoError)
    assert isinstance(b.process(out.commit), AppliedCommit)


def test_tampered_parent_hash_in_update_path() -> None:
    groups, _ = make_group(4, config=PUBLIC)
    a, b = groups[0], groups[1]
    out = a.update()
    body = MLSMessage.from_bytes(out.commit).body
    assert isinstance(body, PublicMessage)
    commit = body.content.content
    assert isinstance(commit, Commit) and commit.path is not None
    leaf = commit.path.leaf_node
    assert leaf.parent_hash is not None
    bad_leaf = sign_leaf_node(
        a.suite,
        dataclasses.replace(leaf, parent_hash=bytes(len(leaf.parent_hash))),
        a._signature_private,
        a.group_id,
        a.my_leaf_index,
    )
    bad_commit = dataclasses.replace(
        commit, path=dataclasses.replace(commit.path, leaf_node=bad_leaf)
    )
    content = dataclasses.replace(body.content, content=bad_commit)
    # Re-sign and re-MAC as a malicious member would, so only the parent hash is wrong.
    from cove.protocol.mls.message_protection import protect_public, sign_content

    signed = sign_content(
        a.suite,
        WireFormat.PUBLIC_MESSAGE,
        content,
        a._signature_private,
        a.group_context,
        body.auth.confirmation_tag,
    )
    forged = protect_public(a.suite, signed, a.group_context, a._epoch.secrets.membership_key)
    _refused(b, MLSMessage(forged).to_bytes(), ValidationError)


def test_wrong_epoch_and_replay() -> None:
    groups, _ = make_group(3)
    a, b, _ = groups
    msg = a.encrypt(b"once")
    assert isinstance(b.process(msg), ApplicationMessage)
    _refused(b, msg, StateError)  # replay
    out = a.update()
    b.process(out.commit)
    a.apply_pending_commit()
    _refused(b, out.commit, StateError)  # a commit for an epoch we left


def test_duplicate_leaf_keys_refused() -> None:
    groups, rng = make_group(2)
    a = groups[0]
    b = bundle("dup", rng)
    twin = dataclasses.replace(b.key_package)  # the same KeyPackage twice
    with pytest.raises(ValidationError):
        a.add([b.key_package, twin], now=NOW)
    assert not a.has_pending_commit
    # A KeyPackage with a current member's signature key is refused too.
    again = KeyPackageBundle.create(
        1, Credential.basic(b"m1"), rng, now=NOW, signature_private=groups[1]._signature_private
    )
    with pytest.raises(ValidationError):
        a.add([again.key_package], now=NOW)
    assert not a.has_pending_commit


def test_welcome_for_unknown_key_package() -> None:
    groups, rng = make_group(2)
    a = groups[0]
    invited = bundle("invited", rng)
    stranger = bundle("stranger", rng)
    out = a.add([invited.key_package], now=NOW)
    assert out.welcome is not None
    with pytest.raises(StateError):
        Group.join(out.welcome, stranger, rng)
    Group.join(out.welcome, invited, rng)


def test_expired_key_package_refused() -> None:
    groups, rng = make_group(1)
    old = KeyPackageBundle.create(1, Credential.basic(b"old"), rng, now=NOW - 10**8)
    with pytest.raises(ValidationError, match="lifetime"):
        groups[0].add([old.key_package], now=NOW)


def test_misuse() -> None:
    groups, _ = make_group(2)
    a, b = groups
    with pytest.raises(UsageError):
        a.remove([a.my_leaf_index])
    with pytest.raises(StateError):
        a.apply_pending_commit()
    wrong = MLSMessage.from_bytes(b.encrypt(b"x")).body
    assert isinstance(wrong, PrivateMessage)
    other = dataclasses.replace(wrong, group_id=b"other")
    _refused(a, MLSMessage(other).to_bytes(), StateError)
