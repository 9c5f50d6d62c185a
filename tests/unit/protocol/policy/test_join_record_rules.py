"""The record rules of joining: rules text (moderators, the settings' current hash),
rules acceptances (the sender's identity key), welcome messages and history shares
(moderators)."""

from __future__ import annotations

from cove.protocol.app.join_records import HistoryShare, Rules, RulesAcceptance, WelcomeMessage
from cove.protocol.invites import JoinSettings, rules_hash, sign_acceptance
from cove.protocol.policy import Decision, authorize_record

from .people import P, World, refused

GID = b"g" * 16
ID = b"\x05" * 16
SALT = b"s" * 16
TEXT = "Be kind. What is said here stays here."
SETTINGS = JoinSettings().with_rules(rules_hash(GID, 1, SALT, TEXT))


def decide(sender: str, record: object, settings: JoinSettings | None = SETTINGS) -> Decision:
    w = World.make()
    return authorize_record(
        w.policy,
        w.roster,
        P(sender).identity_key,
        record,  # type: ignore[arg-type]
        group_id=GID,
        join_settings=settings,
    )


def rules(text: str = TEXT, version: int = 1) -> Rules:
    return Rules(id=ID, sent_at=0, version=version, salt=SALT, text=text)


def acceptance(signer: str, version: int = 1, group_id: bytes = GID) -> RulesAcceptance:
    h = rules_hash(GID, 1, SALT, TEXT)
    sig = sign_acceptance(P(signer).identity_private, group_id, version, h)
    return RulesAcceptance(id=ID, sent_at=0, version=version, rules_hash=h, signature=sig)


def test_rules_come_from_moderators_and_match_the_settings() -> None:
    assert decide("mona", rules()).allowed
    assert decide("olga", rules()).allowed
    text = refused(decide("ana", rules()), "policy.record.rules_requires_moderator")
    assert text == (
        "ana tried to set the group's rules — refused: "
        "only moderators and owners can set the group's rules"
    )
    refused(decide("mona", rules("Anything goes.")), "policy.record.rules_mismatch")
    refused(decide("mona", rules(version=2)), "policy.record.rules_mismatch")
    refused(decide("mona", rules(), settings=None), "policy.record.rules_mismatch")
    refused(decide("mona", rules(), settings=JoinSettings()), "policy.record.rules_mismatch")


def test_acceptances_are_signed_by_the_senders_identity_key() -> None:
    assert decide("ana", acceptance("ana")).allowed
    # cara posts ana's acceptance as her own: not her signature
    text = refused(decide("cara", acceptance("ana")), "policy.record.acceptance_invalid")
    assert text.startswith("cara tried to accept the rules (version 1)")
    refused(
        decide("ana", acceptance("ana", group_id=b"h" * 16)), "policy.record.acceptance_invalid"
    )
    refused(decide("eve", acceptance("eve")), "policy.record.sender_not_member")


def test_welcome_messages_and_history_shares_come_from_moderators() -> None:
    welcome = WelcomeMessage(id=ID, sent_at=0, text="Welcome!", newcomer=P("eve").identity_key)
    share = HistoryShare(
        id=ID, sent_at=0, newcomer=P("eve").identity_key, level=1, blob_id=ID,
        sha256=b"h" * 32, size=10, chunk_size=1024, kem_output=b"k" * 32, sealed_key=b"x" * 48,
    )  # fmt: skip
    assert decide("mona", welcome).allowed and decide("olga", share).allowed
    refused(decide("ana", welcome), "policy.record.welcome_requires_moderator")
    refused(decide("cara", share), "policy.record.history_requires_moderator")
