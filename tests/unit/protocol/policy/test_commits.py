"""authorize_commit: every commit rule refuses exactly what it names, and the
default policy's allowed actions pass."""

from __future__ import annotations

import dataclasses

import pytest

from cove.protocol.errors import UsageError
from cove.protocol.group_metadata import GROUP_METADATA_EXTENSION, GroupKind, GroupMetadata
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.extensions import Extension, ExtensionType, RequiredCapabilities
from cove.protocol.mls.leaf_node import LeafNodeSource
from cove.protocol.mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    ReInit,
    Remove,
    Update,
)
from cove.protocol.mls.psk import ExternalPSK, PreSharedKeyID
from cove.protocol.policy import (
    POLICY_EXTENSION,
    CommitInput,
    GroupState,
    ProposalInput,
    Role,
    authorize_commit,
)

from .people import METADATA, P, World, refused


def check(w: World, commit: CommitInput):  # type: ignore[no-untyped-def]
    return authorize_commit(w.state, commit)


def replace_ext(w: World, ext_type: int, data: bytes | None) -> GroupContextExtensions:
    exts = [e for e in w.extensions if e.extension_type != ext_type]
    if data is not None:
        exts.append(Extension(ext_type, data))
    return GroupContextExtensions(tuple(exts))


# -- allowed -----------------------------------------------------------------------


def test_default_policy_allows_what_it_should() -> None:
    w = World.make()
    ana, cara = w.leaf("ana"), w.leaf("cara")
    ok = [
        w.commit("mona", Add(P("dan").key_package())),  # moderator adds
        w.commit("olga", Remove(w.leaf("mona")), w.gce(w.policy.without([P("mona").identity_key]))),
        w.commit("mona", Remove(ana)),  # moderator removes a member
        w.commit("cara", (Remove(ana), "ana")),  # ana's own removal, committed by cara
        w.commit("ana", path=P("ana").leaf()),  # self-update
        w.commit("olga", (Update(P("ana").leaf(LeafNodeSource.UPDATE)), "ana")),
        w.commit("olga", w.gce(w.policy.with_role(P("ana").identity_key, Role.MODERATOR))),
        w.commit("mona", Remove(cara), w.gce(w.policy.ban(P("cara").identity_key))),  # ban
        w.commit("mona", w.gce(w.policy.ban(P("eve").identity_key))),  # ban an outsider
        w.commit("mona", GroupContextExtensions(w.extensions)),  # no change
        w.commit("mona", replace_ext(w, GROUP_METADATA_EXTENSION, b"\x00\x03new\x00")),
        w.commit("olga", PreSharedKey(PreSharedKeyID(ExternalPSK(b"k"), b"n" * 32))),
        w.commit("olga", ReInit(b"g", 1, 1)),
        w.commit("olga", replace_ext(w, 0xF0FF, b"x")),
        w.commit("olga", w.gce(w.policy.with_role(P("ana").identity_key, Role.OWNER))),
    ]
    for commit in ok:
        decision = check(w, commit)
        assert decision.allowed, decision.explain()
        assert decision.explain() == "allowed"


def test_unban_then_readd_in_one_commit() -> None:
    w = World.make(roles={"olga": Role.OWNER, "mona": Role.MODERATOR, "eve": Role.BANNED})
    unban = w.gce(w.policy.unban(P("eve").identity_key))
    assert check(w, w.commit("mona", unban, Add(P("eve").key_package()))).allowed
    assert refused(check(w, w.commit("mona", Add(P("eve").key_package()))), "policy.add.banned")


# -- the state before ----------------------------------------------------------------


def test_state_missing_and_malformed() -> None:
    w = World.make()
    bare = GroupState(w.roster, (METADATA,))
    refused(authorize_commit(bare, w.commit("olga")), "policy.state.missing")
    broken = GroupState(w.roster, (Extension(POLICY_EXTENSION, b"\x01\x05"),))
    refused(authorize_commit(broken, w.commit("olga")), "policy.state.malformed")


# -- committer and proposers --------------------------------------------------------------


