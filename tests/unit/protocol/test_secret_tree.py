"""Secret tree ratchets: out-of-order window, replay, bounded skipping, deletion (§9.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.crypto import suite_for
from cove.protocol.errors import CryptoError, StateError, UsageError
from cove.protocol.mls.secret_tree import RatchetType, SecretTree, SecretTreeConfig

SUITE = suite_for(1)
SECRET = bytes(range(32))
APP = RatchetType.APPLICATION


def _pair(config: SecretTreeConfig | None = None) -> tuple[SecretTree, SecretTree]:
    return SecretTree(SUITE, SECRET, 4, config), SecretTree(SUITE, SECRET, 4, config)


def _keys(tree: SecretTree, leaf: int, generation: int) -> tuple[bytes, bytes]:
    return tree.with_decryption_keys(leaf, APP, generation, lambda k, n: (k, n))


@given(st.permutations(range(20)))
def test_any_order_within_the_window_decrypts_each_once(order: list[int]) -> None:
    sender, receiver = _pair()
    sent = [sender.next_encryption_keys(2, APP) for _ in range(20)]
    for g in order:
        assert _keys(receiver, 2, g) == sent[g][1:]
    for g in order[:3]:
        with pytest.raises(StateError):
            _keys(receiver, 2, g)


def test_replay_of_the_newest_generation_fails() -> None:
    sender, receiver = _pair()
    _, key, nonce = sender.next_encryption_keys(0, APP)
    assert _keys(receiver, 0, 0) == (key, nonce)
    with pytest.raises(StateError):
        _keys(receiver, 0, 0)


def test_too_far_ahead_is_refused_without_deriving() -> None:
    _, receiver = _pair(SecretTreeConfig(max_forward_distance=10))
    calls = []
    with pytest.raises(StateError, match="too far"):
        receiver.with_decryption_keys(1, APP, 2**32 - 1, lambda k, n: calls.append(1))
    assert calls == []
    assert receiver.generation(1, APP) == 0
    _keys(receiver, 1, 10)  # exactly at the bound is fine


def test_skipped_keys_are_bounded_oldest_evicted() -> None:
    sender, receiver = _pair(SecretTreeConfig(max_skipped_keys=3))
    sent = [sender.next_encryption_keys(3, APP) for _ in range(8)]
    assert _keys(receiver, 3, 7) == sent[7][1:]
    for g in (4, 5, 6):
        assert _keys(receiver, 3, g) == sent[g][1:]
    for g in (0, 1, 2, 3):
        with pytest.raises(StateError):
            _keys(receiver, 3, g)


def test_failed_use_does_not_consume_the_key() -> None:
    sender, receiver = _pair()
    sent = [sender.next_encryption_keys(1, APP) for _ in range(3)]

    def forged(k: bytes, n: bytes) -> None:
        raise CryptoError("bad tag")

    for g in (2, 0):
        with pytest.raises(CryptoError):
            receiver.with_decryption_keys(1, APP, g, forged)
    assert receiver.generation(1, APP) == 0
    assert _keys(receiver, 1, 2) == sent[2][1:]
    assert _keys(receiver, 1, 0) == sent[0][1:]


def test_ratchets_are_independent_per_leaf_and_type() -> None:
    sender, receiver = _pair()
    hs = sender.next_encryption_keys(0, RatchetType.HANDSHAKE)
    app = sender.next_encryption_keys(0, APP)
    other = sender.next_encryption_keys(1, APP)
    assert len({hs[1], app[1], other[1]}) == 3
    assert receiver.with_decryption_keys(1, APP, 0, lambda k, n: k) == other[1]


def test_tree_node_secrets_are_deleted_as_leaves_are_derived() -> None:
    tree = SecretTree(SUITE, SECRET, 8)
    for leaf in range(8):
        tree.next_encryption_keys(leaf, APP)
    assert tree._nodes == {}  # every node and leaf secret consumed
    assert "redacted" in repr(tree)


def test_bad_arguments() -> None:
    with pytest.raises(UsageError):
        SecretTree(SUITE, SECRET, 3)
    with pytest.raises(StateError):
        SecretTree(SUITE, SECRET, 4).next_encryption_keys(4, APP)
