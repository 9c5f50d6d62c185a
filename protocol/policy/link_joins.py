"""Link joins in the group's state: which link made the current epoch, and the count
every following commit carries.

An accepted external commit (a link join, ``docs/protocol/invites.md`` §9) cannot
change the GroupContext, so it cannot count itself; the commit right after it
must raise that link's ``used`` by one (``policy.join.settings.count_missing``).
The group code keeps the link id of the join that made the current epoch
(:func:`link_join_of`, ``Group.pending_link_join``) and adds the count to every
commit it builds while that is set (:func:`count_link_join`), so no client
operation has to think about it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DecodeError
from ..invites.join_settings import JoinSettings, with_join_settings
from ..invites.open_join import LinkJoinProof
from ..mls.extensions import Extension
from ..mls.proposals import GroupContextExtensions, Proposal


def link_join_of(extensions: Sequence[Extension], authenticated_data: bytes) -> bytes | None:
    """The link id an external commit's ``authenticated_data`` names, in a group
    with join settings (``extensions`` before the commit); ``None`` otherwise.

    Call it only for an external commit the policy allowed (the proof was checked)."""
    try:
        if JoinSettings.from_extensions(extensions) is None:
            return None
        return LinkJoinProof.from_bytes(authenticated_data).link_id
    except DecodeError:
        return None


def count_link_join(
    extensions: Sequence[Extension], proposals: Sequence[Proposal], link_id: bytes
) -> list[Proposal]:
    """``proposals`` with the count of the link join ``link_id`` (``extensions``:
    the GroupContext's before the commit).

    The count is merged into the commit's own GroupContextExtensions proposal if it
    has one (unless that proposal already counts the join, or revokes the link),
    else appended as a GroupContextExtensions proposal that changes only the count."""
    out = list(proposals)
    before = JoinSettings.from_extensions(extensions)
    entry = before.link(link_id) if before is not None else None
    if before is None or entry is None or entry.used >= entry.max_uses:
        return out  # nothing to count: a revoked link, or a join members refuse anyway
    for i, p in enumerate(out):
        if not isinstance(p.body, GroupContextExtensions):
            continue
        exts = p.body.extensions
        try:
            settings = JoinSettings.from_extensions(exts)
        except DecodeError:
            return out  # refused by the policy anyway
        new_entry = settings.link(link_id) if settings is not None else None
        if settings is None or new_entry is None or new_entry.used != entry.used:
            return out  # removes the settings, revokes the link, or counts already
        counted = with_join_settings(exts, settings.with_use_counted(link_id))
        out[i] = Proposal(GroupContextExtensions(counted))
        return out
    counted = with_join_settings(extensions, before.with_use_counted(link_id))
    out.append(Proposal(GroupContextExtensions(counted)))
    return out


__all__ = ["count_link_join", "link_join_of"]
