"""The join settings extension: encoding, bounds, and who may change what."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.errors import DecodeError, UsageError
from cove.protocol.invites import (
    JOIN_SETTINGS_EXTENSION,
    HistoryLevel,
    InviteRefused,
    JoinSettings,
    LinkMode,
    check_join_settings_change,
    with_join_settings,
)
from cove.protocol.mls.extensions import Extension

from .helpers import entry_for, link_for, person, settings_with

ANA = person("ana", 1)
APPROVAL = entry_for(link_for(ANA, 1), LinkMode.APPROVAL)
OPEN = entry_for(link_for(ANA, 2), LinkMode.OPEN, max_uses=2)
SETTINGS = settings_with(APPROVAL, OPEN)


def change(before: JoinSettings | None, after: JoinSettings | None, **kw: object) -> None:
    args: dict[str, object] = {
        "may_manage": False,
        "may_configure": False,
        "pending_link_join": None,
    }
    args.update(kw)
    check_join_settings_change(
        None if before is None else before.to_bytes(),
        None if after is None else after.to_bytes(),
        **args,  # type: ignore[arg-type]
    )


def refused(
    rule: str, before: JoinSettings | None, after: JoinSettings | None, **kw: object
) -> None:
    with pytest.raises(InviteRefused) as info:
        change(before, after, **kw)
    assert info.value.rule == rule


def test_round_trip_and_layout() -> None:
    data = SETTINGS.to_bytes()
    assert JoinSettings.from_bytes(data) == SETTINGS
    assert JoinSettings().to_bytes() == bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    ext = SETTINGS.extension()
    assert ext.extension_type == JOIN_SETTINGS_EXTENSION == 0xF0C2
    assert JoinSettings.from_extensions([Extension(1, b""), ext]) == SETTINGS
    assert JoinSettings.from_extensions([]) is None
    # links are kept sorted whatever the order given
    assert JoinSettings(links=(OPEN, APPROVAL)).links == tuple(
        sorted((OPEN, APPROVAL), key=lambda e: e.link_id)
    )


def test_with_join_settings_replaces_in_place() -> None:
    other = Extension(0x0003, b"\x00")
    exts = with_join_settings([other], SETTINGS)
    assert exts == (other, SETTINGS.extension())
    changed = with_join_settings(exts, JoinSettings())
    assert changed == (other, JoinSettings().extension())


def test_helpers() -> None:
    counted = SETTINGS.with_use_counted(OPEN.link_id)
    assert counted.link(OPEN.link_id).used == 1  # type: ignore[union-attr]
    assert SETTINGS.without_link(OPEN.link_id).link(OPEN.link_id) is None
    assert SETTINGS.with_rules(b"\x01" * 32).rules == (2, b"\x01" * 32)
    full = counted.with_use_counted(OPEN.link_id)
    with pytest.raises(UsageError, match="used up"):
        full.with_use_counted(OPEN.link_id)
    with pytest.raises(UsageError, match="no such link"):
        SETTINGS.with_use_counted(bytes(10))
    assert HistoryLevel.TITLES.label == "thread titles, pinned resources and rules"


def test_constructor_bounds() -> None:
    with pytest.raises(UsageError, match="a rules hash exactly when"):
        JoinSettings(rules_version=1)
    with pytest.raises(UsageError, match="duplicate"):
        JoinSettings(links=(OPEN, OPEN))
    with pytest.raises(UsageError, match="at most 16"):
        JoinSettings(
            links=tuple(entry_for(link_for(ANA, 100 + i), LinkMode.OPEN) for i in range(17))
        )
    with pytest.raises(UsageError, match="used"):
        replace(OPEN, used=3)
    with pytest.raises(UsageError, match="max_uses"):
        replace(OPEN, max_uses=0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "version 2 is not supported"),
        (bytes([1, 3, 0, 0, 0, 0, 0, 0, 0, 0]), "unknown history level"),
        (bytes([1, 0, 2, 0, 0, 0, 0, 0, 0, 0]), "boolean must be 0 or 1"),
        (bytes([1, 0, 0, 0, 0, 0, 1, 0, 0, 0]), "rules version and hash disagree"),
        (bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "1 trailing bytes"),
        (bytes([1, 0, 0, 0, 0, 0, 0, 0, 0]), "truncated"),
    ],
)
def test_decoding_refusals(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        JoinSettings.from_bytes(data)


def test_unsorted_links_are_refused() -> None:
    data = bytearray(SETTINGS.to_bytes())
    a, b = sorted((APPROVAL, OPEN), key=lambda e: e.link_id)
    start = data.index(a.link_id) - 1
    from cove.protocol.codec import Writer
    from cove.protocol.invites.join_settings import _write_link  # the encoder's own item writer

    w = Writer()
    _write_link(w, b)
    _write_link(w, a)
    swapped = bytes(data[:start]) + w.getvalue()
    with pytest.raises(DecodeError, match="strictly increasing"):
        JoinSettings.from_bytes(swapped)


@given(st.binary(max_size=400))
def test_decoder_is_bounded_and_typed(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        JoinSettings.from_bytes(data)


@given(st.integers(0, len(SETTINGS.to_bytes()) - 1), st.integers(1, 255))
def test_decoder_on_mutations(at: int, xor: int) -> None:
    data = bytearray(SETTINGS.to_bytes())
    data[at] ^= xor
    try:
        decoded = JoinSettings.from_bytes(bytes(data))
    except DecodeError:
        return
    assert decoded.to_bytes() == bytes(data)


# -- who may change what ---------------------------------------------------------


def test_unchanged_settings_pass() -> None:
    change(SETTINGS, SETTINGS)
    change(None, None)


def test_removal_and_malformed() -> None:
    refused("invite.settings.removed", SETTINGS, None, may_manage=True, may_configure=True)
    with pytest.raises(InviteRefused) as info:
        check_join_settings_change(
            SETTINGS.to_bytes(),
            b"\x01",
            may_manage=True,
            may_configure=True,
            pending_link_join=None,
        )
    assert info.value.rule == "invite.settings.malformed"


def test_members_may_only_count_a_link_join() -> None:
    counted = SETTINGS.with_use_counted(OPEN.link_id)
    change(SETTINGS, counted, pending_link_join=OPEN.link_id)
    refused("invite.settings.count_missing", SETTINGS, SETTINGS, pending_link_join=OPEN.link_id)
    twice = counted.with_use_counted(OPEN.link_id)
    refused("invite.settings.count_missing", SETTINGS, twice, pending_link_join=OPEN.link_id)
    refused("invite.settings.not_allowed", SETTINGS, counted)  # nothing to count
    refused(
        "invite.settings.not_allowed",
        SETTINGS,
        SETTINGS.without_link(OPEN.link_id),
        pending_link_join=OPEN.link_id,
    )
    refused(
        "invite.settings.not_allowed",
        SETTINGS,
        replace(counted, history=HistoryLevel.FULL),
        pending_link_join=OPEN.link_id,
    )
    refused("invite.settings.not_allowed", SETTINGS, replace(SETTINGS, history=HistoryLevel.FULL))
    refused("invite.settings.not_allowed", None, SETTINGS)


def test_moderators_manage_links_rules_and_history() -> None:
    mod = {"may_manage": True}
    third = entry_for(link_for(ANA, 3), LinkMode.APPROVAL)
    change(SETTINGS, SETTINGS.with_link(third), **mod)
    change(SETTINGS, SETTINGS.without_link(APPROVAL.link_id), **mod)
    change(SETTINGS, SETTINGS.with_use_counted(APPROVAL.link_id), **mod)  # an approval counted
    change(SETTINGS, replace(SETTINGS, history=HistoryLevel.FULL), **mod)
    change(SETTINGS, SETTINGS.with_rules(b"\x02" * 32), **mod)
    change(None, JoinSettings(), **mod)
    # the moderator's commit after a link join counts it too, or revokes the link
    change(SETTINGS, SETTINGS.with_use_counted(OPEN.link_id), pending_link_join=OPEN.link_id, **mod)
    change(SETTINGS, SETTINGS.without_link(OPEN.link_id), pending_link_join=OPEN.link_id, **mod)
    refused(
        "invite.settings.count_missing",
        SETTINGS,
        SETTINGS.with_link(third),
        pending_link_join=OPEN.link_id,
        **mod,
    )
    refused("invite.settings.owner_only", SETTINGS, replace(SETTINGS, open_links=False), **mod)
    refused(
        "invite.settings.rules_version", SETTINGS, replace(SETTINGS, rules_hash=b"\x03" * 32), **mod
    )
    refused(
        "invite.settings.rules_version",
        SETTINGS,
        replace(SETTINGS, rules_version=3, rules_hash=b"\x03" * 32),
        **mod,
    )
    refused(
        "invite.settings.count_wrong", SETTINGS, SETTINGS.with_link(replace(third, used=1)), **mod
    )
    counted = SETTINGS.with_use_counted(APPROVAL.link_id)
    refused("invite.settings.count_wrong", counted, SETTINGS, **mod)
    rekeyed = replace(OPEN, verify_key=bytes(32))
    refused("invite.settings.count_wrong", SETTINGS, SETTINGS.with_link(rekeyed), **mod)
    remoded = replace(OPEN, mode=LinkMode.APPROVAL)
    refused("invite.settings.count_wrong", SETTINGS, SETTINGS.with_link(remoded), **mod)


def test_owners_switch_open_links() -> None:
    change(SETTINGS, replace(SETTINGS, open_links=False), may_manage=True, may_configure=True)
