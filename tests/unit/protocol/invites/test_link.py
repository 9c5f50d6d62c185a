"""Invite links: format, derivations, the strict parser and its typed errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import UsageError
from cove.protocol.invites import (
    InviteLink,
    InviteLinkError,
    canonical_relay_url,
    capability_matches,
    capability_verifier,
    derive_link_keys,
    inviter_pin,
    link_id_from_text,
    link_id_text,
    new_invite_link,
    parse_invite_link,
)
from cove.protocol.invites.link import MAX_LINK_CHARS

from .helpers import RELAY, link_for, person

ANA = person("ana", 1)
LINK = link_for(ANA)


def refused(text: object, code: str, message: str, **kw: str) -> None:
    with pytest.raises(InviteLinkError) as info:
        parse_invite_link(text, **kw)
    assert info.value.code == code
    assert str(info.value) == f"{message} (InviteLink)"


def test_format_and_round_trip() -> None:
    url = LINK.url
    head, fragment = url.split("#")
    assert head.startswith(f"{RELAY}/j/") and len(head.rsplit("/", 1)[1]) == 16
    assert len(fragment) == 42 and fragment == fragment.lower()
    assert parse_invite_link(url) == LINK
    assert LINK.link_id_text == head.rsplit("/", 1)[1]
    assert link_id_from_text(LINK.link_id_text.upper()) == LINK.link_id
    assert link_id_text(LINK.link_id) == LINK.link_id_text


def test_typed_forms_are_accepted() -> None:
    url = LINK.url
    assert parse_invite_link(f"  {url}\n") == LINK
    assert parse_invite_link(url.upper()) == LINK
    assert parse_invite_link(url.removeprefix("https://")) == LINK
    assert parse_invite_link(url.replace("relay.example.org", "relay.example.org:443")) == LINK


def test_secret_never_in_repr_or_str() -> None:
    fragment = LINK.url.split("#")[1]
    for text in (repr(LINK), str(LINK), repr(LINK.keys())):
        assert fragment not in text and LINK.secret.hex() not in text
        assert LINK.keys().preview_key.hex() not in text
    assert "<secret hidden>" in repr(LINK)


def test_derivations_are_distinct_and_deterministic() -> None:
    k = LINK.keys()
    assert k == derive_link_keys(LINK.secret, LINK.pin)
    values = [k.link_id, k.preview_key, k.capability, k.groupinfo_private, k.signing_private]
    assert len(set(values)) == len(values)
    assert k.link_id == LINK.link_id and len(k.link_id) == 10
    other = link_for(ANA, seed=8).keys()
    assert other.preview_key != k.preview_key
    # the pin is part of the key material: another inviter, other keys
    assert derive_link_keys(LINK.secret, bytes(10)).preview_key != k.preview_key


def test_inviter_pin() -> None:
    assert LINK.pin == inviter_pin("ana", ANA.identity_key)
    assert LINK.pins("ana", ANA.identity_key)
    assert not LINK.pins("ana", person("eve", 2).identity_key)
    assert not LINK.pins("anna", ANA.identity_key)


def test_capability_verifier() -> None:
    cap = LINK.keys().capability
    verifier = capability_verifier(cap)
    assert verifier == LINK.keys().capability_verifier
    assert capability_matches(cap, verifier)
    assert not capability_matches(bytes(32), verifier)
    assert not capability_matches(cap[:31], verifier)
    assert not capability_matches("x", verifier)  # type: ignore[arg-type]


def test_new_link_uses_the_rng() -> None:
    a = new_invite_link(RELAY, "ana", ANA.identity_key, SeededRandom(1))
    b = new_invite_link(RELAY, "ana", ANA.identity_key, SeededRandom(2))
    assert a.secret != b.secret and a.link_id != b.link_id


def test_constructor_checks() -> None:
    with pytest.raises(UsageError, match="does not belong"):
        InviteLink(RELAY, bytes(10), LINK.secret, LINK.pin)
    with pytest.raises(UsageError, match="16 bytes"):
        derive_link_keys(b"short", LINK.pin)
    with pytest.raises(UsageError, match="10 bytes"):
        derive_link_keys(LINK.secret, b"short")


@pytest.mark.parametrize(
    ("given_url", "canonical"),
    [
        ("https://Relay.Example.ORG/", "https://relay.example.org"),
        ("relay.example.org:8443/Cove/", "https://relay.example.org:8443/cove"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:80", "http://localhost"),
        ("https://[::1]:443", "https://[::1]"),
    ],
)
def test_canonical_relay_url(given_url: str, canonical: str) -> None:
    assert canonical_relay_url(given_url) == canonical


def test_link_under_a_path_prefix() -> None:
    link = new_invite_link("https://example.org/cove", "ana", ANA.identity_key, SeededRandom(3))
    assert link.url.startswith("https://example.org/cove/j/")
    assert parse_invite_link(link.url) == link


def test_every_refusal_has_its_code_and_message() -> None:
    url = LINK.url
    head, fragment = url.split("#")
    refused(42, "not_text", "an invite link is text")
    refused("x" * 3000, "too_long", f"an invite link is at most {MAX_LINK_CHARS} characters")
    refused(
        " " * 10 + "x" * 600, "too_long", f"an invite link is at most {MAX_LINK_CHARS} characters"
    )
    refused(
        url.replace("/j/", "/j /"),
        "not_a_link",
        "an invite link has no spaces or special characters",
    )
    refused(
        "https://relay.example.org/", "not_a_link", "this is not a Cove invite link (no /j/ in it)"
    )
    refused(head, "secret", "the link is incomplete: the part after # is missing")
    refused(head + "?x=1#" + fragment, "path", "an invite link has no ? part")
    refused("ftp://" + url.removeprefix("https://"), "scheme", "a Cove link starts with https://")
    refused(
        url.replace("https://", "http://"),
        "scheme",
        "a Cove link to another computer must use https://",
    )
    refused(
        url.replace("relay.example.org", "a@relay.example.org"),
        "host",
        "the link's address must not contain a user name",
    )
    refused(
        url.replace("relay.example.org", "relay_example.org"),
        "host",
        "the relay's address is malformed",
    )
    refused(
        url.replace("relay.example.org", "relay.example.org:99999"),
        "host",
        "the relay's port is malformed",
    )
    refused(
        url.replace("relay.example.org", "relay.example.org/a%20b"),
        "path",
        "the relay's address has an unusual path",
    )
    refused(url.replace("/j/", "//j/"), "path", "the relay's address has an unusual path")
    refused(
        head[:-1] + "#" + fragment, "link_id", "the link is mistyped: the part after /j/ is wrong"
    )
    refused(
        head[:-1] + "1#" + fragment, "link_id", "the link is mistyped: the part after /j/ is wrong"
    )
    refused(head + "#" + fragment[:-1], "secret", "the link is mistyped: the part after # is wrong")
    refused(
        head + "#" + fragment + "a", "secret", "the link is mistyped: the part after # is wrong"
    )
    # 42 base32 characters carry 210 bits; the 2 unused bits must be zero (one spelling only)
    last = "abcdefghijklmnopqrstuvwxyz234567"
    flipped = fragment[:-1] + last[last.index(fragment[-1]) ^ 1]
    refused(head + "#" + flipped, "secret", "the link is mistyped: the part after # is wrong")
    swapped = fragment[:5] + ("a" if fragment[5] != "a" else "b") + fragment[6:]
    refused(
        head + "#" + swapped,
        "mismatch",
        "the link is mistyped: its two parts do not belong together",
    )
    refused(
        url,
        "wrong_relay",
        "this link is for the relay https://relay.example.org, not this one",
        expected_relay="https://other.example.org",
    )
    assert parse_invite_link(url, expected_relay="RELAY.example.org/") == LINK


def test_link_id_from_text_refusals() -> None:
    for bad in ("", "a" * 15, "a" * 17, "0" * 16, 5):
        with pytest.raises(InviteLinkError) as info:
            link_id_from_text(bad)  # type: ignore[arg-type]
        assert info.value.code == "link_id"


@given(st.text(max_size=700))
def test_parser_never_raises_anything_else(text: str) -> None:
    try:
        parse_invite_link(text)
    except InviteLinkError as exc:
        assert exc.code in {
            "too_long",
            "not_text",
            "not_a_link",
            "scheme",
            "host",
            "path",
            "link_id",
            "secret",
            "mismatch",
            "wrong_relay",
        }


@given(st.integers(0, len(LINK.url) - 1), st.characters(codec="ascii"))
def test_a_changed_character_is_refused_or_harmless(at: int, char: str) -> None:
    url = LINK.url
    changed = url[:at] + char + url[at + 1 :]
    try:
        parsed = parse_invite_link(changed)
    except InviteLinkError:
        return
    # accepted only if it is still the same link (case, a spelling of the relay)
    assert (parsed.link_id, parsed.secret, parsed.pin) == (LINK.link_id, LINK.secret, LINK.pin)


@given(
    st.binary(min_size=16, max_size=16),
    st.sampled_from(["https://a.example", "http://localhost:1"]),
)
def test_any_made_link_round_trips(secret: bytes, relay: str) -> None:
    class Fixed:
        def random_bytes(self, n: int) -> bytes:
            return secret[:n]

    link = new_invite_link(relay, "ana", ANA.identity_key, Fixed())
    assert parse_invite_link(link.url) == link
    assert parse_invite_link(link.url.upper()) == link