def test_committer_and_proposer_must_be_members() -> None:
    w = World.make()
    text = refused(check(w, CommitInput(17)), "policy.commit.committer_not_member")
    assert text.startswith("someone outside the group tried to")
    outsider = CommitInput(0, (ProposalInput(Remove(2), None),))
    refused(check(w, outsider), "policy.proposal.proposer_not_member")


def test_external_commits_and_external_init_refused() -> None:
    w = World.make()
    refused(check(w, CommitInput(None)), "policy.external.not_allowed")
    refused(check(w, w.commit("olga", ExternalInit(b"kem"))), "policy.external.not_allowed")


# -- membership ------------------------------------------------------------------------


def test_member_cannot_add() -> None:
    w = World.make()
    text = refused(
        check(w, w.commit("cara", Add(P("dan").key_package()))), "policy.add.requires_moderator"
    )
    assert text == "cara tried to add dan — refused: only moderators and owners can add members"


def test_member_cannot_remove_others() -> None:
    w = World.make()
    text = refused(
        check(w, w.commit("cara", Remove(w.leaf("ana")))), "policy.remove.requires_moderator"
    )
    assert text == (
        "cara tried to remove ana — refused: only moderators and owners can remove members"
    )
    # Removing the owner, then the moderator (the first attack):
    refused(
        check(w, w.commit("cara", Remove(w.leaf("olga")), Remove(w.leaf("mona")))),
        "policy.remove.requires_moderator",
    )


def test_remove_needs_a_lower_target() -> None:
    w = World.make(
        ("olga", "mona", "mike", "ana"),
        {"olga": Role.OWNER, "mona": Role.MODERATOR, "mike": Role.MODERATOR},
    )
    refused(check(w, w.commit("mona", Remove(w.leaf("mike")))), "policy.remove.target_outranks")
    refused(check(w, w.commit("mona", Remove(w.leaf("olga")))), "policy.remove.target_outranks")


def test_remove_of_a_blank_leaf() -> None:
    w = World.make()
    refused(check(w, w.commit("olga", Remove(9))), "policy.remove.not_member")


def test_removed_moderator_role_must_be_cleared() -> None:
    w = World.make()
    refused(check(w, w.commit("olga", Remove(w.leaf("mona")))), "policy.remove.role_not_cleared")
    # A moderator leaving on her own: whoever commits clears the role.
    leave = w.commit(
        "cara", (Remove(w.leaf("mona")), "mona"), w.gce(w.policy.without([P("mona").identity_key]))
    )
    assert check(w, leave).allowed
    # ... but a peer moderator cannot demote mona by "replacing" her device
    w2 = World.make(
        ("olga", "mona", "mike", "ana"),
        {"olga": Role.OWNER, "mona": Role.MODERATOR, "mike": Role.MODERATOR},
    )
    swap = w2.commit(
        "mike",
        (Remove(w2.leaf("mona")), "mona"),
        Add(P("mona").key_package()),
        w2.gce(w2.policy.without([P("mona").identity_key])),
    )
    refused(check(w2, swap), "policy.role.requires_owner")
    # wherever the Remove stands in the list
    clear = w.gce(w.policy.without([P("mona").identity_key]))
    assert check(w, w.commit("olga", clear, Remove(w.leaf("mona")))).allowed


# -- identity continuity ------------------------------------------------------------------


def test_update_path_keeps_identity_key_and_handle() -> None:
    w = World.make()
    # cara's new leaf says "ana", signed with cara's own identity key
    text = refused(
        check(w, w.commit("cara", path=P("cara").leaf(handle="ana"))),
        "policy.identity.handle_changed",
    )
    assert text.startswith("cara tried to rename themselves to 'ana'")
    other_key = dataclasses.replace(
        P("cara").leaf(), credential=P("eve").identity("cara").credential()
    )
    refused(check(w, w.commit("cara", path=other_key)), "policy.identity.key_changed")
    upd = Update(P("ana").leaf(LeafNodeSource.UPDATE, handle="olga"))
    refused(check(w, w.commit("olga", (upd, "ana"))), "policy.identity.handle_changed")


