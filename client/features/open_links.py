"""Open invite links: joining by external commit, counting the join, and keeping the
sealed GroupInfo of every open link current (``docs/protocol/invites.md`` §9).

* :meth:`OpenLinks.publish` seals the current epoch's GroupInfo (with its ratchet
  tree) to every open link of the group's join settings and stores it at the relay
  with the log position of the commit that began the epoch (``record.handshake``).
  It runs after **every** commit of ours the relay accepted (``Outbox.after_commit``),
  so whoever commits re-seals; not for an epoch whose link join is not yet counted
  (nobody could join from it: ``policy.join.open.not_counted``).
* :meth:`OpenLinks.join` fetches the sealed GroupInfo and its log position, checks
  what the relay cannot fake (it opens with the link and names it, it is the
  previewed group's, its epoch is the sealed header's, it is not older than one she
  was given before for this link), checks that the rules it accepts are the ones
  the preview showed, builds the external commit with the link proof, posts it
  through the link at the GroupInfo's position (retry-safe: one idempotency key per
  attempt), keeps the group like a Welcome join, and makes her first self-update at
  once — the group code counts her join in it. A joiner whose commit lost the
  relay's compare-and-set (a handshake came after the GroupInfo: nothing appended,
  nothing counted) fetches again and rebuilds, a bounded number of times.
* :meth:`OpenLinks.set_enabled` is the owner's switch (``cove group open-links``).
* After a link join arrives, a moderator's client greets the newcomer
  (``Newcomers.greet``; hooked into the sync runner).

Nothing here decides who joins: every member's group code judges the external commit
(``policy.join.open.*``) and the count (``policy.join.settings.count_missing``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cove.client import invites as relay_links
from cove.client.context import Context
from cove.client.errors import ClientError, NoPermission, UsageProblem
from cove.client.features.join_settings import change_join_settings, join_settings
from cove.client.features.moderation import policy_of, roster_of
from cove.client.group_state import GroupRecord, GroupStates, metadata
from cove.client.outbox import Made, Outbox
from cove.client.profile import capabilities, group_config, validator
from cove.client.session import RelayError, client_error
from cove.client.trust import Trust
from cove.protocol import CoveError, Group
from cove.protocol.invites import (
    InviteLink,
    InviteRefused,
    JoinSettings,
    LinkMode,
    LinkPreview,
    check_rules_text,
    make_link_join_proof,
    open_group_info,
    seal_group_info,
)
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.welcome import GroupInfo
from cove.protocol.policy import Capability, PolicyRefused, can
from cove.protocol.wire.codes import ErrorCode

if TYPE_CHECKING:
    from cove.client.features.newcomers import Newcomers

__all__ = ["JOIN_ATTEMPTS", "SEEN", "STALE_MESSAGE", "Fetched", "OpenLinks", "link_error"]

#: How often a joiner who lost a race re-fetches the GroupInfo and tries again.
JOIN_ATTEMPTS = 4

#: Store collection: per open link id, the newest GroupInfo epoch the joiner was given
#: (8 bytes, big-endian); a relay that later hands her an older one is refused.
SEEN = "open_link_seen_epoch"

STALE_MESSAGE = (
    "the relay's GroupInfo for this link is older than the group's last change, several "
    "times (no member has stored a newer one yet); you were not admitted and the link's "
    "use was not counted; try again in a moment"
)

#: Why a sealed GroupInfo did not open, by the rule ``open_group_info`` names.
_UNOPENED = {
    "invite.preview.wrong_link": "is sealed for another link",
    "invite.preview.undecryptable": "does not open with this link (altered, or another link's)",
    "invite.preview.malformed": "is malformed",
}


@dataclass(frozen=True, slots=True)
class Fetched:
    """A GroupInfo the joiner checked (§9) and the log position to post at."""

    epoch: int
    position: int
    info: GroupInfo
    info_bytes: bytes
    tree: bytes

    def __repr__(self) -> str:
        return f"Fetched(epoch={self.epoch}, position={self.position})"


_LINK_MESSAGES = {
    ErrorCode.LINK_EXPIRED: "this invite link has expired; "
    "ask the group's organizers for a new one",
    ErrorCode.LINK_USED_UP: "this invite link has been used as many times as it allows; "
    "ask the group's organizers for a new one",
    ErrorCode.LINK_REVOKED: "this invite link was revoked by the group's moderators",
}


def link_error(exc: RelayError) -> ClientError:
    """A relay refusal of a link call, in words a newcomer understands."""
    text = _LINK_MESSAGES.get(exc.code)
    if text is not None:
        return NoPermission(text)
    if exc.code == ErrorCode.NOT_FOUND:
        return UsageProblem(
            "the relay has nothing for this link yet (no member has opened it since it was "
            "created, or it is not an open link); try again later"
        )
    if exc.code == ErrorCode.ACCOUNT_BANNED:
        return NoPermission("you are banned from this group")
    return client_error(exc)


class OpenLinks:
    def __init__(
        self,
        ctx: Context,
        states: GroupStates,
        outbox: Outbox,
        trust: Trust,
        newcomers: Newcomers,
    ) -> None:
        self.ctx = ctx
        self.states = states
        self.outbox = outbox
        self.trust = trust
        self.newcomers = newcomers
        outbox.after_commit.append(self._after_commit)

    # -- the owner's switch ---------------------------------------------------------------

    async def set_enabled(self, group_id: bytes, on: bool) -> bool:
        """Turn open links on or off (owners); False if it was already so. Turning them
        on reveals the roster to whoever holds an open link (the sealed GroupInfo)."""
        changed = await change_join_settings(
            self.outbox, group_id,
            lambda s: dataclasses.replace(s, open_links=on),
            now=self.ctx.clock.now,
        )  # fmt: skip
        return changed

    async def enabled(self, group_id: bytes) -> bool:
        return join_settings(await self._group(group_id)).open_links

    # -- members: keep the sealed GroupInfo current ------------------------------------------

    async def publish(self, group_id: bytes) -> int:
        """Seal the current GroupInfo to every open link of the group and store it at the
        relay, with the log position up to which this device processed handshake
        messages (right after its commit, the commit's own position): the joiner
        posts her external commit there. How many were stored; links the relay
        refuses (expired, revoked) are skipped: the next moderator commit drops them."""
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        position = record.handshake
        settings = JoinSettings.from_extensions(group.extensions)
        if not group.active or settings is None or not settings.open_links:
            return 0
        if group.pending_link_join is not None:
            return 0  # the next commit (which counts it) publishes
        info, tree = group.group_info_bytes(), group.ratchet_tree()
        stored = 0
        for entry in settings.links:
            if entry.mode != LinkMode.OPEN or entry.used >= entry.max_uses:
                continue
            sealed = seal_group_info(
                entry.link_id, entry.groupinfo_key, group.epoch, info, tree, self.ctx.rng
            )
            try:
                await relay_links.put_group_info(
                    self.ctx.session, group_id, entry.link_id, sealed, position
                )
            except RelayError as exc:
                if exc.code in _LINK_MESSAGES or exc.code in (
                    ErrorCode.NOT_FOUND,
                    ErrorCode.STALE_GROUP_INFO,
                ):
                    continue
                raise client_error(exc) from None
            stored += 1
        return stored

    async def _after_commit(self, group_id: bytes) -> None:
        # A failure to re-seal must not make an accepted commit look failed; the next
        # commit (anyone's) re-seals.
        with contextlib.suppress(ClientError, CoveError):
            await self.publish(group_id)

    async def _group(self, group_id: bytes) -> Group:
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        return group

    # -- moderators: greet newcomers --------------------------------------------------------

    async def greet_link_joins(self, group_id: bytes, identity_keys: Sequence[bytes]) -> None:
        """Called by the sync runner after it applied link joins: a moderator's client
        greets each newcomer still in the group (``Newcomers.greet``)."""
        group = await self._group(group_id)
        if not group.active:
            return
        roster = roster_of(group)
        me = roster.at(group.my_leaf_index)
        role = policy_of(group).role_of(me.identity_key, in_group=True) if me else None
        if role is None or not can(role, Capability.CAN_ADD_PARTICIPANT):
            return
        present = [k for k in identity_keys if roster.by_identity(k) is not None]
        if present:
            await self.newcomers.greet(group_id, present)

    # -- the joiner ------------------------------------------------------------------------

    async def join(self, link: InviteLink, preview: LinkPreview) -> bytes:
        """Join the group by the open link; returns the group id. The account must
        exist on the link's relay (registered with the link or a code)."""
        if preview.mode != LinkMode.OPEN or preview.link_id != link.link_id:
            raise UsageProblem("this is not an open link: send a join request instead")
        async with self.ctx.store.transaction() as txn:
            known = await self.states.record(txn, preview.group_id)
        if known is not None and known.active:
            raise UsageProblem("you are already a member of this group")
        for _ in range(JOIN_ATTEMPTS):
            fetched = await self._fetch(link, preview)
            group, commit = await self._build(link, preview, fetched)
            seq = await self._post(link, commit, fetched.position)
            if seq is not None:
                await self._keep(group, seq, known)
                await self._count_own_join(group.group_id)
                return group.group_id
        raise ClientError(STALE_MESSAGE)

    async def _fetch(self, link: InviteLink, preview: LinkPreview) -> Fetched:
        """The relay's GroupInfo for the link and the checks the relay cannot fake
        (``docs/protocol/invites.md`` §9, in this order): it opens with the link's key
        and names this link, it is a GroupInfo of the previewed group, its epoch is the
        sealed header's, and it is not older than one she was given before."""
        try:
            answer = await relay_links.fetch_group_info(self.ctx.session, link)
        except RelayError as exc:
            raise link_error(exc) from None
        try:
            epoch, info_bytes, tree = open_group_info(answer.sealed, link.keys())
        except InviteRefused as exc:
            text = _UNOPENED.get(exc.rule, "is unusable")
            raise ClientError(f"the relay's GroupInfo {text} ({exc.rule}); not joining") from None
        try:
            info = MLSMessage.from_bytes(info_bytes).body
        except CoveError as exc:
            raise ClientError(f"the relay's GroupInfo for this link is unusable: {exc}") from None
        if not isinstance(info, GroupInfo) or info.group_context.group_id != preview.group_id:
            raise ClientError("the relay's GroupInfo is not the previewed group's; not joining")
        if info.group_context.epoch != epoch:
            raise ClientError(
                f"the relay's GroupInfo is of epoch {info.group_context.epoch} but sealed as "
                f"epoch {epoch}; not joining"
            )
        seen = await self._seen(link.link_id)
        if seen is not None and epoch < seen:
            raise ClientError(
                f"the relay's GroupInfo (epoch {epoch}) is older than one it gave you before "
                f"(epoch {seen}); not joining"
            )
        return Fetched(epoch, answer.position, info, info_bytes, tree)

    async def _seen(self, link_id: bytes) -> int | None:
        value = await self.ctx.store.get(SEEN, link_id)
        return None if value is None or len(value) != 8 else int.from_bytes(value, "big")

    async def _saw(self, link_id: bytes, epoch: int) -> None:
        async with self.ctx.store.transaction() as txn:
            value = await txn.get(SEEN, link_id)
            if value is None or len(value) != 8 or int.from_bytes(value, "big") < epoch:
                await txn.put(SEEN, link_id, epoch.to_bytes(8, "big"))

    async def _build(
        self, link: InviteLink, preview: LinkPreview, fetched: Fetched
    ) -> tuple[Group, bytes]:
        context = fetched.info.group_context
        try:
            settings = JoinSettings.from_extensions(context.extensions)
        except CoveError:
            settings = None
        rules = settings.rules if settings is not None else None
        if rules is not None:
            try:  # what she accepts is the text the preview showed her
                check_rules_text(
                    rules, context.group_id, preview.rules_version, preview.rules_salt,
                    preview.rules_text,
                )  # fmt: skip
            except (InviteRefused, CoveError):
                raise UsageProblem(
                    "the group's rules changed since this link's preview was made; "
                    "ask the organizers to refresh the link, then open it again"
                ) from None
        a = self.ctx.account
        proof = make_link_join_proof(
            link.keys(), group_id=context.group_id, epoch=context.epoch,
            joiner_signature_key=a.device_key, identity_private=a.identity_private, rules=rules,
        )  # fmt: skip
        try:
            built = Group.join_external(
                fetched.info_bytes, a.identity().credential(), self.ctx.rng,
                signature_private=a.device_private, ratchet_tree=fetched.tree,
                capabilities=capabilities(), config=group_config(),
                credential_validator=validator, authenticated_data=proof,
            )  # fmt: skip
        except PolicyRefused as exc:
            raise NoPermission(exc.decision.explain()) from None
        except CoveError as exc:
            raise ClientError(f"cannot join from the relay's GroupInfo: {exc}") from None
        # signed by a member and its tree checked: the newest she was given
        await self._saw(link.link_id, fetched.epoch)
        return built

    async def _post(self, link: InviteLink, commit: bytes, position: int) -> int | None:
        """Post the external commit at the GroupInfo's log position; its own position,
        or None if a handshake message came after the GroupInfo's (the relay's
        compare-and-set: nothing was appended or counted; fetch again)."""
        key = self.ctx.rng.random_bytes(16)
        try:
            answer = await relay_links.join_by_link(
                self.ctx.session, link, commit, position, idempotency_key=key
            )
        except RelayError as exc:
            if exc.code == ErrorCode.HANDSHAKE_CONFLICT:
                return None
            raise link_error(exc) from None
        return int(answer.seq)

    async def _keep(self, group: Group, seq: int, known: GroupRecord | None) -> None:
        meta = metadata(group)
        record = GroupRecord(
            group.group_id, seq, seq, kind=meta.kind, last_update=self.ctx.clock.now(),
            state_version=known.state_version if known else 0, needs_update=True,
        )  # fmt: skip
        async with self.ctx.store.transaction() as txn:
            await self.trust.observe(txn, [m.credential.identity for m in group.members()])
            await self.states.save(txn, record, group)

    async def _count_own_join(self, group_id: bytes) -> None:
        """Her first commit: a self-update, which counts her link join (the group code
        adds the count); if another member counted it first, it is a plain update."""
        now = self.ctx.clock.now()
        with contextlib.suppress(ClientError):
            await self.outbox.commit(group_id, lambda g: Made(g.update(now=now)))
