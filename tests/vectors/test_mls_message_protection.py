"""Runner for message-protection.json (RFC 9420 §6, §6.1, §6.2, §6.3).

Format: per case ``cipher_suite``; the GroupContext inputs ``group_id``,
``epoch``, ``tree_hash``, ``confirmed_transcript_hash`` (no extensions);
``signature_priv``/``signature_pub``; ``encryption_secret``,
``sender_data_secret``, ``membership_key``; and for each of ``proposal``,
``commit`` and ``application`` the raw object (a Proposal, a Commit, or the
application bytes) with its protected forms as MLSMessages: ``*_pub`` (a
PublicMessage; none for the application) and ``*_priv`` (a PrivateMessage).
The sender is leaf 1 of a two-leaf group.

We unprotect every given message and compare its content with the raw object;
then protect the raw object ourselves and check that our message unprotects
to the same content (not byte equality: the reuse guard is random). An
application message sent as a PublicMessage must be refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.errors import ValidationError
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.framing import (
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
    WireFormat,
)
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.message_protection import (
    protect_private,
    protect_public,
    sign_content,
    unprotect_private,
    unprotect_public,
)
from cove.protocol.mls.proposals import Proposal
from cove.protocol.mls.secret_tree import SecretTree
from tests.support.vectors import cases, h, private_key


def _raw(kind: str, data: bytes) -> Any:
    if kind == "proposal":
        return Proposal.from_bytes(data)
    if kind == "commit":
        return Commit.from_bytes(data)
    return data


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("message-protection.json"))
def test_message_protection(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    ctx = GroupContext(
        cipher_suite=case["cipher_suite"],
        group_id=h(case["group_id"]),
        epoch=case["epoch"],
        tree_hash=h(case["tree_hash"]),
        confirmed_transcript_hash=h(case["confirmed_transcript_hash"]),
    )
    sig_pub = h(case["signature_pub"])
    membership_key = h(case["membership_key"])
    sd_secret = h(case["sender_data_secret"])
    rng = SeededRandom(b"message-protection")

    def key_for(content: FramedContent) -> bytes:
        assert content.sender == Sender.member(1)
        return sig_pub

    def tree() -> SecretTree:
        return SecretTree(suite, h(case["encryption_secret"]), 2)

    for kind in ("proposal", "commit", "application"):
        raw = _raw(kind, h(case[kind]))
        given_priv = MLSMessage.from_bytes(h(case[f"{kind}_priv"])).body
        assert isinstance(given_priv, PrivateMessage)
        got = unprotect_private(suite, given_priv, tree(), sd_secret, ctx, key_for)
        assert got.content.content == raw
        tag = got.auth.confirmation_tag

        if kind != "application":
            given_pub = MLSMessage.from_bytes(h(case[f"{kind}_pub"])).body
            assert isinstance(given_pub, PublicMessage)
            got_pub = unprotect_public(suite, given_pub, ctx, membership_key, key_for)
            assert got_pub.content.content == raw

        content = FramedContent(ctx.group_id, ctx.epoch, Sender.member(1), b"", raw)
        signed = sign_content(
            suite,
            WireFormat.PRIVATE_MESSAGE,
            content,
            private_key(case["cipher_suite"], case["signature_priv"]),
            ctx,
            tag,
        )
        ours = protect_private(suite, signed, tree(), sd_secret, rng)
        ours = MLSMessage.from_bytes(MLSMessage(ours).to_bytes()).body
        assert isinstance(ours, PrivateMessage)
        back = unprotect_private(suite, ours, tree(), sd_secret, ctx, key_for)
        assert back.content == content

        if kind == "application":
            # An application message as a PublicMessage is refused (§6.2).
            signed_pub = sign_content(
                suite,
                WireFormat.PUBLIC_MESSAGE,
                content,
                private_key(case["cipher_suite"], case["signature_priv"]),
                ctx,
            )
            forged = PublicMessage(content, signed_pub.auth, b"\x00" * suite.hash_length)
            with pytest.raises(ValidationError):
                unprotect_public(suite, forged, ctx, membership_key, key_for)
        else:
            signed_pub = sign_content(
                suite,
                WireFormat.PUBLIC_MESSAGE,
                content,
                private_key(case["cipher_suite"], case["signature_priv"]),
                ctx,
                tag,
            )
            pub = protect_public(suite, signed_pub, ctx, membership_key)
            pub = MLSMessage.from_bytes(MLSMessage(pub).to_bytes()).body
            assert isinstance(pub, PublicMessage)
            assert unprotect_public(suite, pub, ctx, membership_key, key_for).content == content
