"""Every refused message or call leaves the group byte for byte as it was, on the
default wire format (PrivateMessage handshakes), and the group keeps working.

A hostile member ("mallory", a real member who goes under the client) builds
messages with her real keys, so that they decrypt and only a later check fails.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import CoveError, CryptoError, StateError, UsageError
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import (
    FramedContent,
    MLSMessage,
    PrivateMessage,
    Sender,
    WireFormat,
)
from cove.protocol.mls.group import ApplicationMessage, AppliedCommit, Group, ProposalMessage
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from cove.protocol.mls.message_protection import protect_private, sign_content
from cove.protocol.mls.proposals import Proposal, ProposalOrRef, Remove
from tests.support.rules import raises_rule
from tests.unit.protocol.test_group import NOW, bundle, make_group

RNG = SeededRandom(b"refusals")


def forge(
    sender: Group,
    body: bytes | Proposal | Commit,
    *,
    tag: bytes | None = None,
    signature_private: bytes | None = None,
    leaf: int | None = None,
) -> bytes:
    """A PrivateMessage from ``sender``'s real secret tree (it consumes her key)."""
    ep = sender._epoch
    content = FramedContent(
        ep.context.group_id,
        ep.context.epoch,
        Sender.member(sender.my_leaf_index if leaf is None else leaf),
        b"",
        body,
    )
    signed = sign_content(
        sender.suite,
        WireFormat.PRIVATE_MESSAGE,
        content,
        signature_private or sender._signature_private,
        ep.context,
        tag,
    )
    msg = protect_private(sender.suite, signed, ep.secret_tree, ep.secrets.sender_data_secret, RNG)
    return MLSMessage(msg).to_bytes()


def clone(g: Group) -> Group:
    return Group.from_bytes(g.to_bytes(), RNG)


def refused(
    g: Group, message: bytes, error: type[CoveError] = CoveError, *, rule: str | None = None
) -> None:
    before = g.to_bytes()
    serial = g.state_serial
    if rule is not None:
        with raises_rule(rule):
            g.process(message)
    else:
        with pytest.raises(error):
            g.process(message)
    assert g.to_bytes() == before
    assert g.state_serial == serial


def still_works(groups: list[Group]) -> None:
    """Everyone reads everyone, and a commit goes through."""
    for sender in groups:
        msg = sender.encrypt(b"still here")
        for g in groups:
            if g is not sender:
                got = g.process(msg)
                assert isinstance(got, ApplicationMessage) and got.data == b"still here"
    out = groups[0].update()
    for g in groups[1:]:
        assert isinstance(g.process(out.commit), AppliedCommit)
    groups[0].apply_pending_commit()
    assert len({g.epoch_authenticator for g in groups}) == 1


def test_refused_private_commit_does_not_consume_its_key() -> None:
    """The bug of issue 8: a refused PrivateMessage commit burnt its secret-tree key,
    so the genuine commit sent under the same generation was then refused."""
    groups, _ = make_group(3)
    a, mallory, c = groups
    twin = clone(mallory)  # same generation as mallory's next real handshake
    bad = forge(twin, Commit((ProposalOrRef(bytes(32)),)), tag=bytes(32))
    refused(a, bad, rule="V-COMMIT-002")
    out = mallory.update()
    for g in (a, c):
        assert isinstance(g.process(out.commit), AppliedCommit)
    mallory.apply_pending_commit()
    still_works(groups)


def test_refused_application_message_does_not_consume_its_key() -> None:
    groups, rng = make_group(3)
    a, mallory, _ = groups
    stranger_key = bundle("x", rng).signature_private
    twin = clone(mallory)
    refused(a, forge(twin, b"bad signature", signature_private=stranger_key), CryptoError)
    got = a.process(mallory.encrypt(b"genuine"))  # the same generation
    assert isinstance(got, ApplicationMessage) and got.data == b"genuine"
    still_works(groups)


def test_refused_proposal_does_not_consume_its_key() -> None:
    groups, rng = make_group(3)
    a, mallory, _ = groups
    stranger_key = bundle("x", rng).signature_private
    twin = clone(mallory)
    bad = forge(twin, Proposal(Remove(2)), signature_private=stranger_key)
    refused(a, bad, CryptoError)
    assert isinstance(a.process(mallory.propose_remove(2)), ProposalMessage)
    assert a.pending_proposals == 1


def _hostile_commits(groups: list[Group]) -> list[tuple[str, bytes, str | None]]:
    """(name, message, rule id or None for a CryptoError/StateError) from mallory."""
    a, mallory = groups[0], groups[1]
    good = clone(mallory).update()
    body = MLSMessage.from_bytes(good.commit).body
    assert isinstance(body, PrivateMessage)
    path_commit = Commit((), None)
    cases: list[tuple[str, bytes, str | None]] = [
        (
            "unknown proposal ref",
            forge(mallory, Commit((ProposalOrRef(bytes(32)),)), tag=bytes(32)),
            "V-COMMIT-002",
        ),
        (
            "remove of a blank leaf",
            forge(mallory, Commit((ProposalOrRef(Proposal(Remove(7))),)), tag=bytes(32)),
            "V-PROP-007",
        ),
        (
            "remove without a path",
            forge(mallory, Commit((ProposalOrRef(Proposal(Remove(2))),)), tag=bytes(32)),
            "V-COMMIT-003",
        ),
        ("empty commit, bad tag", forge(mallory, path_commit, tag=bytes(32)), "V-COMMIT-003"),
        ("commit as another leaf", forge(mallory, path_commit, tag=bytes(32), leaf=2), None),
        ("commit for a non-member leaf", forge(mallory, path_commit, tag=bytes(32), leaf=3), None),
    ]
    del a
    return cases


