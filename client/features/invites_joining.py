"""The joiner's side of invite links: read the preview, register with the link, send
the join request (approval) or join at once (open), and follow the request.

The order (``docs/protocol/invites.md`` §16):

1. the link is parsed strictly (a mistyped link: :class:`LinkMistyped` with its code);
2. the sealed preview is fetched **without an account** and opened with the link: the
   inviter's signature is checked against the identity key the link pins
   (``invite.preview.*`` refusals); the preview's own expiry is checked with our clock;
3. a person with no account registers with the link itself (``registration_fields``:
   the link id and its capability stand in for a relay invite code);
4. the inviter's identity key is pinned as **verified** (the link authenticated it);
5. approval link: a fresh KeyPackage of this device (kept locally, never uploaded),
   the answers and the signed acceptance of the rules shown go into
   ``make_join_request``, sealed to the moderators' intake key, posted; the pending
   request is kept (``invite_pending``). Open link: ``client.open_links.join``;
6. :meth:`Joining.status` syncs (a Welcome joins the group as any Welcome does) and
   asks the relay about each pending request: a decline shows its message and clears it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cove.client import account as acct
from cove.client.clock import Clock, SystemClock
from cove.client.errors import KeyChanged, RelayUnreachableError, UsageProblem
from cove.client.features import invites_store as S
from cove.client.features.invites_errors import (
    InviteProblem,
    from_link_error,
    from_refusal,
    from_relay,
)
from cove.client.invites import (
    Caller,
    fetch_preview,
    pickup_decline,
    post_join_request,
    registration_fields,
)
from cove.client.key_packages import BUNDLE, Bundle
from cove.client.transport import RelayError, RelayTransport, RelayUnreachable
from cove.client.trust import Pin
from cove.protocol.identity import fingerprint
from cove.protocol.invites import (
    InviteLink,
    InviteLinkError,
    InviteRefused,
    LinkMode,
    LinkPreview,
    check_preview_current,
    make_join_request,
    open_decline,
    open_preview,
    parse_invite_link,
    rules_hash,
)
from cove.protocol.invites.join_request import MAX_ANSWER_BYTES

if TYPE_CHECKING:
    from cove.client.service import CoveClient

__all__ = ["JoinStatus", "Joining", "PreviewView", "join_new", "parse_link", "read_preview"]


@dataclass(frozen=True, slots=True)
class PreviewView:
    """What the link's preview shows before anyone joins (all of it signed by the inviter)."""

    group_id: str
    group_name: str
    description: str
    mode: str
    rules_version: int
    rules_text: str
    questions: tuple[str, ...]
    #: "nothing", "titles" or "full" (as ``cove group settings`` names them)
    history: str
    #: the same in words ("thread titles, pinned resources and rules")
    history_label: str
    welcome_message: str
    inviter: str
    inviter_fingerprint: str
    expires_at: int
    max_uses: int
    #: the moderators' key generation the request will be sealed to (0: an open link)
    intake_generation: int = 0

    def doc(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id, "group_name": self.group_name,
            "description": self.description, "mode": self.mode,
            "rules_version": self.rules_version, "rules": self.rules_text,
            "questions": list(self.questions), "history": self.history,
            "history_label": self.history_label, "welcome_message": self.welcome_message,
            "inviter": self.inviter,
            "inviter_fingerprint": self.inviter_fingerprint, "expires_at": self.expires_at,
            "max_uses": self.max_uses, "intake_generation": self.intake_generation,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class JoinStatus:
    """``requested`` (sent), ``waiting``, ``joined`` or ``declined`` (with ``message``)."""

    state: str
    group_id: str
    group_name: str
    request_id: str = ""
    message: str = ""

    def doc(self) -> dict[str, Any]:
        return {
            "state": self.state, "group_id": self.group_id, "group_name": self.group_name,
            "request_id": self.request_id, "message": self.message,
        }  # fmt: skip


def parse_link(text: str, expected_relay: str | None = None) -> InviteLink:
    try:
        return parse_invite_link(text, expected_relay=expected_relay)
    except InviteLinkError as exc:
        raise from_link_error(exc) from None


def view(preview: LinkPreview) -> PreviewView:
    fp = fingerprint(preview.inviter_handle, preview.inviter_identity_key)
    return PreviewView(
        preview.group_id.hex(), preview.group_name, preview.description,
        preview.mode.name.lower(), preview.rules_version, preview.rules_text, preview.questions,
        preview.history.name.lower(), preview.history.label, preview.welcome_message,
        preview.inviter_handle, fp[:10].hex(), preview.expires_at, preview.max_uses,
        preview.intake.generation if preview.intake else 0,
    )  # fmt: skip


async def read_preview(link: InviteLink, now: int) -> LinkPreview:
    """Fetch and open the link's preview with no account (a bare transport)."""
    try:
        async with RelayTransport(link.relay_url) as t:
            answer = await fetch_preview(cast(Caller, t), link)
    except RelayUnreachable as exc:
        raise RelayUnreachableError(str(exc)) from None
    except RelayError as exc:
        raise from_relay(exc) from None
    try:
        preview = open_preview(answer.preview, link)
        check_preview_current(preview, now)
    except InviteRefused as exc:
        raise from_refusal(exc) from None
    return preview


def check_answers(
    preview: LinkPreview, answers: Sequence[str], accept_rules: bool
) -> tuple[str, ...]:
    """Refuse before anything is sent: rules not accepted, answers not one per question."""
    if preview.rules is not None and not accept_rules:
        raise InviteProblem(
            "invite.request.rules_not_accepted",
            "this group has rules: read them in the preview ('cove join --preview LINK') "
            "and accept them (--accept-rules) to join",
        )
    if preview.mode == LinkMode.OPEN:
        if answers:
            raise InviteProblem(
                "invite.request.answers_mismatch", "this link asks no questions; give no answers"
            )
        return ()
    out = tuple(a.strip() for a in answers)
    if len(out) != len(preview.questions):
        n = len(preview.questions)
        raise InviteProblem(
            "invite.request.answers_mismatch",
            f"this group asks {n} question{'s' if n != 1 else ''} and you gave {len(out)} "
            f"answer{'s' if len(out) != 1 else ''}: give one --answer for each question",
        )
    for a in out:
        if len(a.encode()) > MAX_ANSWER_BYTES:
            raise UsageProblem(f"an answer is at most {MAX_ANSWER_BYTES} bytes")
    return out


async def join_new(
    home: Path, passphrase: str, link_text: str, handle: str, *,
    answers: Sequence[str] = (), accept_rules: bool = False, kdf: Any = None,
    clock: Clock | None = None,
) -> tuple[CoveClient, JoinStatus]:  # fmt: skip
    """For a person with no account: check the link and the preview, register with the
    link alone, then join (``Joining.join``). Nothing is created if the link or the
    answers are refused."""
    from cove.client.service import CoveClient

    clock = clock or SystemClock()
    link = parse_link(link_text)
    preview = await read_preview(link, clock.now())
    check_answers(preview, answers, accept_rules)
    store, account = await acct.register(
        home, passphrase, link.relay_url, handle, None, kdf=kdf, extra=registration_fields(link)
    )
    client = CoveClient(home, store, account, clock=clock)
    try:
        await client.key_packages.replenish(force=True)
        status = await client.invites.join(link.url, answers=answers, accept_rules=accept_rules)
    except BaseException:
        await client.close()
        raise
    return client, status


async def preview_of(link_text: str, clock: Clock | None = None) -> PreviewView:
    """What a link's preview shows, for someone with no account yet."""
    link = parse_link(link_text)
    return view(await read_preview(link, (clock or SystemClock()).now()))


class Joining:
    def __init__(self, client: CoveClient) -> None:
        self.c = client

    async def preview(self, link_text: str) -> PreviewView:
        link = parse_link(link_text)
        return view(await read_preview(link, self.c.clock.now()))

    async def _pin_inviter(self, preview: LinkPreview) -> None:
        handle, key = preview.inviter_handle, preview.inviter_identity_key
        if handle == self.c.account.handle:
            return
        async with self.c.store.transaction() as txn:
            pin = await self.c.trust_store.pin(txn, handle)
            if pin is None or (pin.identity_key == key and pin.changed is None):
                await self.c.trust_store.put_pin(txn, Pin(handle, key, None, True))
                return
            changed = await self.c.trust_store.check(txn, handle, key)
        if changed:
            raise KeyChanged(
                f"the link names {handle} with another identity key than the one you know; "
                "compare safety numbers ('cove verify') before joining"
            )

    async def join(
        self, link_text: str, *, answers: Sequence[str] = (), accept_rules: bool = False,
        handle: str | None = None,
    ) -> JoinStatus:  # fmt: skip
        a = self.c.account
        if handle is not None and handle != a.handle:
            raise UsageProblem(
                f"this home already has the account '{a.handle}'; --handle is for a new home"
            )
        link = parse_link(link_text, expected_relay=a.relay)
        preview = await read_preview(link, self.c.clock.now())
        clean = check_answers(preview, answers, accept_rules)
        async with self.c.store.transaction() as txn:
            known = await self.c.states.record(txn, preview.group_id)
        if known is not None and known.active:
            raise UsageProblem(f"you are already in {preview.group_name}")
        await self._pin_inviter(preview)
        gid = preview.group_id.hex()
        if preview.rules is not None:  # members see her acceptance once she is in
            version, salt, text = preview.rules
            await self.c.rules.accept_when_joined(
                preview.group_id, version, rules_hash(preview.group_id, version, salt, text)
            )
        if preview.mode == LinkMode.OPEN:
            joined = await self.c.open_links.join(link, preview)
            return JoinStatus("joined", joined.hex(), preview.group_name)
        bundle = self.c.key_packages.new_bundle()
        pending = make_join_request(
            preview, link, handle=a.handle, identity_private=a.identity_private,
            key_package=bundle.key_package_bytes(), answers=clean, now=self.c.clock.now(),
            rng=self.c.rng,
        )  # fmt: skip
        kept = S.KeptPending(
            pending.request.to_bytes(), pending.sealed, pending.reply_private, link.relay_url,
            preview.group_name, self.c.clock.now(),
        )  # fmt: skip
        async with self.c.store.transaction() as txn:
            # the private half first: the Welcome may come before we hear back
            await txn.put(BUNDLE, bundle.ref(), Bundle(bundle.to_bytes()).pack())
            await S.keep_pending(txn, kept)
        try:
            await post_join_request(self.c.ctx.session, link, pending)
        except RelayError as exc:
            async with self.c.store.transaction() as txn:
                await S.drop_pending(txn, pending.request.request_id)
            raise from_relay(exc) from None
        return JoinStatus("requested", gid, preview.group_name, pending.request.request_id.hex())

    async def status(self, *, sync: bool = True) -> list[JoinStatus]:
        """Every pending request's state; joined and declined ones are cleared."""
        if sync:
            await self.c.sync()
        async with self.c.store.transaction() as txn:
            pending = await S.pending_requests(txn)
        out = []
        for rid, kept in pending.items():
            p = kept.pending()
            gid = p.request.group_id
            async with self.c.store.transaction() as txn:
                record = await self.c.states.record(txn, gid)
            if record is not None and record.active:
                async with self.c.store.transaction() as txn:
                    await S.drop_pending(txn, rid)
                out.append(JoinStatus("joined", gid.hex(), kept.group_name, rid.hex()))
                continue
            try:
                answer = await pickup_decline(self.c.ctx.session, p)
            except RelayError as exc:
                raise from_relay(exc) from None
            if answer.state == "declined" and answer.decline is not None:
                try:
                    message = open_decline(answer.decline, p)
                except InviteRefused as exc:
                    raise from_refusal(exc) from None
                async with self.c.store.transaction() as txn:
                    await S.drop_pending(txn, rid)
                out.append(JoinStatus("declined", gid.hex(), kept.group_name, rid.hex(), message))
            else:
                out.append(JoinStatus("waiting", gid.hex(), kept.group_name, rid.hex()))
        return out
