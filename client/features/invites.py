"""``client.invites``: invite links, the moderators' group, join requests with questions,
and joining with a link (issue 11; decision 0016; ``docs/protocol/invites.md`` §16).

The CLI (``cove invite …``, ``cove join``, ``cove requests``, ``cove approve``,
``cove decline``) and the local app call exactly these methods. The work is done in

* :mod:`.invites_links` — create, list, revoke, QR codes, re-sealing previews, the
  moderators' group and its intake key;
* :mod:`.invites_joining` — the preview, registering with the link, the join request,
  following it;
* :mod:`.invites_requests` — the moderators' queue: approve, decline, replays refused;
* :mod:`.invites_store` — what is kept locally; :mod:`.invites_errors` — the errors.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cove.client.features.invites_errors import InviteProblem, LinkMistyped
from cove.client.features.invites_joining import Joining, JoinStatus, PreviewView, join_new
from cove.client.features.invites_links import (
    DEFAULT_EXPIRES_IN,
    DEFAULT_MAX_USES,
    Links,
    LinkView,
    moderators_group_id,
    qr_code,
)
from cove.client.features.invites_requests import RefusedRequest, Requests, RequestView
from cove.client.features.invites_roles import Followed, RoleFollower

if TYPE_CHECKING:
    from cove.client.service import CoveClient

__all__ = [
    "Followed",
    "InviteProblem",
    "Invites",
    "JoinStatus",
    "LinkMistyped",
    "LinkView",
    "PreviewView",
    "RefusedRequest",
    "RequestView",
    "join_new",
    "moderators_group_id",
    "qr_code",
]


class Invites:
    """The invites feature of one client (``client.invites``)."""

    def __init__(self, client: CoveClient) -> None:
        self._links = Links(client)
        self._joining = Joining(client)
        self._requests = Requests(client, self._links)
        self._roles = RoleFollower(client, self._links)
        self._links.follow = self._roles.follow
        # the moderators' group follows role changes: after our own change, and after
        # each sync (someone else's change, a moderator's own leave)
        client.moderation.on_changing.append(self._roles.before_change)
        client.moderation.on_changed.append(self._roles.after_sync)
        client.runner.after_sync.append(self._roles.after_sync)

    # -- moderators: links ------------------------------------------------------------

    async def create(
        self, group_id: bytes, *, open_link: bool = False,
        expires_in: int = DEFAULT_EXPIRES_IN, max_uses: int = DEFAULT_MAX_USES,
        questions: Sequence[str] = (),
    ) -> LinkView:  # fmt: skip
        """A new link (moderators only); ``url`` of the result is what to hand out."""
        return await self._links.create(
            group_id, open_link=open_link, expires_in=expires_in, max_uses=max_uses,
            questions=tuple(questions),
        )  # fmt: skip

    async def list(self, group_id: bytes) -> list[LinkView]:
        return await self._links.list(group_id)

    async def revoke(self, group_id: bytes, link: str) -> LinkView:
        """Revoke at the relay and drop the link from the group's join settings."""
        return await self._links.revoke(group_id, link)

    async def qr(self, group_id: bytes, link: str, fmt: str = "terminal") -> bytes:
        return await self._links.qr(group_id, link, fmt)

    async def refresh_previews(self, group_id: bytes) -> int:
        return await self._links.refresh_previews(group_id)

    async def follow_roles(self, group_id: bytes) -> Followed:
        """Put the moderators' group in step with the group's moderators and owners:
        add who was promoted (and share the keys and links), remove who was demoted,
        removed or banned, rotate the intake key, re-seal previews. Runs by itself
        after role changes and syncs; this runs it now."""
        await self._links.require_moderator(group_id)
        return await self._roles.follow(group_id)

    # -- anyone: the preview and joining ---------------------------------------------

    async def preview(self, link_text: str) -> PreviewView:
        return await self._joining.preview(link_text)

    async def join(
        self, link_text: str, *, answers: Sequence[str] = (), accept_rules: bool = False,
        handle: str | None = None,
    ) -> JoinStatus:  # fmt: skip
        return await self._joining.join(
            link_text, answers=answers, accept_rules=accept_rules, handle=handle
        )

    async def status(self, *, sync: bool = True) -> builtins.list[JoinStatus]:
        return await self._joining.status(sync=sync)

    # -- moderators: the queue -------------------------------------------------------

    async def requests(self, group_id: bytes) -> builtins.list[RequestView]:
        """Waiting requests; those refused (replays...) are in :meth:`refused`."""
        return await self._requests.requests(group_id)

    def refused(self, group_id: bytes) -> builtins.list[RefusedRequest]:
        """What the last :meth:`requests` call refused for this group."""
        return builtins.list(self._requests.refused.get(group_id, ()))

    async def approve(self, group_id: bytes, request_id: str) -> str:
        return await self._requests.approve(group_id, request_id)

    async def decline(self, group_id: bytes, request_id: str, message: str = "") -> str:
        return await self._requests.decline(group_id, request_id, message)
