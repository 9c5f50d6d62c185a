"""The moderators' group follows the main group's roles (decision 0016 §2,
``docs/protocol/invites.md`` §7 and §16, "Following role changes").

Whoever may see a difference between the main group's moderators and owners and
the members of its moderators' group puts it right, in this order:

1. **promoted** (a moderator or owner of the main group who is not in the
   moderators' group): added to it (her KeyPackages claimed, a Welcome), made an
   owner there, then sent every intake key pair this client keeps
   (``IntakeKeyShare``), every live link with its secret (``LinkShare``) and the
   replay log (``RequestHandled``), so she opens and approves requests at once;
2. **demoted, removed, banned or gone** (in the moderators' group but no longer a
   moderator or owner of the main group): made a plain member of the moderators'
   group, then removed from it (two commits: nobody removes an owner);
3. after any removal: generation ``g + 1`` of the intake key is derived from the
   moderators' group's new epoch and sent to the remaining moderators, then **one
   commit** of the main group's join settings publishes ``IntakeKey(g + 1)`` and drops
   the links the removed people made (their previews name them as inviter and only
   they could re-seal them; the links are revoked at the relay too), then this
   client re-seals the previews of its own links (``refresh_previews``);
4. every other moderator's client re-seals its own links' previews when it first sees
   a generation newer than the one it last sealed them with (after each sync).

Run after ``cove group role``/``remove``/``ban`` by the client that made the change
(``Moderation.on_changed``) and after each sync of a group by every moderator's client
(so a moderator's own leave, or a change made by a client that could not follow it,
is put right by the next moderator who syncs). The private keys of older generations
are kept: requests sealed to them stay readable by the remaining moderators until
they are stale (``MAX_REQUEST_AGE``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, ClassVar

from cove.client.errors import ClientError
from cove.client.features import invites_store as S
from cove.client.features.invites_room import moderators_group_id
from cove.client.features.join_settings import change_join_settings, join_settings
from cove.client.features.moderation import Refused, require_policed, roster_of, state_of
from cove.client.invites import revoke_link
from cove.client.outbox import Made
from cove.client.store.records import StoreRecord
from cove.client.transport import RelayError
from cove.protocol import Group
from cove.protocol.app.moderators_records import (
    APPROVED,
    DECLINED,
    IntakeKeyShare,
    LinkShare,
    RequestHandled,
)
from cove.protocol.app.records import new_record_id
from cove.protocol.errors import CoveError
from cove.protocol.invites import JoinSettings, parse_invite_link
from cove.protocol.mls.proposals import Proposal, ProposalBody
from cove.protocol.policy import (
    GroupPolicy,
    GroupState,
    PolicyRefused,
    Role,
    remove_proposals,
    set_role_proposals,
)
from cove.protocol.wire.schema import Int

if TYPE_CHECKING:
    from cove.client.features.invites_links import Links
    from cove.client.service import CoveClient

__all__ = ["SEALED", "Followed", "RoleFollower"]

#: ``invite_sealed`` (key: the main group id): the intake generation this client last
#: sealed its links' previews with.
SEALED = "invite_sealed"
#: key suffix in ``invite_sealed`` (main group id + this): a rotation is owed; its value
#: is the generation that must be replaced
OWED = b"/owed"
_LEADS = (Role.MODERATOR, Role.OWNER)


@dataclass(frozen=True, slots=True)
class SealedWith(StoreRecord):
    KIND: ClassVar[str] = "invite_sealed"

    generation: Annotated[int, Int(0, 0xFFFFFFFF)]


@dataclass(slots=True)
class Followed:
    """What one :meth:`RoleFollower.follow` did (handles; the new generation or 0)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    generation: int = 0
    dropped_links: int = 0
    resealed: int = 0

    def doc(self) -> dict[str, object]:
        return {
            "added": self.added, "removed": self.removed, "generation": self.generation,
            "dropped_links": self.dropped_links, "resealed": self.resealed,
        }  # fmt: skip


def _leads(group: Group) -> dict[bytes, str]:
    """The main group's moderators and owners in this client's copy: key -> handle."""
    policy = GroupPolicy.from_extensions(group.extensions)
    if policy is None:
        return {}
    return {
        m.identity_key: m.handle
        for m in roster_of(group)
        if policy.role_of(m.identity_key, in_group=True) in _LEADS
    }


