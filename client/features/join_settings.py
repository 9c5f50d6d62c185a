"""The group's join settings (GroupContext extension ``0xF0C2``) from the client's side:
read them, and change them with one commit that every member's policy judges.

Shared by the joining features: links and the intake key (``invites``), the rules
version and the history level (``rules``, ``newcomers``), the open-links switch and
link-join counting (``open_links``). Each passes a pure ``change`` function; the
commit is built on the newest state (``Outbox.commit`` re-runs it after a lost race).
"""

from __future__ import annotations

from collections.abc import Callable

from cove.client.features.moderation import Refused, require_policed
from cove.client.outbox import Made, Outbox
from cove.protocol import Group
from cove.protocol.invites import JoinSettings, with_join_settings
from cove.protocol.mls.proposals import GroupContextExtensions, Proposal
from cove.protocol.policy import PolicyRefused

__all__ = ["change_join_settings", "join_settings"]


def join_settings(group: Group) -> JoinSettings:
    """The group's join settings (the defaults for a group that has none yet)."""
    return JoinSettings.from_extensions(group.extensions) or JoinSettings()


async def change_join_settings(
    outbox: Outbox,
    group_id: bytes,
    change: Callable[[JoinSettings], JoinSettings],
    *,
    now: Callable[[], int],
) -> bool:
    """Commit ``change(current settings)``; False if it changes nothing (no commit).

    Raises :class:`~cove.client.features.moderation.Refused` when our own policy check
    refuses it (e.g. ``policy.join.settings.not_allowed`` for a member who is not a
    moderator), exactly as every receiver would."""

    def make(group: Group) -> Made | None:
        require_policed(group)
        current = join_settings(group)
        new = change(current)
        if new == current:
            return None
        exts = with_join_settings(group.extensions, new)
        try:
            out = group.commit([Proposal(GroupContextExtensions(exts))], now=now())
        except PolicyRefused as exc:
            raise Refused(exc.decision) from None
        return Made(out)

    return await outbox.commit(group_id, make)