def test_hostile_private_commits_leave_the_group_unchanged() -> None:
    groups, _ = make_group(3)
    a = groups[0]
    for name, message, rule in _hostile_commits(groups):
        before = a.to_bytes()
        with pytest.raises(CoveError) as info:
            a.process(message)
        if rule is not None:
            assert getattr(info.value, "rule", None) == rule, name
        assert a.to_bytes() == before, name
    still_works(groups)


# -- random damage (hypothesis) ----------------------------------------------------


def _prepare() -> tuple[bytes, list[bytes]]:
    """A's snapshot, and one genuine PrivateMessage of each kind from mallory."""
    groups, _ = make_group(3)
    a, mallory, _ = groups
    app = mallory.encrypt(b"a genuine message", authenticated_data=b"ad")
    proposal = mallory.propose_remove(2)
    a_before = a.to_bytes()
    a.process(app)
    a.process(proposal)
    commit = mallory.commit().commit
    return a_before, [app, proposal, commit]


A_STATE, GENUINE = _prepare()


def _damage(data: bytes, kind: int, position: int, value: int) -> bytes:
    p = position % len(data)
    if kind == 0:
        return data[:p] + bytes([data[p] ^ (value or 1)]) + data[p + 1 :]
    if kind == 1:
        return data[:p]
    return data[:p] + bytes([value]) + data[p:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, 2),
    kind=st.integers(0, 2),
    position=st.integers(0, 10_000),
    value=st.integers(0, 255),
)
def test_damaged_private_messages_change_nothing(
    which: int, kind: int, position: int, value: int
) -> None:
    a = Group.from_bytes(A_STATE, RNG)
    # Reach the state in which the message is due (the proposal before the commit).
    for earlier in GENUINE[:which]:
        a.process(earlier)
    damaged = _damage(GENUINE[which], kind, position, value)
    if damaged == GENUINE[which]:
        return
    refused(a, damaged)
    expected = (ApplicationMessage, ProposalMessage, AppliedCommit)[which]
    assert isinstance(a.process(GENUINE[which]), expected)


# -- refused API calls -----------------------------------------------------------------


def test_refused_calls_change_nothing() -> None:
    groups, rng = make_group(3)
    a, b, c = groups
    expired = KeyPackageBundle.create(1, Credential.basic(b"old"), rng, now=NOW - 10**8)
    fresh = bundle("fresh", rng)
    twin = dataclasses.replace(fresh.key_package)

    def check(call: object, error: type[CoveError] = CoveError, rule: str | None = None) -> None:
        assert callable(call)
        before, serial = a.to_bytes(), a.state_serial
        if rule is not None:
            with raises_rule(rule):
                call()
        else:
            with pytest.raises(error):
                call()
        assert a.to_bytes() == before and a.state_serial == serial

    check(lambda: a.add([expired.key_package], now=NOW), rule="V-LEAF-005")
    check(lambda: a.add([fresh.key_package, twin], now=NOW), rule="V-PROP-003")
    check(lambda: a.add([b"\x00\x01junk"], now=NOW), CoveError)
    check(lambda: a.add([b.encrypt(b"not a key package")], now=NOW), UsageError)
    check(lambda: a.remove([a.my_leaf_index]), UsageError)
    check(lambda: a.remove([3]), rule="V-PROP-007")
    check(lambda: a.remove([1, 1]), rule="V-PROP-006")
    check(lambda: a.propose_remove(3), rule="V-GROUP-001")
    check(lambda: a.apply_pending_commit(), StateError)
    check(lambda: a.process(b"\x00"), CoveError)
    pending = a.update()
    check(lambda: a.update(), StateError)
    check(lambda: a.process(pending.commit), StateError)  # our own commit
    other = b.update()
    b.discard_pending_commit()
    assert other.welcome is None
    a.discard_pending_commit()
    # A Welcome is not a group message.
    out = a.add([fresh.key_package], now=NOW)
    assert out.welcome is not None
    check(lambda: a.process(out.welcome), UsageError)
    a.apply_pending_commit()
    for g in (b, c):
        g.process(out.commit)
    # A removed member refuses everything and stays as she was.
    removal = b.remove([a.my_leaf_index])
    assert a.process(removal.commit).removed_me  # type: ignore[union-attr]
    check(lambda: a.encrypt(b"x"), StateError)
    check(lambda: a.update(), StateError)
    check(lambda: a.export_secret(b"l", b"", 16), StateError)