class RoleFollower:
    def __init__(self, client: CoveClient, links: Links) -> None:
        self.c = client
        self.links = links
        self._busy: set[bytes] = set()

    async def _state(self, group_id: bytes) -> Group | None:
        async with self.c.store.transaction() as txn:
            if not await self.c.states.is_active(txn, group_id):
                return None
            record, group = await self.c.states.load(txn, group_id)
            self.c.states.keep(record, group)
        return group

    async def follow(self, group_id: bytes) -> Followed:
        """Put the moderators' group of ``group_id`` in step with its roles (above).
        Does nothing if this member is not a moderator or owner, or not in the
        moderators' group (there is none yet, or she waits to be added)."""
        done = Followed()
        if group_id in self._busy:
            return done
        self._busy.add(group_id)
        try:
            await self._follow(group_id, done)
        finally:
            self._busy.discard(group_id)
        return done

    async def after_sync(self, group_id: bytes) -> None:
        """The sync runner's follow-up: never lets a sync fail (the next one retries)."""
        with contextlib.suppress(ClientError, RelayError, CoveError):
            await self.follow(group_id)

    async def before_change(self, group_id: bytes) -> None:
        """Before a role change, removal or ban: read the moderators' group while its
        senders are still moderators (their links, to drop if they leave the role)."""
        mod_id = moderators_group_id(group_id)
        if await self._state(mod_id) is not None:
            with contextlib.suppress(ClientError, RelayError):
                await self.c.runner.sync_group(mod_id)

    async def _follow(self, group_id: bytes, done: Followed) -> None:
        mod_id = moderators_group_id(group_id)
        group, mods = await self._state(group_id), await self._state(mod_id)
        me = self.c.account.identity_key
        if group is None or mods is None:
            return
        leads = _leads(group)
        if me not in leads:
            return
        present = {m.identity_key: m.handle for m in roster_of(mods)}
        stale = {k: h for k, h in present.items() if k not in leads}
        missing = [h for k, h in leads.items() if k not in present]
        m_policy = GroupPolicy.from_extensions(mods.extensions)
        if m_policy is None or m_policy.role_of(me, in_group=True) != Role.OWNER:
            return  # only an owner of the moderators' group changes who is in it
        intake = join_settings(group).intake
        async with self.c.store.transaction() as txn:
            owed_before = await txn.get(SEALED, group_id + OWED)
            if stale and intake is not None:  # owed until published, even if we stop
                await txn.put(SEALED, group_id + OWED, SealedWith(intake.generation).pack())
        for key, handle in stale.items():
            if m_policy.role_of(key, in_group=True) == Role.OWNER:
                await self.set_role(mod_id, key, Role.MEMBER)
            if await self.remove(mod_id, key):
                done.removed.append(handle)
        if stale and not done.removed and owed_before is None:
            # another moderator's client took them out first: the rotation is hers
            async with self.c.store.transaction() as txn:
                await txn.delete(SEALED, group_id + OWED)
        for handle in missing:
            try:
                await self.c.group_ops.add(mod_id, [handle])
            except ClientError:
                continue  # no KeyPackage now: the next sync tries again
            done.added.append(handle)
        mods = await self._state(mod_id)
        assert mods is not None
        m_policy = GroupPolicy.from_extensions(mods.extensions)
        assert m_policy is not None
        for m in roster_of(mods):  # every moderator may put the moderators' group right
            if m.identity_key != me and m_policy.role_of(m.identity_key, in_group=True) != (
                Role.OWNER
            ):
                await self.set_role(mod_id, m.identity_key, Role.OWNER)
        if done.added:
            await self.share_all(group_id)
        async with self.c.store.transaction() as txn:
            owed = await txn.get(SEALED, group_id + OWED)
        if owed is not None:
            if intake is not None and intake.generation <= SealedWith.unpack(owed).generation:
                await self.rotate(group_id, stale, done)
            async with self.c.store.transaction() as txn:
                await txn.delete(SEALED, group_id + OWED)
        await self._reseal_if_behind(group_id, done)

    # -- commits in the moderators' group (no hints to the relay: its table keeps one
    # owner, the group's creator; MLS alone decides who holds the keys) ---------------

    async def _commit(
        self, mod_id: bytes, build: Callable[[GroupState], list[ProposalBody] | None],
        remove: tuple[bytes, ...] = (),
    ) -> bool:  # fmt: skip
        def make(group: Group) -> Made | None:
            require_policed(group)
            bodies = build(state_of(group))
            if bodies is None:
                return None
            try:
                out = group.commit([Proposal(b) for b in bodies], now=self.c.clock.now())
            except PolicyRefused as exc:
                raise Refused(exc.decision) from None
            return Made(out, remove=remove)

        return await self.c.outbox.commit(mod_id, make)

    async def set_role(self, mod_id: bytes, key: bytes, role: Role) -> None:
        """Every moderator owns the moderators' group, so any of them can take another
        out of it (an owner is first made a member: nobody removes an equal)."""

        def build(state: GroupState) -> list[ProposalBody] | None:
            # another moderator's client may have done it, or taken her out, first
            if key not in state.roster.identities():
                return None
            policy = GroupPolicy.from_extensions(state.extensions)
            if policy is not None and policy.role_of(key, in_group=True) == role:
                return None
            return set_role_proposals(state, key, role)

        await self._commit(mod_id, build)

    async def remove(self, mod_id: bytes, key: bytes) -> bool:
        """Remove her leaves; the relay's table is told too when it lets this member
        (the creator) do so, else she stays listed there and reads nothing new."""
        handle = ""
        mods = await self._state(mod_id)
        if mods is not None:
            handle = next((m.handle for m in roster_of(mods) if m.identity_key == key), "")
        accounts: tuple[bytes, ...] = ()
        with contextlib.suppress(ClientError, RelayError, CoveError):
            info = await self.c.ctx.session.request("get_group", path={"group_id": mod_id.hex()})
            if info.my_role == "owner":
                accounts = tuple(bytes(m.account_id) for m in info.members if m.handle == handle)

        def build(state: GroupState) -> list[ProposalBody] | None:
            leaves = [m.leaf for m in state.roster if m.identity_key == key]
            return remove_proposals(state, leaves) if leaves else None

        return await self._commit(mod_id, build, remove=accounts)

    async def share_all(self, group_id: bytes) -> None:
        """Send what a new moderator needs: every kept intake key pair, every live link
        with its secret, the replay log (the others already hold them: they ignore
        the repeats)."""
        group = await self._state(group_id)
        assert group is not None
        settings = join_settings(group)
        now = self.c.clock.now()
        async with self.c.store.transaction() as txn:
            pairs = await S.intake_pairs(txn, group_id)
            kept = await S.kept_links(txn, group_id)
            handled = [S.HandledRequest.unpack(v) for _, v in await txn.scan(
                S.HANDLED, partition=group_id)]  # fmt: skip
        for pair in sorted(pairs.values(), key=lambda p: p.generation):
            await self.links.share(group_id, IntakeKeyShare(
                id=new_record_id(self.c.rng), sent_at=now, group=group_id,
                generation=pair.generation, private_key=pair.private_key,
            ))  # fmt: skip
        for k in kept.values():
            link = parse_invite_link(k.url)
            if settings.link(link.link_id) is None or k.expires_at <= now:
                continue
            await self.links.share(group_id, LinkShare(
                id=new_record_id(self.c.rng), sent_at=now, group=group_id, url=k.url,
                mode=k.mode, questions="\n".join(k.questions), expires_at=k.expires_at,
                max_uses=k.max_uses, created_at=k.created_at,
            ))  # fmt: skip
        for h in handled:
            await self.links.share(group_id, RequestHandled(
                id=new_record_id(self.c.rng), sent_at=now, group=group_id,
                request_id=h.request_id, key_package_hash=h.key_package_hash,
                outcome=APPROVED if h.outcome == "approved" else DECLINED,
            ))  # fmt: skip

    async def rotate(self, group_id: bytes, gone: dict[bytes, str], done: Followed) -> None:
        """After removals from the moderators' group: the next intake generation, from
        its new epoch, published in one join-settings commit that also drops the
        removed people's links; then this client's previews re-sealed."""
        group = await self._state(group_id)
        assert group is not None
        current = join_settings(group).intake
        if current is None:
            return  # no approval link yet: the first one derives generation 1
        generation = current.generation + 1
        pair = await self.links.derive(group_id, generation, keep=False)
        if pair is None:
            return
        async with self.c.store.transaction() as txn:
            kept = await S.kept_links(txn, group_id)
        theirs = []
        for link_id, k in kept.items():
            try:
                link = parse_invite_link(k.url)
            except CoveError:
                continue
            if any(link.pins(h, key) for key, h in gone.items()):
                theirs.append(link_id)
        ours = [False]

        def change(s: JoinSettings) -> JoinSettings:
            # another moderator's client may have published the next generation first:
            # hers stands (one key per generation), ours is dropped
            ours[0] = s.intake is None or s.intake.generation < generation
            if ours[0]:
                s = replace(s, intake=pair.public)
            for link_id in theirs:
                if s.link(link_id) is not None:
                    s = s.without_link(link_id)
            return s

        await change_join_settings(self.c.outbox, group_id, change, now=self.c.clock.now)
        for link_id in theirs:
            with contextlib.suppress(RelayError, ClientError):
                await revoke_link(self.c.ctx.session, group_id, link_id)
            async with self.c.store.transaction() as txn:
                await txn.delete(S.LINKS, link_id)
        done.dropped_links = len(theirs)
        if not ours[0]:
            return
        async with self.c.store.transaction() as txn:
            await S.keep_intake(txn, group_id, pair)
        await self.links.share(group_id, IntakeKeyShare(
            id=new_record_id(self.c.rng), sent_at=self.c.clock.now(), group=group_id,
            generation=generation, private_key=pair.private_key,
        ))  # fmt: skip
        done.generation = generation

    async def _reseal_if_behind(self, group_id: bytes, done: Followed) -> None:
        group = await self._state(group_id)
        if group is None:
            return
        intake = join_settings(group).intake
        if intake is None:
            return
        async with self.c.store.transaction() as txn:
            value = await txn.get(SEALED, group_id)
        if value is not None and SealedWith.unpack(value).generation >= intake.generation:
            return
        done.resealed = await self.links.refresh_previews(group_id)
        async with self.c.store.transaction() as txn:
            await txn.put(SEALED, group_id, SealedWith(intake.generation).pack())