def test_leaf_without_cove_identity() -> None:
    w = World.make()
    alien = dataclasses.replace(P("cara").leaf(), credential=Credential.basic(b"cara"))
    refused(check(w, w.commit("cara", path=alien)), "policy.identity.not_cove")
    kp = P("dan").key_package()
    kp = dataclasses.replace(
        kp, leaf_node=dataclasses.replace(kp.leaf_node, credential=Credential.basic(b"x"))
    )
    refused(check(w, w.commit("olga", Add(kp))), "policy.identity.not_cove")


def test_no_two_members_with_one_identity_or_handle() -> None:
    w = World.make()
    refused(
        check(w, w.commit("olga", Add(P("ana").key_package()))), "policy.identity.duplicate_key"
    )
    refused(
        check(w, w.commit("olga", Add(P("dan").key_package()), Add(P("dan").key_package()))),
        "policy.identity.duplicate_key",
    )
    # dan's identity calling itself "Ana" (case does not make it another name)
    text = refused(
        check(w, w.commit("olga", Add(P("dan").key_package(handle="Ana")))),
        "policy.identity.duplicate_handle",
    )
    assert "olga tried to add a second member named Ana" in text
    # Replacing ana's leaf by a new device of ana is fine when the old one goes.
    assert check(w, w.commit("olga", Remove(w.leaf("ana")), Add(P("ana").key_package()))).allowed


# -- roles and bans ------------------------------------------------------------------------


def test_only_owner_changes_roles() -> None:
    w = World.make()
    promote_self = w.gce(w.policy.with_role(P("cara").identity_key, Role.OWNER))
    text = refused(check(w, w.commit("cara", promote_self)), "policy.role.requires_owner")
    assert text == "cara tried to make cara an owner — refused: only owners can change roles"
    promote = w.gce(w.policy.with_role(P("ana").identity_key, Role.MODERATOR))
    refused(check(w, w.commit("mona", promote)), "policy.role.requires_owner")
    demote = w.gce(w.policy.with_role(P("olga").identity_key, Role.MEMBER))
    refused(check(w, w.commit("mona", demote)), "policy.role.requires_owner")


def test_roles_only_for_members() -> None:
    w = World.make()
    outsider_mod = w.gce(w.policy.with_role(P("eve").identity_key, Role.MODERATOR))
    refused(check(w, w.commit("olga", outsider_mod)), "policy.role.not_member")


def test_last_owner_stays() -> None:
    w = World.make()
    step_down = w.gce(w.policy.with_role(P("olga").identity_key, Role.MEMBER))
    refused(check(w, w.commit("olga", step_down)), "policy.role.last_owner")
    leave = w.commit(
        "ana", (Remove(w.leaf("olga")), "olga"), w.gce(w.policy.without([P("olga").identity_key]))
    )
    refused(check(w, leave), "policy.role.last_owner")
    hand_over = w.gce(
        w.policy.with_role(P("ana").identity_key, Role.OWNER).with_role(
            P("olga").identity_key, Role.MEMBER
        )
    )
    assert check(w, w.commit("olga", hand_over)).allowed


def test_ban_rules() -> None:
    w = World.make(
        ("olga", "mona", "mike", "ana", "cara"),
        {"olga": Role.OWNER, "mona": Role.MODERATOR, "mike": Role.MODERATOR},
    )
    cara = P("cara").identity_key
    text = refused(
        check(w, w.commit("ana", Remove(w.leaf("cara")), w.gce(w.policy.ban(cara)))),
        "policy.remove.requires_moderator",
    )
    assert "ana tried to remove cara" in text
    refused(
        check(w, w.commit("ana", w.gce(w.policy.ban(P("eve").identity_key)))),
        "policy.ban.requires_moderator",
    )
    mike = P("mike").identity_key
    refused(check(w, w.commit("mona", w.gce(w.policy.ban(mike)))), "policy.ban.target_outranks")
    refused(check(w, w.commit("mona", w.gce(w.policy.ban(cara)))), "policy.ban.requires_remove")


