"""Join requests sealed to the moderators, replays, and the decline sealed back."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.codec import Writer
from cove.protocol.crypto import SeededRandom
from cove.protocol.crypto.stream import padded_length
from cove.protocol.errors import DecodeError, UsageError
from cove.protocol.invites import (
    InviteRefused,
    JoinRequest,
    JoinRequestLog,
    LinkMode,
    make_join_request,
    open_decline,
    open_join_request,
    request_header,
    seal_decline,
)
from cove.protocol.invites.join_request import REQUEST_LABEL, _signed
from cove.protocol.invites.link import INVITE_SUITE

from .helpers import GROUP_ID, NOW, entry_for, intake, link_for, person, preview_for, settings_with

ANA = person("ana", 1)
NIA = person("nia", 3)
EVE = person("eve", 2)
LINK = link_for(ANA, 1)
PREVIEW = preview_for(LINK, ANA)
ENTRY = entry_for(LINK, LinkMode.APPROVAL)
SETTINGS = settings_with(ENTRY)
KEYS = {1: intake(1)}
ANSWERS = ("My rheumatologist", "Company on bad days")


def make(who=NIA, answers=ANSWERS, seed=1, preview=PREVIEW, link=LINK):  # type: ignore[no-untyped-def]
    return make_join_request(
        preview,
        link,
        handle=who.handle,
        identity_private=who.identity_private,
        key_package=who.key_package,
        answers=answers,
        now=NOW,
        rng=SeededRandom(seed),
    )


PENDING = make()


def open_(sealed: bytes, settings=SETTINGS, keys=KEYS, questions=PREVIEW.questions) -> JoinRequest:  # type: ignore[no-untyped-def]
    return open_join_request(
        sealed, keys, group_id=GROUP_ID, settings=settings, questions=questions
    )


def refused(rule: str, sealed: bytes, **kw: object) -> None:
    with pytest.raises(InviteRefused) as info:
        open_(sealed, **kw)  # type: ignore[arg-type]
    assert info.value.rule == rule


def seal_raw(content: bytes, signature: bytes, generation: int = 1) -> bytes:
    """A request sealed by hand (what a hostile requester or relay can build)."""
    w = Writer()
    w.opaque(content)
    w.opaque(signature)
    inner = w.getvalue()
    inner += bytes(padded_length(len(inner), 2048) - len(inner))
    header = b"\x01" + LINK.link_id + generation.to_bytes(4, "big")
    enc, ct = INVITE_SUITE.hpke_seal(
        intake(generation).public_key,
        _signed(REQUEST_LABEL, GROUP_ID),
        header,
        inner,
        SeededRandom(9),
    )
    return header + enc + ct


def signed_by(who, request: JoinRequest) -> bytes:  # type: ignore[no-untyped-def]
    content = request.to_bytes()
    return seal_raw(
        content, INVITE_SUITE.sign(who.identity_private, _signed(REQUEST_LABEL, content))
    )


def test_round_trip() -> None:
    request = open_(PENDING.sealed)
    assert request == PENDING.request
    assert request.answers == ANSWERS and request.handle == "nia"
    assert request.rules_version == 1
    assert request_header(PENDING.sealed) == (LINK.link_id, 1)
    assert JoinRequest.from_bytes(request.to_bytes()) == request
    assert "Company" not in repr(request) and "hidden" in repr(PENDING)


def test_the_relay_sees_only_the_header_and_a_padded_size() -> None:
    for needle in (b"rheumatologist", b"nia", NIA.identity_key):
        assert needle not in PENDING.sealed
    short = make(answers=("a", "b"), seed=2)
    assert len(short.sealed) == len(PENDING.sealed)


def test_altered_or_misdirected_requests() -> None:
    for at in (15, 30, 47, len(PENDING.sealed) - 1):
        changed = bytearray(PENDING.sealed)
        changed[at] ^= 1
        refused("invite.request.undecryptable", bytes(changed))
    header_changed = bytearray(PENDING.sealed)
    header_changed[3] ^= 1  # another link id in the clear header: the AAD no longer matches
    refused("invite.request.undecryptable", bytes(header_changed))
    refused("invite.request.undecryptable", PENDING.sealed, keys={1: intake(2)})
    refused("invite.request.undecryptable", PENDING.sealed, keys={})
    refused("invite.request.malformed", b"\x01" * 20)
    with pytest.raises(InviteRefused) as info:
        open_join_request(
            PENDING.sealed, KEYS, group_id=b"other", settings=SETTINGS, questions=PREVIEW.questions
        )
    assert info.value.rule == "invite.request.undecryptable"


def test_forged_requests() -> None:
    request = PENDING.request
    # the relay (or anyone with the intake public key) cannot speak for nia
    refused("invite.request.bad_signature", signed_by(EVE, request))
    # eve without the link cannot make a link proof
    eve_request = replace(
        request, handle="eve", identity_key=EVE.identity_key, key_package=EVE.key_package
    )
    refused("invite.request.bad_link_proof", signed_by(EVE, eve_request))
    # a KeyPackage that is not the requester's
    swapped = replace(request, key_package=EVE.key_package)
    refused("invite.request.key_package_mismatch", signed_by(NIA, swapped))
    refused(
        "invite.request.key_package_mismatch",
        signed_by(NIA, replace(request, key_package=b"\x00\x01")),
    )
    # contents that do not match the envelope
    refused("invite.request.wrong_group", signed_by(NIA, replace(request, intake_generation=2)))
    refused("invite.request.wrong_group", signed_by(NIA, replace(request, group_id=b"other group")))
    # not a request inside
    refused("invite.request.malformed", seal_raw(b"\x02", bytes(64)))


def test_requests_checked_against_the_group() -> None:
    refused("invite.request.answers_mismatch", PENDING.sealed, questions=("only one?",))
    refused("invite.link.revoked", PENDING.sealed, settings=SETTINGS.without_link(LINK.link_id))
    full = (
        SETTINGS.with_use_counted(LINK.link_id)
        .with_use_counted(LINK.link_id)
        .with_use_counted(LINK.link_id)
    )
    refused("invite.link.used_up", PENDING.sealed, settings=full)
    changed_rules = SETTINGS.with_rules(b"\x05" * 32)
    refused("invite.request.rules_not_accepted", PENDING.sealed, settings=changed_rules)
    open_link = settings_with(entry_for(LINK, LinkMode.OPEN))
    refused("invite.request.wrong_group", PENDING.sealed, settings=open_link)
    bad_acceptance = replace(PENDING.request, acceptance=bytes(64))
    refused("invite.request.rules_not_accepted", signed_by(NIA, bad_acceptance))


def test_replays_are_refused() -> None:
    log = JoinRequestLog()
    request = open_(PENDING.sealed)
    log.check(request, now=NOW, max_age=14 * 86400)
    log.mark_handled(request)
    # the relay hands the same sealed request to a moderator again
    with pytest.raises(InviteRefused) as info:
        log.check(open_(PENDING.sealed), now=NOW + 60, max_age=14 * 86400)
    assert info.value.rule == "invite.request.replayed"
    # a new request id around the same (already used) KeyPackage is a replay too
    again = make(seed=3)
    assert again.request.request_id != request.request_id
    with pytest.raises(InviteRefused) as info:
        log.check(open_(again.sealed), now=NOW, max_age=14 * 86400)
    assert info.value.rule == "invite.request.replayed"
    # a different person's request passes
    log.check(open_(make(who=EVE, seed=4).sealed), now=NOW, max_age=14 * 86400)


def test_stale_requests() -> None:
    log = JoinRequestLog()
    request = PENDING.request
    for now in (NOW + 14 * 86400 + 1, NOW - 601):
        with pytest.raises(InviteRefused) as info:
            log.check(request, now=now, max_age=14 * 86400)
        assert info.value.rule == "invite.request.stale"


def test_make_refuses_misuse() -> None:
    with pytest.raises(UsageError, match="one answer per question"):
        make(answers=("one",))
    with pytest.raises(UsageError, match="only approval links"):
        make(preview=preview_for(LINK, ANA, LinkMode.OPEN), answers=())


def test_decline_round_trip_and_refusals() -> None:
    request = open_(PENDING.sealed)
    sealed = seal_decline(request, "The group is full right now, sorry.", SeededRandom(6))
    assert open_decline(sealed, PENDING) == "The group is full right now, sorry."
    assert b"full" not in sealed
    assert open_decline(seal_decline(request, "", SeededRandom(7)), PENDING) == ""
    other = make(who=EVE, seed=5)
    with pytest.raises(InviteRefused) as info:
        open_decline(sealed, other)
    assert info.value.rule == "invite.decline.malformed"
    changed = bytearray(sealed)
    changed[-1] ^= 1
    with pytest.raises(InviteRefused) as info:
        open_decline(bytes(changed), PENDING)
    assert info.value.rule == "invite.decline.undecryptable"
    with pytest.raises(InviteRefused) as info:
        open_decline(b"\x01" * 10, PENDING)
    assert info.value.rule == "invite.decline.malformed"
    with pytest.raises(UsageError):
        seal_decline(request, "x" * 1001, SeededRandom(1))


@given(st.binary(max_size=400))
def test_open_raises_only_refusals(data: bytes) -> None:
    with pytest.raises(InviteRefused):
        open_(data)


@given(st.binary(max_size=400))
def test_request_decoder_is_bounded_and_typed(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        JoinRequest.from_bytes(data)


@given(st.integers(0, len(PENDING.request.to_bytes()) - 1), st.integers(1, 255))
def test_request_decoder_on_mutations(at: int, xor: int) -> None:
    data = bytearray(PENDING.request.to_bytes())
    data[at] ^= xor
    with contextlib.suppress(DecodeError):
        JoinRequest.from_bytes(bytes(data))


@given(st.binary(max_size=200))
def test_open_decline_raises_only_refusals(data: bytes) -> None:
    with pytest.raises(InviteRefused):
        open_decline(data, PENDING)
