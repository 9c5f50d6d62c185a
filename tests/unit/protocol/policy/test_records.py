"""authorize_record: edits, deletions, reactions, renames, posts; registration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from cove.protocol.app.records import (
    DirectMessage,
    Edit,
    GroupMetadata,
    Post,
    Reaction,
    Redaction,
    ThreadRoot,
)
from cove.protocol.errors import UsageError
from cove.protocol.policy import (
    DEFAULT_RECORD_RULES,
    RULES,
    Capability,
    Decision,
    Rule,
    authorize_record,
    register_record_rule,
    requires,
    rule,
)

from .people import P, World, refused

ID = b"\x07" * 16


def decide(sender: str, record: object, author: str | None = None, **kw: object) -> Decision:
    w = World.make()
    return authorize_record(
        w.policy,
        w.roster,
        P(sender).identity_key,
        record,  # type: ignore[arg-type]
        target_author=P(author).identity_key if author else None,
        target_handle=author,
        **kw,  # type: ignore[arg-type]
    )


def test_posts_by_members() -> None:
    for record in (
        ThreadRoot(id=ID, sent_at=0, title="t", body="b"),
        Post(id=ID, sent_at=0, thread=ID, body="b"),
        DirectMessage(id=ID, sent_at=0, body="b"),
    ):
        assert decide("cara", record).allowed
    text = refused(
        decide("eve", Post(id=ID, sent_at=0, thread=ID, body="b")),
        "policy.record.sender_not_member",
    )
    assert (
        text
        == "someone outside the group tried to post — refused: only members of the group can post"
    )
    late = decide("eve", Post(id=ID, sent_at=0, thread=ID, body="b"), sender_handle="eve")
    assert refused(late, "policy.record.sender_not_member").startswith("eve tried to post")


def test_edit_only_by_author() -> None:
    edit = Edit(id=ID, sent_at=0, target=ID, body="x")
    assert decide("ana", edit, "ana").allowed
    text = refused(decide("cara", edit, "ana"), "policy.record.edit_not_author")
    assert (
        text == "cara tried to edit a message by ana — refused: only the author can edit a message"
    )
    refused(decide("olga", edit, "ana"), "policy.record.edit_not_author")  # not even the owner
    refused(decide("ana", edit), "policy.record.target_unknown")


def test_deletion_by_author_or_moderator() -> None:
    redaction = Redaction(id=ID, sent_at=0, target=ID)
    assert decide("ana", redaction, "ana").allowed
    assert decide("mona", redaction, "ana").allowed  # moderator redaction
    assert decide("olga", redaction, "mona").allowed
    text = refused(decide("cara", redaction, "ana"), "policy.record.delete_not_allowed")
    assert text == (
        "cara tried to delete a message by ana — refused: "
        "only the author or a moderator can delete a message"
    )
    refused(decide("mona", redaction), "policy.record.target_unknown")


def test_reactions_and_renames() -> None:
    reaction = Reaction(id=ID, sent_at=0, target=ID, emoji="+1")
    assert decide("cara", reaction, "ana").allowed
    refused(decide("cara", reaction), "policy.record.target_unknown")
    rename = GroupMetadata(id=ID, sent_at=0, name="Cara's group")
    assert decide("mona", rename).allowed
    refused(decide("cara", rename), "policy.record.metadata_requires_moderator")


@dataclass(frozen=True)
class Pin:
    """A stand-in for a future record type (8 is reserved for pins)."""

    RECORD_TYPE: ClassVar[int] = 8
    target: bytes = ID


def test_unregistered_types_are_refused_and_features_register_rules() -> None:
    refused(decide("olga", Pin()), "policy.record.unregistered")
    pins = DEFAULT_RECORD_RULES.copy()
    pin_rule = Rule("policy.test.pin_requires_moderator", "only moderators can pin")
    pins.register(Pin.RECORD_TYPE, requires(Capability.CAN_PIN_MESSAGE, pin_rule, "pin a message"))
    assert decide("mona", Pin(), rules=pins).allowed
    text = refused(decide("cara", Pin(), rules=pins), "policy.test.pin_requires_moderator")
    assert text == "cara tried to pin a message — refused: only moderators can pin"
    with pytest.raises(UsageError, match="already has a rule"):
        pins.register(
            Pin.RECORD_TYPE, pin_rule_fn := requires(Capability.CAN_PIN_MESSAGE, pin_rule, "")
        )
    with pytest.raises(UsageError, match="already has a rule"):
        register_record_rule(2, pin_rule_fn)
    assert pin_rule.id not in RULES  # a feature's own rule table would register it


def test_rule_ids_are_unique_and_well_formed() -> None:
    with pytest.raises(UsageError, match="already defined"):
        rule("policy.add.requires_moderator", "again")
    with pytest.raises(UsageError, match="malformed"):
        rule("add.requires_moderator", "no prefix")
