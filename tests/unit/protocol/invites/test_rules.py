"""Rules: the salted hash, signed acceptances, the ledger and the post rule."""

from __future__ import annotations

import hashlib

import pytest

from cove.protocol.codec import Writer
from cove.protocol.errors import UsageError
from cove.protocol.invites import (
    InviteRefused,
    RulesLedger,
    check_may_post,
    check_rules_text,
    rules_hash,
    sign_acceptance,
    verify_acceptance,
)

from .helpers import GROUP_ID, RULES_SALT, RULES_TEXT, current_rules, person

ANA = person("ana", 1)
NIA = person("nia", 3)
V1 = current_rules()
V2 = (2, rules_hash(GROUP_ID, 2, RULES_SALT, RULES_TEXT + " No selling."))


def rule_of(exc: pytest.ExceptionInfo[InviteRefused]) -> str:
    return exc.value.rule


def test_rules_hash_is_the_documented_construction() -> None:
    w = Writer()
    for part in (b"cove rules v1", GROUP_ID):
        w.opaque(part)
    w.uint32(1)
    w.opaque(RULES_SALT)
    w.opaque(RULES_TEXT.encode())
    assert rules_hash(GROUP_ID, 1, RULES_SALT, RULES_TEXT) == hashlib.sha256(w.getvalue()).digest()
    # salt, version, group and text all matter
    assert rules_hash(GROUP_ID, 1, bytes(16), RULES_TEXT) != V1[1]
    assert rules_hash(GROUP_ID, 2, RULES_SALT, RULES_TEXT) != V1[1]
    assert rules_hash(b"other", 1, RULES_SALT, RULES_TEXT) != V1[1]
    with pytest.raises(UsageError, match="rules version"):
        rules_hash(GROUP_ID, 0, RULES_SALT, RULES_TEXT)
    with pytest.raises(UsageError, match="rules text"):
        rules_hash(GROUP_ID, 1, RULES_SALT, "x" * 16385)


def test_rules_text_check() -> None:
    check_rules_text(V1, GROUP_ID, 1, RULES_SALT, RULES_TEXT)
    for current, text in ((V1, RULES_TEXT + "!"), (None, RULES_TEXT), (V2, RULES_TEXT)):
        with pytest.raises(InviteRefused) as info:
            check_rules_text(current, GROUP_ID, 1, RULES_SALT, text)
        assert rule_of(info) == "invite.rules.text_mismatch"


def test_acceptance_signatures() -> None:
    sig = sign_acceptance(NIA.identity_private, GROUP_ID, *V1)
    verify_acceptance(NIA.identity_key, GROUP_ID, *V1, sig)
    for args in (
        (ANA.identity_key, GROUP_ID, *V1, sig),  # another person
        (NIA.identity_key, b"other", *V1, sig),  # another group
        (NIA.identity_key, GROUP_ID, *V2, sig),  # another version
        (NIA.identity_key, GROUP_ID, *V1, bytes(64)),
    ):
        with pytest.raises(InviteRefused) as info:
            verify_acceptance(*args)  # type: ignore[arg-type]
        assert rule_of(info) == "invite.rules.bad_acceptance"


def test_post_rule() -> None:
    check_may_post(None, None)  # a group without rules
    check_may_post(V1, V1)
    for accepted in (None, (1, bytes(32)), (0, b"")):
        with pytest.raises(InviteRefused) as info:
            check_may_post(V1, accepted)
        assert rule_of(info) == "invite.rules.not_accepted"
        assert (
            str(info.value)
            == "[invite.rules.not_accepted] the sender has not accepted the current rules"
        )


def test_ledger_re_acceptance_after_a_change() -> None:
    ledger = RulesLedger(GROUP_ID)
    ledger.record(NIA.identity_key, *V1, sign_acceptance(NIA.identity_private, GROUP_ID, *V1))
    ledger.may_post(V1, NIA.identity_key)
    # moderators change the rules: nia must accept again before her next post
    with pytest.raises(InviteRefused) as info:
        ledger.may_post(V2, NIA.identity_key)
    assert rule_of(info) == "invite.rules.not_accepted"
    ledger.record(NIA.identity_key, *V2, sign_acceptance(NIA.identity_private, GROUP_ID, *V2))
    ledger.may_post(V2, NIA.identity_key)
    # a late (replayed) acceptance of the old version does not undo the new one
    ledger.record(NIA.identity_key, *V1, sign_acceptance(NIA.identity_private, GROUP_ID, *V1))
    assert ledger.version_of(NIA.identity_key) == 2
    # someone else's acceptance cannot be recorded for nia
    with pytest.raises(InviteRefused) as info:
        ledger.record(NIA.identity_key, *V2, sign_acceptance(ANA.identity_private, GROUP_ID, *V2))
    assert rule_of(info) == "invite.rules.bad_acceptance"
    with pytest.raises(InviteRefused):
        ledger.may_post(V1, ANA.identity_key)
    ledger.record(ANA.identity_key, *V1, sign_acceptance(ANA.identity_private, GROUP_ID, *V1))
    assert ledger.by_version() == {
        1: frozenset({ANA.identity_key}),
        2: frozenset({NIA.identity_key}),
    }
    assert ledger.version_of(b"\x00" * 32) is None