def test_unban_by_moderators_only() -> None:
    w = World.make(roles={"olga": Role.OWNER, "mona": Role.MODERATOR, "eve": Role.BANNED})
    unban = w.gce(w.policy.unban(P("eve").identity_key))
    text = refused(check(w, w.commit("cara", unban)), "policy.unban.requires_moderator")
    assert text == (
        "cara tried to unban someone outside the group — refused: "
        "only moderators and owners can unban"
    )
    # Unbanning straight into a role is also a role change: owners only.
    to_mod = w.gce(w.policy.with_role(P("eve").identity_key, Role.MODERATOR))
    refused(
        check(w, w.commit("mona", to_mod, Add(P("eve").key_package()))),
        "policy.role.requires_owner",
    )


# -- extensions and other proposals ------------------------------------------------------


def test_policy_extension_cannot_be_removed_or_broken() -> None:
    w = World.make()
    refused(
        check(w, w.commit("olga", replace_ext(w, POLICY_EXTENSION, None))),
        "policy.extension.removed",
    )
    refused(
        check(w, w.commit("olga", replace_ext(w, POLICY_EXTENSION, b"\x02\x00"))),
        "policy.extension.malformed",
    )
    for caps in (RequiredCapabilities(), RequiredCapabilities((GROUP_METADATA_EXTENSION,))):
        gce = replace_ext(w, ExtensionType.REQUIRED_CAPABILITIES, caps.to_bytes())
        refused(check(w, w.commit("olga", gce)), "policy.extension.not_required")
    refused(
        check(w, w.commit("olga", replace_ext(w, ExtensionType.REQUIRED_CAPABILITIES, None))),
        "policy.extension.not_required",
    )
    garbage = replace_ext(w, ExtensionType.REQUIRED_CAPABILITIES, b"\xff")
    refused(check(w, w.commit("olga", garbage)), "policy.extension.not_required")


def test_rename_by_moderators() -> None:
    w = World.make()
    rename = replace_ext(
        w,
        GROUP_METADATA_EXTENSION,
        GroupMetadata(GroupKind.GROUP, "Cara's").extension().extension_data,
    )
    text = refused(check(w, w.commit("cara", rename)), "policy.metadata.requires_moderator")
    assert text.startswith("cara tried to rename the group — refused")
    assert check(w, w.commit("mona", rename)).allowed


def test_a_rename_must_keep_the_name_rules() -> None:
    w = World.make()

    def payload(kind: int, name: bytes) -> bytes:
        return bytes([kind, len(name)]) + name + b"\x00"

    for data in (
        payload(0, b""),  # a group without a name
        payload(0, b"two\nlines"),
        payload(1, b"a name"),  # a private conversation has none
        b"\x00\xff",  # not a payload
        None,  # removed
    ):
        rename = replace_ext(w, GROUP_METADATA_EXTENSION, data)
        text = refused(check(w, w.commit("mona", rename)), "policy.metadata.malformed")
        assert text.startswith("mona tried to rename the group — refused"), text
    for bad in (GroupMetadata(GroupKind.GROUP, ""), GroupMetadata(GroupKind.DIRECT, "x")):
        with pytest.raises(UsageError):
            bad.extension()
    assert GroupMetadata(GroupKind.DIRECT, "").extension().extension_data == payload(1, b"")


def test_other_extensions_reinit_psk_by_owner() -> None:
    w = World.make()
    refused(
        check(w, w.commit("mona", replace_ext(w, 0xF0FF, b"x"))), "policy.extensions.requires_owner"
    )
    refused(
        check(w, w.commit("mona", replace_ext(w, ExtensionType.EXTERNAL_SENDERS, b"\x00"))),
        "policy.extensions.requires_owner",
    )
    refused(check(w, w.commit("mona", ReInit(b"g", 1, 1))), "policy.reinit.requires_owner")
    psk = PreSharedKey(PreSharedKeyID(ExternalPSK(b"k"), b"n" * 32))
    refused(check(w, w.commit("mona", psk)), "policy.psk.requires_owner")


def test_proposals_by_reference_are_judged_by_their_proposer() -> None:
    w = World.make()
    # cara commits mona's proposal to remove ana: allowed (mona may); and her own: refused.
    assert check(w, w.commit("cara", (Remove(w.leaf("ana")), "mona"))).allowed
    refused(
        check(w, w.commit("mona", (Remove(w.leaf("ana")), "cara"))),
        "policy.remove.requires_moderator",
    )
