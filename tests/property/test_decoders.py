"""Decoders never fail in an unplanned way (hypothesis).

For every top-level wire type, arbitrary bytes and structure-aware mutations of
the valid encodings in messages.json either decode or raise
:class:`~cove.protocol.errors.DecodeError` (nothing else: no IndexError,
UsageError, RecursionError, MemoryError, ...), and whatever decodes re-encodes
to exactly the bytes it came from (one value, one encoding).

Mutations, applied one to three at a time at hypothesis-chosen offsets:
truncation, byte replacement, splicing two encodings of the same type,
deleting or duplicating a range, inserting a ``0b11`` varint prefix, rewriting
a varint in a longer (non-minimal) form, an ``optional``/boolean presence
octet outside {0, 1}, and huge declared lengths (up to 2^30 - 1).

PrivateMessageContent is tested too, its input prefixed with the content type
byte its decoder needs.

``max_examples`` is 10,000 per type under ``CI=true`` and 300 otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cove.protocol.codec import Struct
from cove.protocol.errors import DecodeError
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import (
    MLSMessage,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
)
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.leaf_node import LeafNode
from cove.protocol.mls.nodes import decode_ratchet_tree, encode_ratchet_tree
from cove.protocol.mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from cove.protocol.mls.welcome import GroupInfo, GroupSecrets, Welcome
from tests.support.ci import IN_CI
from tests.support.vectors import load_json, mls_vector_dir

pytestmark = pytest.mark.property

MAX_EXAMPLES = 10_000 if IN_CI else 300
PROPERTY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- the codecs under test ------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    name: str
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


def _struct(cls: type[Struct]) -> Codec:
    return Codec(cls.__name__, cls.from_bytes, lambda v: v.to_bytes())


def _decode_private_content(data: bytes) -> PrivateMessageContent:
    # The first byte stands for PrivateMessage.content_type, which the decoder needs.
    if not data:
        raise DecodeError("no content type")
    return PrivateMessageContent.from_bytes(data[1:], data[0])


def _encode_private_content(value: PrivateMessageContent) -> bytes:
    return bytes([value.content_type]) + value.to_bytes()


CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        _struct(MLSMessage),
        _struct(KeyPackage),
        _struct(LeafNode),
        _struct(Welcome),
        _struct(GroupInfo),
        _struct(GroupSecrets),
        _struct(Commit),
        _struct(Proposal),
        _struct(PublicMessage),
        _struct(PrivateMessage),
        _struct(Credential),
        Codec("ratchet_tree", decode_ratchet_tree, encode_ratchet_tree),
        Codec("PrivateMessageContent", _decode_private_content, _encode_private_content),
    )
}


# -- valid encodings from messages.json -------------------------------------------

_BODIES = (
    ("add_proposal", Add),
    ("update_proposal", Update),
    ("remove_proposal", Remove),
    ("pre_shared_key_proposal", PreSharedKey),
    ("re_init_proposal", ReInit),
    ("external_init_proposal", ExternalInit),
    ("group_context_extensions_proposal", GroupContextExtensions),
)

#: Cases used as seeds: every suite appears (0-99 suite 1, 100-199 suite 3, 200-299 suite 2).
_SEED_CASES = (0, 1, 2, 99, 100, 101, 199, 200, 201, 299)


#: Suite-1 trees of tree-validation.json with blanks, parents and unmerged leaves.
_TREE_CASES = (0, 4, 5, 9, 12, 13)
#: Suite-1 cases of passive-client-handling-commit.json: commits without a path,
#: with a Remove, and with inline PSK, Add, Remove and GroupContextExtensions.
_COMMIT_CASES = (0, 1, 5)


def _seeds() -> dict[str, list[bytes]]:
    path = mls_vector_dir() / "messages.json"
    seeds: dict[str, list[bytes]] = {name: [] for name in CODECS}
    if not path.is_file():
        if IN_CI:
            raise FileNotFoundError(f"test vector file missing under CI=true: {path}")
        return seeds
    data = load_json(path)

    def add(name: str, encoded: bytes) -> None:
        if encoded not in seeds[name]:
            seeds[name].append(encoded)

    for index in _SEED_CASES:
        case = {k: bytes.fromhex(v) for k, v in data[index].items()}
        for field in (
            "mls_welcome",
            "mls_group_info",
            "mls_key_package",
            "public_message_application",
            "public_message_proposal",
            "public_message_commit",
            "private_message",
        ):
            message = MLSMessage.from_bytes(case[field])
            add("MLSMessage", case[field])
            body = message.body
            add(type(body).__name__, body.to_bytes())
            if isinstance(body, KeyPackage):
                add("LeafNode", body.leaf_node.to_bytes())
                add("Credential", body.leaf_node.credential.to_bytes())
            if isinstance(body, PublicMessage):
                content = body.content.content
                if isinstance(content, Commit):
                    add("Commit", content.to_bytes())
                pmc = PrivateMessageContent(content, body.auth, padding=index % 9)
                add("PrivateMessageContent", _encode_private_content(pmc))
        add("ratchet_tree", case["ratchet_tree"])
        add("GroupSecrets", case["group_secrets"])
        add("Commit", case["commit"])
        add("LeafNode", case["update_proposal"])
        add("KeyPackage", case["add_proposal"])
        for field, cls in _BODIES:
            add("Proposal", Proposal(cls.from_bytes(case[field])).to_bytes())
    add("Credential", Credential.x509((b"\x30\x82cert-one", b"", b"\x30cert-two")).to_bytes())

    # messages.json has one-node trees and single-reference commits only; add
    # trees with blanks, parents and unmerged leaves, and commits with inline
    # proposals of every kind, from two other vector files.
    trees = mls_vector_dir() / "tree-validation.json"
    if trees.is_file():
        for index in _TREE_CASES:
            add("ratchet_tree", bytes.fromhex(load_json(trees)[index]["tree"]))
    passive = mls_vector_dir() / "passive-client-handling-commit.json"
    if passive.is_file():
        for index in _COMMIT_CASES:
            for epoch in load_json(passive)[index]["epochs"]:
                encoded = bytes.fromhex(epoch["commit"])
                message = MLSMessage.from_bytes(encoded)
                assert isinstance(message.body, PublicMessage)
                commit = message.body.content.content
                assert isinstance(commit, Commit)
                add("MLSMessage", encoded)
                add("PublicMessage", message.body.to_bytes())
                add("Commit", commit.to_bytes())
                if commit.path is not None:
                    add("LeafNode", commit.path.leaf_node.to_bytes())
    return seeds


SEEDS = _seeds()


# -- mutations --------------------------------------------------------------------

#: Varint encodings that declare a length far beyond any input.
HUGE_LENGTHS = (
    bytes.fromhex("bfffffff"),
    bytes.fromhex("80ffffff"),
    bytes.fromhex("7fff"),
    bytes.fromhex("40ff"),
    bytes.fromhex("3f"),
)


def _mutate(data: bytes, op: int, a: int, b: int, other: bytes) -> bytes:
    """Apply mutation ``op``; ``a`` (24 bits) scales to a position, ``b`` (16 bits) is a value."""
    n = len(data)
    i = (a * (n + 1)) >> 24  # a position in 0..n
    if op == 0:  # truncate
        return data[:i]
    if n == 0:
        return bytes([b & 0xFF])
    j = (a * n) >> 24  # a byte index in 0..n-1
    if op == 1:  # replace a byte
        return data[:j] + bytes([b & 0xFF]) + data[j + 1 :]
    if op == 2:  # flip one bit
        return data[:j] + bytes([data[j] ^ (1 << (b % 8))]) + data[j + 1 :]
    if op == 3:  # splice with another encoding of the same type
        k = b % (len(other) + 1)
        return data[:i] + other[k:]
    if op == 4:  # delete a range
        return data[:i] + data[i + 1 + b % 64 :]
    if op == 5:  # duplicate a range
        return data[:i] + data[i : i + 1 + b % 64] + data[i:]
    if op == 6:  # 0b11 varint prefix
        return data[:i] + bytes([0xC0 | (b & 0x3F)]) + data[i:]
    if op == 7:  # rewrite a varint in a longer, non-minimal form
        v = data[j]
        if v < 0x40:
            return data[:j] + bytes([0x40, v]) + data[j + 1 :]
        if v < 0x80 and j + 1 < n:
            return data[:j] + bytes([0x80, 0, v & 0x3F, data[j + 1]]) + data[j + 2 :]
        return data[:j] + bytes([0x40, b & 0x3F]) + data[j + 1 :]
    if op == 8:  # presence / boolean octet outside {0, 1}
        flags = [p for p in range(n) if data[p] <= 1]
        if not flags:
            return data
        p = flags[(a * len(flags)) >> 24]
        return data[:p] + bytes([2 + b % 254]) + data[p + 1 :]
    # op == 9: huge declared length, replacing or inserted
    huge = HUGE_LENGTHS[b % len(HUGE_LENGTHS)]
    if b & 0x100:
        return data[:i] + huge + data[i:]
    return data[:j] + huge + data[j + 1 :]


#: Bytes per mutation in a program: op, a (3 bytes), b (2 bytes), other seed.
_STEP = 7
_MAX_STEPS = 3


def run_program(seeds: list[bytes], program: bytes) -> bytes:
    """Turn one hypothesis-drawn byte string into a decoder input.

    ``program[0] % 4`` picks the mode: 0 (or no seeds) gives the rest of the
    program as the input (arbitrary bytes); 1 keeps a prefix of a seed and
    appends arbitrary bytes (so random bytes get past the first headers);
    2 and 3 pick a seed with ``program[1]`` and apply one mutation per group of
    ``_STEP`` following bytes, at least one and at most ``_MAX_STEPS``.
    Drawing a single byte string keeps hypothesis' per-example cost low, and
    shrinking it shrinks toward fewer, simpler mutations.
    """
    if not seeds or len(program) < 2 or program[0] % 4 == 0:
        return program[1:]
    seed = seeds[program[1] % len(seeds)]
    body = program[2:]
    if program[0] % 4 == 1:
        keep = (program[0] >> 2) * (len(seed) + 1) >> 6  # 0..len(seed)
        return seed[:keep] + body
    # Short programs are common; fill them from a hash of the program rather
    # than with zeros, so they still reach varied mutations and offsets.
    filler = hashlib.blake2b(program, digest_size=_STEP).digest()
    data = seed
    for k in range(0, max(1, min(len(body), _STEP * _MAX_STEPS)), _STEP):
        step = body[k : k + _STEP]
        step += filler[len(step) :]
        a = int.from_bytes(step[1:4], "big")
        b = int.from_bytes(step[4:6], "big")
        data = _mutate(data, step[0] % 10, a, b, seeds[step[6] % len(seeds)])
    return data


PROGRAMS = st.binary(max_size=300)


def _check(codec: Codec, data: bytes) -> None:
    try:
        value = codec.decode(data)
    except DecodeError:
        return
    assert codec.encode(value) == data


def _property(name: str) -> Callable[[], None]:
    codec = CODECS[name]

    seeds = SEEDS[name]

    def test(program: bytes) -> None:
        _check(codec, run_program(seeds, program))

    # A distinct name per type keeps hypothesis' example database apart.
    test.__name__ = test.__qualname__ = "test_decoder_" + name
    wrapped: Callable[[], None] = PROPERTY_SETTINGS(given(program=PROGRAMS)(test))
    return wrapped


test_mls_message = _property("MLSMessage")
test_key_package = _property("KeyPackage")
test_leaf_node = _property("LeafNode")
test_welcome = _property("Welcome")
test_group_info = _property("GroupInfo")
test_group_secrets = _property("GroupSecrets")
test_commit = _property("Commit")
test_proposal = _property("Proposal")
test_ratchet_tree = _property("ratchet_tree")
test_public_message = _property("PublicMessage")
test_private_message = _property("PrivateMessage")
test_credential = _property("Credential")
test_private_message_content = _property("PrivateMessageContent")


@pytest.mark.parametrize("name", sorted(CODECS))
def test_seeds_are_valid(name: str) -> None:
    """Every seed decodes and round-trips (so mutations start from valid bytes)."""
    if not SEEDS[name]:  # outside CI only: under CI=true a missing file fails at import
        pytest.skip("messages.json missing")
    codec = CODECS[name]
    for seed in SEEDS[name]:
        assert codec.encode(codec.decode(seed)) == seed
