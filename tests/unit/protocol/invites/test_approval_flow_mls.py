"""An approval-link join through real MLS, end to end at the protocol level:
link → preview → sealed request → moderator's checks → Add (counted) + Welcome →
rules, welcome and a titles-only history bundle in the new epoch → the newcomer
accepts the rules and replies to a thread created before she joined."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cove.protocol.app import Post, ThreadRoot, decode
from cove.protocol.app.join_records import HistoryShare, Rules, RulesAcceptance, WelcomeMessage
from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.errors import ProtocolError
from cove.protocol.identity import CoveCredentialValidator, CoveIdentity
from cove.protocol.invites import (
    JOIN_SETTINGS_EXTENSION,
    HistoryItem,
    HistoryLevel,
    InviteRefused,
    JoinRequestLog,
    JoinSettings,
    LinkMode,
    RulesLedger,
    build_bundle,
    check_bundle,
    check_join_settings_change,
    check_rules_text,
    make_join_request,
    new_invite_link,
    open_bundle,
    open_bundle_key,
    open_join_request,
    open_preview,
    parse_invite_link,
    rules_hash,
    seal_bundle,
    seal_bundle_key,
    seal_preview,
    sign_acceptance,
    with_join_settings,
)
from cove.protocol.mls.group import ApplicationMessage, Group
from cove.protocol.mls.key_package_bundle import KeyPackageBundle, default_capabilities
from cove.protocol.mls.leaf_node import Capabilities
from cove.protocol.mls.proposals import Add, GroupContextExtensions, Proposal

from .helpers import ED, GROUP_ID, NOW, RULES_SALT, RULES_TEXT, entry_for, intake, preview_for

VALIDATOR = CoveCredentialValidator()
SUITE = suite_for(1)


def caps() -> Capabilities:
    base = default_capabilities(1)
    return replace(base, extensions=(*base.extensions, JOIN_SETTINGS_EXTENSION))


def test_approval_join_with_titles_history_and_a_reply() -> None:
    rng = SeededRandom("approval flow")
    ana_id, _ = ED.generate_signature_key_pair(rng)
    ana_dev, ana_dev_pub = ED.generate_signature_key_pair(rng)
    ana = CoveIdentity.create("ana", ana_id, ana_dev_pub)
    link = new_invite_link("https://relay.example.org", "ana", ana.identity_key, rng)
    entry = entry_for(link, LinkMode.APPROVAL, max_uses=5)
    r_hash = rules_hash(GROUP_ID, 1, RULES_SALT, RULES_TEXT)
    settings = JoinSettings(HistoryLevel.TITLES, False, 1, r_hash, intake(1).public, (entry,))
    group = Group.create(
        1,
        GROUP_ID,
        ana.credential(),
        rng,
        signature_private=ana_dev,
        extensions=(settings.extension(),),
        capabilities=caps(),
        credential_validator=VALIDATOR,
        now=NOW,
    )
    # the group's past: a thread with a body, and the rules
    root = ThreadRoot(
        id=b"\x11" * 16, sent_at=NOW, title="Fatigue tips", body="What helps on bad days?"
    )
    rules = Rules(id=b"\x12" * 16, sent_at=NOW, version=1, salt=RULES_SALT, text=RULES_TEXT)
    past = [group.encrypt(root.encode()), group.encrypt(rules.encode())]

    # the organizer publishes the preview; the newcomer has only the link
    preview = replace(preview_for(link, _person_view(ana)), intake=intake(1).public)
    sealed_preview = seal_preview(preview, link, ana_id, rng)
    typed = parse_invite_link(link.url.upper(), expected_relay="relay.example.org")
    seen = open_preview(sealed_preview, typed)
    nia_id, _ = ED.generate_signature_key_pair(rng)
    nia_dev, nia_dev_pub = ED.generate_signature_key_pair(rng)
    nia = CoveIdentity.create("nia", nia_id, nia_dev_pub)
    nia_bundle = KeyPackageBundle.create(
        1, nia.credential(), rng, now=NOW, signature_private=nia_dev, capabilities=caps()
    )
    pending = make_join_request(
        seen,
        typed,
        handle="nia",
        identity_private=nia_id,
        key_package=nia_bundle.key_package_bytes(),
        answers=("My rheumatologist", "Company"),
        now=NOW,
        rng=rng,
    )

    # a moderator's client: open, check, refuse replays, approve with a counted Add
    requests = JoinRequestLog()
    request = open_join_request(
        pending.sealed,
        {1: intake(1)},
        group_id=GROUP_ID,
        settings=settings,
        questions=preview.questions,
    )
    requests.check(request, now=NOW + 60, max_age=14 * 86400)
    counted = settings.with_use_counted(entry.link_id)
    check_join_settings_change(
        settings.to_bytes(),
        counted.to_bytes(),
        may_manage=True,
        may_configure=False,
        pending_link_join=None,
    )
    out = group.commit(
        [
            Proposal(Add(nia_bundle.key_package)),
            Proposal(GroupContextExtensions(with_join_settings(group.extensions, counted))),
        ],
        now=NOW,
    )
    group.apply_pending_commit()
    requests.mark_handled(request)
    with pytest.raises(InviteRefused) as replay:
        requests.check(
            open_join_request(
                pending.sealed,
                {1: intake(1)},
                group_id=GROUP_ID,
                settings=counted,
                questions=preview.questions,
            ),
            now=NOW + 120,
            max_age=14 * 86400,
        )
    assert replay.value.rule == "invite.request.replayed"
    assert out.welcome is not None
    joined = Group.join(
        out.welcome,
        nia_bundle,
        rng,
        ratchet_tree=group.ratchet_tree(),
        credential_validator=VALIDATOR,
    )
    assert joined.epoch == group.epoch
    # what was sent before she joined stays out of her reach (MLS forward secrecy)
    for message in past:
        with pytest.raises(ProtocolError):
            joined.process(message)

    # in the new epoch: rules again, the greeting, and the history share
    nia_leaf = next(m for m in group.members() if m.signature_key == nia_dev_pub)
    bundle = build_bundle(
        GROUP_ID,
        nia.identity_key,
        HistoryLevel.TITLES,
        [
            HistoryItem(pos, NOW, ana.identity_key, "ana", rec.encode())
            for pos, rec in ((1, root), (2, rules))
        ],
        2,
    )
    sealed_bundle = seal_bundle(bundle, rng)
    kem_output, sealed_key = seal_bundle_key(
        SUITE,
        nia_leaf.encryption_key,
        group_id=GROUP_ID,
        epoch=group.epoch,
        newcomer=nia.identity_key,
        key=sealed_bundle.key,
        rng=rng,
    )
    share = HistoryShare(
        id=b"\x13" * 16,
        sent_at=NOW,
        newcomer=nia.identity_key,
        level=1,
        blob_id=b"\x14" * 16,
        sha256=sealed_bundle.sha256,
        size=sealed_bundle.size,
        chunk_size=sealed_bundle.chunk_size,
        kem_output=kem_output,
        sealed_key=sealed_key,
    )
    greeting = WelcomeMessage(
        id=b"\x15" * 16, sent_at=NOW, text="Welcome, nia!", newcomer=nia.identity_key
    )
    sent = [group.encrypt(r.encode()) for r in (rules, greeting, share)]

    # the newcomer's client
    received = []
    for message in sent:
        result = joined.process(message)
        assert isinstance(result, ApplicationMessage)
        received.append(decode(result.data))
    got_rules, got_greeting, got_share = received
    assert isinstance(got_rules, Rules) and isinstance(got_share, HistoryShare)
    assert isinstance(got_greeting, WelcomeMessage) and got_greeting.newcomer == nia.identity_key
    her_settings = JoinSettings.from_extensions(joined.extensions)
    assert her_settings is not None
    check_rules_text(
        her_settings.rules, GROUP_ID, got_rules.version, got_rules.salt, got_rules.text
    )
    key = open_bundle_key(
        SUITE,
        nia_bundle.encryption_private,
        group_id=GROUP_ID,
        epoch=joined.epoch,
        newcomer=nia.identity_key,
        kem_output=got_share.kem_output,
        sealed_key=got_share.sealed_key,
    )
    shared = open_bundle(
        sealed_bundle.blob,
        key,
        sha256=got_share.sha256,
        size=got_share.size,
        chunk_size=got_share.chunk_size,
    )
    check_bundle(shared, level=her_settings.history, group_id=GROUP_ID, newcomer=nia.identity_key)
    old_root = decode(shared.items[0].record)
    assert (
        isinstance(old_root, ThreadRoot)
        and old_root.title == "Fatigue tips"
        and old_root.body == ""
    )

    # she accepts the rules, then replies to the thread created before she joined
    ledger = RulesLedger(GROUP_ID)  # ana's view
    reply = Post(id=b"\x16" * 16, sent_at=NOW, thread=old_root.id, body="Naps, and pacing.")
    with pytest.raises(InviteRefused) as early:
        ledger.may_post(her_settings.rules, nia.identity_key)
    assert early.value.rule == "invite.rules.not_accepted"
    acceptance = RulesAcceptance(
        id=b"\x17" * 16,
        sent_at=NOW,
        version=1,
        rules_hash=r_hash,
        signature=sign_acceptance(nia_id, GROUP_ID, 1, r_hash),
    )
    for record in (acceptance, reply):
        result = group.process(joined.encrypt(record.encode()))
        assert isinstance(result, ApplicationMessage)
        got = decode(result.data)
        sender = CoveIdentity.from_credential(result.sender.credential)
        if isinstance(got, RulesAcceptance):
            ledger.record(sender.identity_key, got.version, got.rules_hash, got.signature)
        else:
            ledger.may_post(her_settings.rules, sender.identity_key)
            assert isinstance(got, Post) and got.thread == root.id


def _person_view(ident: CoveIdentity):  # type: ignore[no-untyped-def]
    class View:
        handle = ident.handle
        identity_key = ident.identity_key

    return View()
