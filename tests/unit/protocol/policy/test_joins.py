"""A joiner's checks on the group a Welcome shows it."""

from __future__ import annotations

from cove.protocol.mls.extensions import Extension
from cove.protocol.policy import (
    POLICY_EXTENSION,
    GroupPolicy,
    GroupState,
    Member,
    Role,
    Roster,
    authorize_join,
    check_state,
    with_policy,
)

from .people import METADATA, P, World, refused


def state_with(w: World, policy: GroupPolicy) -> GroupState:
    return GroupState(w.roster, with_policy(w.extensions, policy))


def test_sound_state_and_authorised_adder() -> None:
    w = World.make(("olga", "mona", "ana", "dan"))
    assert check_state(w.state).allowed
    assert authorize_join(w.state, w.leaf("mona"), P("dan").identity_key).allowed
    text = refused(
        authorize_join(w.state, w.leaf("ana"), P("dan").identity_key),
        "policy.add.requires_moderator",
    )
    assert text == "ana tried to add you — refused: only moderators and owners can add members"
    refused(authorize_join(w.state, 9, P("dan").identity_key), "policy.commit.committer_not_member")
    refused(
        authorize_join(w.state, w.leaf("dan"), P("dan").identity_key),
        "policy.commit.committer_not_member",
    )


def test_unsound_states_are_refused() -> None:
    w = World.make(("olga", "mona", "ana", "dan"))
    refused(check_state(GroupState(w.roster, (METADATA,))), "policy.state.missing")
    broken = GroupState(w.roster, (Extension(POLICY_EXTENSION, b"\x07"),))
    refused(authorize_join(broken, 0, P("dan").identity_key), "policy.state.malformed")
    refused(
        check_state(state_with(w, w.policy.ban(P("ana").identity_key))), "policy.state.inconsistent"
    )
    refused(
        check_state(state_with(w, w.policy.with_role(P("eve").identity_key, Role.MODERATOR))),
        "policy.state.inconsistent",
    )
    refused(
        check_state(state_with(w, GroupPolicy({P("mona").identity_key: Role.MODERATOR}))),
        "policy.state.inconsistent",
    )
    twice = GroupState(
        Roster.of([*w.roster, Member(7, P("ana").identity_key, "ann")]), w.extensions
    )
    refused(check_state(twice), "policy.identity.duplicate_key")
    twin = GroupState(Roster.of([*w.roster, Member(7, P("eve").identity_key, "ANA")]), w.extensions)
    refused(check_state(twin), "policy.identity.duplicate_handle")
