"""Moderators' queue of join requests: open, check, approve (one commit: Add + the
link's use count), decline (a sealed message back).

Every request is opened with the intake key of its generation and checked by
``open_join_request`` (the link is live in the group's settings, the link proof,
the requester's signature, her KeyPackage, one answer per question, the current
rules accepted, the link's cap) and by the local :class:`JoinRequestLog`: a request
id or KeyPackage already handled is a **replay** (``invite.request.replayed``) — a
relay that hands an old request back does not get anyone in. Refused requests are
reported (:attr:`Requests.refused`), never shown as requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cove.client.errors import UsageProblem
from cove.client.features import invites_store as S
from cove.client.features.invites_errors import (
    InviteProblem,
    from_refusal,
    from_relay,
    unpublished,
)
from cove.client.features.join_settings import join_settings
from cove.client.features.moderation import Refused, require_policed
from cove.client.group_state import handles
from cove.client.invites import list_join_requests, remove_join_request
from cove.client.outbox import Made
from cove.client.transport import RelayError
from cove.protocol import Group
from cove.protocol.app.moderators_records import APPROVED, DECLINED, RequestHandled
from cove.protocol.app.records import new_record_id
from cove.protocol.errors import ValidationError
from cove.protocol.invites import (
    INVITE_SUITE,
    InviteRefused,
    JoinRequest,
    LinkMode,
    link_id_text,
    open_join_request,
    request_header,
    seal_decline,
    with_join_settings,
)
from cove.protocol.invites.join_request import MAX_DECLINE_BYTES
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.proposals import Add, GroupContextExtensions, Proposal
from cove.protocol.policy import PolicyRefused
from cove.protocol.wire import link_envelopes as K

if TYPE_CHECKING:
    from cove.client.features.invites_links import Links
    from cove.client.service import CoveClient

__all__ = ["MAX_REQUEST_AGE", "RefusedRequest", "RequestView", "Requests"]

#: A request older than this (by the moderator's clock) is stale.
MAX_REQUEST_AGE = 30 * 86400


@dataclass(frozen=True, slots=True)
class RequestView:
    """A join request as moderators see it (``id``: the relay's id, in hex)."""

    id: str
    link_id: str
    handle: str
    answers: tuple[tuple[str, str], ...]  # (question, answer)
    rules_version: int
    received_at: int

    def __repr__(self) -> str:
        return f"RequestView({self.id}, handle={self.handle!r}, <answers hidden>)"

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.id, "link_id": self.link_id, "handle": self.handle,
            "answers": [{"question": q, "answer": a} for q, a in self.answers],
            "rules_version": self.rules_version, "received_at": self.received_at,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class RefusedRequest:
    """A queued request this client refused (a replay, a forgery...): ``rule`` says why."""

    id: str
    link_id: str
    rule: str
    message: str

    def doc(self) -> dict[str, Any]:
        return {"id": self.id, "link_id": self.link_id, "rule": self.rule, "message": self.message}


@dataclass(frozen=True, slots=True)
class _Queued:
    entry: K.JoinRequestEntry
    link_id: bytes
    request: JoinRequest | None
    refusal: InviteProblem | None
    questions: tuple[str, ...]


class Requests:
    def __init__(self, client: CoveClient, links: Links) -> None:
        self.c = client
        self.links = links
        #: the requests the last :meth:`requests` call refused, per group
        self.refused: dict[bytes, list[RefusedRequest]] = {}

    async def _queue(self, group_id: bytes) -> list[_Queued]:
        # every group: the moderators' group brings the others' links, keys and log
        await self.c.sync()
        group = await self.links.require_moderator(group_id)
        settings = join_settings(group)
        if settings.intake is None:
            return []
        pair = await self.links.ensure_intake(group)
        async with self.c.store.transaction() as txn:
            pairs = await S.intake_pairs(txn, group_id)
            kept = await S.kept_links(txn, group_id)
            log = await S.request_log(txn, group_id)
        pairs[pair.generation] = pair
        out = []
        now = self.c.clock.now()
        for link in settings.links:
            if link.mode != LinkMode.APPROVAL:
                continue
            try:
                entries = await list_join_requests(self.c.ctx.session, group_id, link.link_id)
            except RelayError as exc:
                raise from_relay(exc) from None
            k = kept.get(link.link_id)
            questions = k.questions if k else ()
            for e in entries:
                try:
                    _, generation = request_header(e.sealed)
                except InviteRefused as exc:
                    out.append(_Queued(e, link.link_id, None, from_refusal(exc), questions))
                    continue
                if generation > settings.intake.generation:
                    out.append(_Queued(e, link.link_id, None, unpublished(
                        generation, settings.intake.generation), questions))  # fmt: skip
                    continue
                try:
                    req = open_join_request(
                        e.sealed, pairs, group_id=group_id, settings=settings,
                        questions=questions,
                    )  # fmt: skip
                    log.check(req, now=now, max_age=MAX_REQUEST_AGE)
                except InviteRefused as exc:
                    out.append(_Queued(e, link.link_id, None, from_refusal(exc), questions))
                    continue
                out.append(_Queued(e, link.link_id, req, None, questions))
        return out

    async def requests(self, group_id: bytes) -> list[RequestView]:
        queue = await self._queue(group_id)
        self.refused[group_id] = [
            RefusedRequest(q.entry.request_id.hex(), link_id_text(q.link_id), p.rule, str(p))
            for q in queue
            if (p := q.refusal) is not None
        ]
        out = []
        for q in queue:
            if q.request is not None:
                r = q.request
                out.append(RequestView(
                    q.entry.request_id.hex(), link_id_text(q.link_id), r.handle,
                    tuple(zip(q.questions, r.answers, strict=True)), r.rules_version,
                    q.entry.received_at,
                ))  # fmt: skip
        return out

    async def _find(self, group_id: bytes, ref: str) -> tuple[_Queued, JoinRequest]:
        text = ref.strip().lower()
        if len(text) < 4 or any(ch not in "0123456789abcdef" for ch in text):
            raise UsageProblem(f"'{ref}' is not a request id (hex digits, at least 4)")
        hits = [q for q in await self._queue(group_id) if q.entry.request_id.hex().startswith(text)]
        if len(hits) > 1:
            raise UsageProblem(f"'{ref}' starts more than one request id; give more of it")
        if not hits:
            raise UsageProblem(f"no join request {ref} waits for this group")
        q = hits[0]
        if q.refusal is not None:
            raise q.refusal
        assert q.request is not None
        return q, q.request

    async def _handled(self, group_id: bytes, request: JoinRequest, outcome: str) -> None:
        """Record the request as handled here, and tell the other moderators."""
        kp_hash = INVITE_SUITE.hash(request.key_package)
        async with self.c.store.transaction() as txn:
            await S.mark_handled(txn, group_id, S.HandledRequest(
                request.request_id, kp_hash, outcome, self.c.clock.now(),
            ))  # fmt: skip
        await self.links.share(group_id, RequestHandled(
            id=new_record_id(self.c.rng), sent_at=self.c.clock.now(), group=group_id,
            request_id=request.request_id, key_package_hash=kp_hash,
            outcome=APPROVED if outcome == "approved" else DECLINED,
        ))  # fmt: skip

    async def approve(self, group_id: bytes, ref: str) -> str:
        """Add the requester in one commit that also counts the link's use; Welcome to
        her device; drop the request at the relay; greet her. Returns her handle."""
        q, req = await self._find(group_id, ref)
        await self.c.trust_store.require_unchanged(keys=[(req.handle, req.identity_key)])
        body = MLSMessage.from_bytes(req.key_package).body
        assert isinstance(body, KeyPackage)  # open_join_request checked it
        link_id, now = q.link_id, self.c.clock.now

        def make(group: Group) -> Made | None:
            require_policed(group)
            if req.handle in handles(group):
                raise UsageProblem(f"{req.handle} is already in the group")
            settings = join_settings(group)
            entry = settings.link(link_id)
            if entry is None:
                raise InviteProblem("invite.link.revoked", "this invite link was revoked")
            if entry.used >= entry.max_uses:
                raise InviteProblem("invite.link.used_up", "the link's uses are all counted")
            exts = with_join_settings(group.extensions, settings.with_use_counted(link_id))
            try:
                out = group.commit(
                    [Proposal(Add(body)), Proposal(GroupContextExtensions(exts))], now=now()
                )
            except PolicyRefused as exc:
                raise Refused(exc.decision) from None
            except ValidationError as exc:
                raise InviteProblem(
                    "invite.request.key_package_mismatch", f"her KeyPackage cannot be used: {exc}"
                ) from None
            return Made(out, welcome_devices=(q.entry.device_id,))

        await self.c.outbox.commit(group_id, make)
        await self._handled(group_id, req, "approved")
        async with self.c.store.transaction() as txn:
            await self.c.runner.integrity.expect_join(txn, group_id, [req.handle], now())
        try:
            await remove_join_request(self.c.ctx.session, group_id, link_id, q.entry.request_id)
        except RelayError as exc:
            raise from_relay(exc) from None
        await self.c.newcomers.greet(group_id, [req.identity_key])
        return req.handle

    async def decline(self, group_id: bytes, ref: str, message: str = "") -> str:
        """Decline with an optional message only the requester can read."""
        if len(message.encode()) > MAX_DECLINE_BYTES:
            raise UsageProblem(f"a decline message is at most {MAX_DECLINE_BYTES} bytes")
        q, req = await self._find(group_id, ref)
        sealed = seal_decline(req, message, self.c.rng)
        await self._handled(group_id, req, "declined")
        try:
            await remove_join_request(
                self.c.ctx.session, group_id, q.link_id, q.entry.request_id, sealed
            )
        except RelayError as exc:
            raise from_relay(exc) from None
        return req.handle
