"""Property: whatever members and joiners do, a link admits at most max_uses
people, and its count equals the joins accepted (the rules of §6 and §9 of
docs/protocol/invites.md applied as every member applies them)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.invites import (
    ExternalJoin,
    InviteRefused,
    JoinSettings,
    LinkMode,
    check_external_join,
    check_join_settings_change,
    make_link_join_proof,
)

from .helpers import GROUP_ID, entry_for, link_for, person, settings_with

ANA = person("ana", 1)
LINK = link_for(ANA, 2)
PEOPLE = [person(f"p{i}", 50 + i) for i in range(8)]
ACTIONS = st.lists(st.sampled_from(["join", "count", "plain_commit", "revoke"]), max_size=25)


@given(ACTIONS, st.integers(1, 3))
def test_a_link_never_admits_more_than_its_caps(actions: list[str], max_uses: int) -> None:
    settings: JoinSettings = settings_with(entry_for(LINK, LinkMode.OPEN, max_uses=max_uses))
    epoch, pending, admitted, next_person = 0, None, 0, 0
    for action in actions:
        if action == "join":
            who = PEOPLE[next_person % len(PEOPLE)]
            next_person += 1
            proof = make_link_join_proof(
                LINK.keys(),
                group_id=GROUP_ID,
                epoch=epoch,
                joiner_signature_key=who.signature_key,
                identity_private=who.identity_private,
                rules=settings.rules,
            )
            try:
                pending = check_external_join(
                    settings,
                    ExternalJoin(GROUP_ID, epoch, who.signature_key, who.identity_key, proof),
                    members=frozenset(),
                    banned=frozenset(),
                    pending_link_join=pending,
                )
            except InviteRefused as exc:
                assert exc.rule in {
                    "invite.open.not_counted",
                    "invite.open.used_up",
                    "invite.open.unknown_link",
                }
                continue
            admitted += 1
            epoch += 1
            continue
        # a member's commit: counting (honest), not counting (hostile), or revoking (moderator)
        if action == "count" and pending is not None and settings.link(pending) is not None:
            after = settings.with_use_counted(pending)
        elif action == "revoke":
            after = settings.without_link(LINK.link_id)
        else:
            after = settings
        try:
            check_join_settings_change(
                settings.to_bytes(),
                after.to_bytes(),
                may_manage=action == "revoke",
                may_configure=False,
                pending_link_join=pending,
            )
        except InviteRefused as exc:
            assert exc.rule in {"invite.settings.count_missing", "invite.settings.not_allowed"}
            assert pending is not None or action == "count"
            continue  # refused by every member: skipped, the epoch does not move
        settings, pending, epoch = after, None, epoch + 1
        entry = settings.link(LINK.link_id)
        if entry is not None:
            assert entry.used == admitted
    assert admitted <= max_uses
