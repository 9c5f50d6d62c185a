"""The sealed, signed link preview: round trip, forgeries and alterations detected."""

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
    LinkMode,
    LinkPreview,
    check_preview_current,
    open_preview,
    seal_preview,
)
from cove.protocol.invites.link import INVITE_SUITE
from cove.protocol.invites.preview import PREVIEW_LABEL, preview_tbs

from .helpers import NOW, link_for, person, preview_for

ANA = person("ana", 1)
EVE = person("eve", 2)
LINK = link_for(ANA)
PREVIEW = preview_for(LINK, ANA)
SEALED = seal_preview(PREVIEW, LINK, ANA.identity_private, SeededRandom(5))


def refused(rule: str, sealed: bytes, link=LINK) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InviteRefused) as info:
        open_preview(sealed, link)
    assert info.value.rule == rule


def reseal(inner: bytes, nonce: bytes = bytes(12)) -> bytes:
    """What a holder of the link (who knows the preview key) can build."""
    key = LINK.keys().preview_key
    return (
        b"\x01" + nonce + INVITE_SUITE.aead_encrypt(key, nonce, PREVIEW_LABEL + LINK.link_id, inner)
    )


def inner_of(body: bytes, signature: bytes) -> bytes:
    w = Writer()
    w.opaque(body)
    w.opaque(signature)
    raw = w.getvalue()
    return raw + bytes(padded_length(len(raw), 1024) - len(raw))


def test_round_trip() -> None:
    assert open_preview(SEALED, LINK) == PREVIEW
    assert LinkPreview.from_bytes(PREVIEW.to_bytes()) == PREVIEW
    opened = open_preview(
        seal_preview(
            preview_for(LINK, ANA, LinkMode.OPEN), LINK, ANA.identity_private, SeededRandom(1)
        ),
        LINK,
    )
    assert opened.mode == LinkMode.OPEN and opened.intake is None


def test_sealed_preview_hides_its_content() -> None:
    for needle in (b"lupus", b"Be kind", b"ana", b"hear about"):
        assert needle not in SEALED
    # padded: a longer description up to the bucket gives the same size
    longer = replace(PREVIEW, description=PREVIEW.description + "!")
    assert len(seal_preview(longer, LINK, ANA.identity_private, SeededRandom(5))) == len(SEALED)


def test_relay_alterations_are_detected() -> None:
    for at in (0, 1, 12, 13, len(SEALED) // 2, len(SEALED) - 1):
        changed = bytearray(SEALED)
        changed[at] ^= 1
        rule = "invite.preview.malformed" if at == 0 else "invite.preview.undecryptable"
        refused(rule, bytes(changed))
    refused("invite.preview.undecryptable", SEALED[:-1])
    refused("invite.preview.malformed", b"")
    refused("invite.preview.malformed", b"\x01" * 10)


def test_another_links_preview_does_not_open() -> None:
    other = link_for(ANA, seed=9)
    refused("invite.preview.undecryptable", SEALED, other)


def test_forgery_by_a_holder_of_the_link_is_detected() -> None:
    # eve holds the link (so she knows the preview key) and signs her own preview
    fake = replace(
        PREVIEW,
        group_name="Free pills",
        inviter_handle="eve",
        inviter_identity_key=EVE.identity_key,
    )
    body = fake.to_bytes()
    sig = INVITE_SUITE.sign(EVE.identity_private, preview_tbs(body))
    refused("invite.preview.inviter_mismatch", reseal(inner_of(body, sig)))
    # she keeps ana's name and key but cannot sign for her
    altered = replace(PREVIEW, rules_text="Anything goes.").to_bytes()
    refused("invite.preview.bad_signature", reseal(inner_of(altered, sig)))
    # ana's genuine signature (of the unaltered preview) does not cover the altered text
    genuine_sig = INVITE_SUITE.sign(ANA.identity_private, preview_tbs(PREVIEW.to_bytes()))
    refused("invite.preview.bad_signature", reseal(inner_of(altered, genuine_sig)))
    # and a genuine preview of another link re-sealed under this one
    other = link_for(ANA, seed=9)
    other_body = replace(PREVIEW, link_id=other.link_id).to_bytes()
    other_sig = INVITE_SUITE.sign(ANA.identity_private, preview_tbs(other_body))
    refused("invite.preview.wrong_link", reseal(inner_of(other_body, other_sig)))


def test_malformed_inner_content() -> None:
    body = PREVIEW.to_bytes()
    sig = INVITE_SUITE.sign(ANA.identity_private, preview_tbs(body))
    good = inner_of(body, sig)
    refused("invite.preview.malformed", reseal(good + b"\x00" * 5))
    refused("invite.preview.malformed", reseal(good[:-1] + b"\x01"))
    refused("invite.preview.malformed", reseal(b"\x00" * 1024))
    bad_body = b"\x02" + body[1:]
    refused("invite.preview.malformed", reseal(inner_of(bad_body, sig)))


def test_seal_refuses_misuse() -> None:
    with pytest.raises(UsageError, match="another link"):
        seal_preview(PREVIEW, link_for(ANA, seed=9), ANA.identity_private, SeededRandom(1))
    with pytest.raises(UsageError, match="signing key"):
        seal_preview(PREVIEW, LINK, EVE.identity_private, SeededRandom(1))
    eve_preview = replace(PREVIEW, inviter_handle="eve", inviter_identity_key=EVE.identity_key)
    with pytest.raises(UsageError, match="pins another inviter"):
        seal_preview(eve_preview, LINK, EVE.identity_private, SeededRandom(1))


def test_expiry() -> None:
    check_preview_current(PREVIEW, NOW)
    check_preview_current(PREVIEW, PREVIEW.expires_at - 1)
    with pytest.raises(InviteRefused) as info:
        check_preview_current(PREVIEW, PREVIEW.expires_at)
    assert info.value.rule == "invite.link.expired"
    assert "this invite link has expired" in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"group_name": ""}, "group_name"),
        ({"group_name": "two\nlines"}, "group_name"),
        ({"description": "x" * 2001}, "description"),
        ({"questions": ("q",) * 9}, "questions"),
        ({"questions": ("",)}, "questions"),
        ({"intake": None}, "intake key"),
        ({"inviter_handle": "ännä"}, "ASCII"),
        ({"rules_salt": b"short"}, "rules_salt"),
        ({"max_uses": 0}, "max_uses"),
        ({"link_id": b"x"}, "link_id"),
        ({"group_id": b""}, "group_id"),
    ],
)
def test_preview_fields_are_checked(change: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        replace(PREVIEW, **change)


def test_open_links_ask_no_questions() -> None:
    with pytest.raises(UsageError, match="no questions"):
        replace(preview_for(LINK, ANA, LinkMode.OPEN), questions=("q",))


@given(st.binary(max_size=2000))
def test_preview_decoder_is_bounded_and_typed(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        LinkPreview.from_bytes(data)


@given(st.integers(0, len(PREVIEW.to_bytes()) - 1), st.integers(1, 255))
def test_preview_decoder_on_mutations(at: int, xor: int) -> None:
    data = bytearray(PREVIEW.to_bytes())
    data[at] ^= xor
    with contextlib.suppress(DecodeError):
        LinkPreview.from_bytes(bytes(data))


@given(st.binary(max_size=3000))
def test_open_preview_raises_only_refusals(data: bytes) -> None:
    with pytest.raises(InviteRefused):
        open_preview(data, LINK)


def test_preview_repr_hides_content() -> None:
    text = repr(PREVIEW)
    for needle in ("lupus", "Be kind", "hear about", "Welcome"):
        assert needle not in text
