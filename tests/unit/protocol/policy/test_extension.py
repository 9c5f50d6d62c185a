"""The policy extension: byte-exact encoding, canonical form, bounded decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.errors import DecodeError, UsageError
from cove.protocol.group_metadata import GROUP_METADATA_EXTENSION
from cove.protocol.invites import JOIN_SETTINGS_EXTENSION, JoinSettings
from cove.protocol.mls.extensions import ExtensionType, RequiredCapabilities, find_extension
from cove.protocol.policy import (
    MAX_ASSIGNMENTS,
    POLICY_EXTENSION,
    GroupPolicy,
    Role,
    initial_extensions,
    initial_policy,
    with_policy,
)

A, B, C = b"\x01" * 32, b"\x02" * 32, b"\xff" * 32


def test_type_number_is_next_to_group_metadata() -> None:
    assert (GROUP_METADATA_EXTENSION, POLICY_EXTENSION) == (0xF0C0, 0xF0C1)


def test_bytes_exactly() -> None:
    policy = GroupPolicy({C: Role.BANNED, A: Role.OWNER, B: Role.MODERATOR})
    assert policy.to_bytes() == (
        b"\x01"  # version
        + b"\x40\x63"  # varint length 99 = 3 * 33
        + A + b"\x04" + B + b"\x03" + C + b"\x01"
    )  # fmt: skip
    assert GroupPolicy.from_bytes(policy.to_bytes()) == policy
    assert GroupPolicy().to_bytes() == b"\x01\x00"


def test_canonical_whatever_the_order_of_changes() -> None:
    one = initial_policy(C).with_role(A, Role.MODERATOR).ban(B)
    two = GroupPolicy({B: Role.BANNED}).with_role(C, Role.OWNER).with_role(A, Role.MODERATOR)
    assert one.to_bytes() == two.to_bytes()
    assert one.with_role(A, Role.MEMBER) == initial_policy(C).ban(B)  # member = no entry
    assert len({one, two}) == 1  # equal values hash alike


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated uint8"),
        (b"\x02\x00", "policy version 2 is not supported"),
        (b"\x01\x00\x00", "1 trailing bytes"),
        (b"\x01\x05" + b"\x00" * 5, "partial entry"),
        (b"\x01\x40\x42" + B + b"\x04" + A + b"\x03", "not strictly increasing"),
        (b"\x01\x40\x42" + A + b"\x04" + A + b"\x03", "not strictly increasing"),
        (b"\x01\x21" + A + b"\x02", "role 2 cannot be assigned"),
        (b"\x01\x21" + A + b"\x00", "role 0 cannot be assigned"),
        (b"\x01\x21" + A + b"\x09", "role 9 cannot be assigned"),
        (b"\x01\x80\x00\x80\xe9" + b"\x00" * 10, "over the limit"),
    ],
)
def test_refuses_non_canonical_or_oversized(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        GroupPolicy.from_bytes(data)


def test_building_checks_values() -> None:
    with pytest.raises(UsageError, match="32 bytes"):
        GroupPolicy({b"short": Role.OWNER})
    with pytest.raises(UsageError, match="not written"):
        GroupPolicy({A: Role.MEMBER})
    with pytest.raises(UsageError, match="version 2"):
        GroupPolicy(version=2)
    with pytest.raises(UsageError, match="too many"):
        GroupPolicy({i.to_bytes(32, "big"): Role.BANNED for i in range(MAX_ASSIGNMENTS + 1)})
    with pytest.raises(UsageError, match="not banned"):
        GroupPolicy().unban(A)


def test_largest_policy_round_trips() -> None:
    big = GroupPolicy({i.to_bytes(32, "big"): Role.BANNED for i in range(MAX_ASSIGNMENTS)})
    assert GroupPolicy.from_bytes(big.to_bytes()) == big


def test_initial_extensions_require_cove_extensions() -> None:
    exts = initial_extensions(A)
    policy = GroupPolicy.from_extensions(exts)
    assert (
        policy is not None
        and policy.owners == {A}
        and policy.role_of(A, in_group=True) == Role.OWNER
    )
    rc = find_extension(exts, ExtensionType.REQUIRED_CAPABILITIES)
    assert rc is not None
    required = RequiredCapabilities.from_bytes(rc.extension_data)
    assert required.extension_types == (
        GROUP_METADATA_EXTENSION,
        POLICY_EXTENSION,
        JOIN_SETTINGS_EXTENSION,
    )
    assert JoinSettings.from_extensions(exts) == JoinSettings()
    # with_policy replaces in place and adds when missing
    replaced = with_policy(exts, policy.ban(B))
    assert [e.extension_type for e in replaced] == [e.extension_type for e in exts]
    assert with_policy((), policy)[0].extension_type == POLICY_EXTENSION
    assert GroupPolicy.from_extensions(()) is None


def test_role_of() -> None:
    policy = GroupPolicy({A: Role.MODERATOR, B: Role.BANNED})
    assert policy.role_of(A, in_group=True) == Role.MODERATOR
    assert policy.role_of(C, in_group=True) == Role.MEMBER
    assert policy.role_of(C, in_group=False) == Role.NONE
    assert policy.role_of(B, in_group=False) == Role.BANNED
    assert policy.without([A, B]) == GroupPolicy({B: Role.BANNED})  # bans survive leaving


_keys = st.binary(min_size=32, max_size=32)
_roles = st.sampled_from([Role.BANNED, Role.MODERATOR, Role.OWNER])


@given(st.dictionaries(_keys, _roles, max_size=40))
def test_round_trip_and_one_encoding(assignments: dict[bytes, Role]) -> None:
    policy = GroupPolicy(assignments)
    data = policy.to_bytes()
    assert GroupPolicy.from_bytes(data) == policy
    rebuilt = GroupPolicy(dict(reversed(list(assignments.items()))))
    assert rebuilt.to_bytes() == data


@given(st.binary(max_size=200))
def test_decoder_never_crashes(data: bytes) -> None:
    try:
        policy = GroupPolicy.from_bytes(data)
    except DecodeError:
        return
    assert policy.to_bytes() == data  # whatever decodes is canonical
