"""Moderators' side of invite links: create, list, revoke, QR codes, re-sealing previews,
and the moderators' group whose exporter gives the intake key (decision 0016 §1, §2, §7).

Creating a link (``docs/protocol/invites.md`` §16):

1. ``new_invite_link`` (16 random bytes; the link pins this moderator's identity key);
2. for an approval link, the intake key: the moderators' group is created the first
   time (:func:`ensure_intake`), its exporter gives generation ``g`` of the key pair;
3. the preview (group name and description from the metadata, the rules from
   ``features/rules.py``, the history level and questions) is signed and sealed;
4. the relay registers the link (``create_link``: id, capability verifier, caps,
   sealed preview);
5. one commit adds the ``LinkEntry`` (and, the first time, the intake key) to the
   join settings (``change_join_settings``) — every member's policy judges it;
6. the link, with its secret, is kept in the encrypted store (``invite_link``).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cove.client.errors import ClientError, NoPermission, UsageProblem
from cove.client.features import invites_store as S
from cove.client.features.invites_errors import from_relay
from cove.client.features.invites_room import moderators_group_id
from cove.client.features.join_settings import change_join_settings, join_settings
from cove.client.features.moderation import require_policed, roles
from cove.client.features.rules import current_rules
from cove.client.group_state import GroupRecord, metadata
from cove.client.invites import create_link, list_links, revoke_link, update_link_preview
from cove.client.profile import SUITE, capabilities, group_config, validator
from cove.client.transport import RelayError
from cove.protocol import Group
from cove.protocol.app.moderators_records import IntakeKeyShare, LinkShare
from cove.protocol.app.records import new_record_id
from cove.protocol.group_metadata import GroupKind, GroupMetadata
from cove.protocol.invites import (
    IntakeKey,
    IntakeKeyPair,
    InviteLink,
    JoinSettings,
    LinkEntry,
    LinkMode,
    LinkPreview,
    derive_intake_key,
    intake_exporter_context,
    link_id_text,
    new_invite_link,
    parse_invite_link,
    seal_preview,
)
from cove.protocol.invites.intake import INTAKE_EXPORTER_LABEL
from cove.protocol.invites.preview import MAX_QUESTION_BYTES, MAX_QUESTIONS
from cove.protocol.policy import initial_extensions
from cove.protocol.wire import envelopes as E

if TYPE_CHECKING:
    from cove.client.service import CoveClient

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_MAX_USES",
    "LinkView",
    "Links",
    "moderators_group_id",
]

DEFAULT_EXPIRES_IN = 7 * 24 * 3600
DEFAULT_MAX_USES = 25
QR_FORMATS = ("terminal", "png", "svg")


@dataclass(frozen=True, slots=True)
class LinkView:
    """A link as moderators see it. ``url`` holds the secret (``""`` if another
    moderator made it); ``uses`` the relay's count, ``counted`` the group's."""

    link_id: str
    mode: str
    expires_at: int
    max_uses: int
    uses: int = 0
    registrations: int = 0
    waiting: int = 0
    counted: int = 0
    revoked: bool = False
    questions: tuple[str, ...] = ()
    url: str = ""

    def __repr__(self) -> str:
        return f"LinkView({self.link_id}, {self.mode}, <url hidden>)"

    def doc(self) -> dict[str, object]:
        return {
            "link_id": self.link_id, "mode": self.mode, "expires_at": self.expires_at,
            "max_uses": self.max_uses, "uses": self.uses, "registrations": self.registrations,
            "waiting": self.waiting, "counted": self.counted, "revoked": self.revoked,
            "questions": list(self.questions), "url": self.url,
        }  # fmt: skip


def _check_questions(questions: tuple[str, ...]) -> None:
    if len(questions) > MAX_QUESTIONS:
        raise UsageProblem(f"a link asks at most {MAX_QUESTIONS} questions")
    for q in questions:
        if not q.strip() or "\n" in q or len(q.encode()) > MAX_QUESTION_BYTES:
            raise UsageProblem(f"a question is one line of 1 to {MAX_QUESTION_BYTES} bytes")


class Links:
    def __init__(self, client: CoveClient) -> None:
        self.c = client
        #: set by ``Invites``: the moderators' group follows the roles (invites_roles)
        self.follow: Callable[[bytes], Awaitable[object]] | None = None

    # -- helpers --------------------------------------------------------------------

    async def _group(self, group_id: bytes) -> Group:
        async with self.c.store.transaction() as txn:
            record, group = await self.c.states.load(txn, group_id)
            self.c.states.keep(record, group)
        return group

    async def require_moderator(self, group_id: bytes) -> Group:
        await self.c.runner.sync_group(group_id)
        group = await self._group(group_id)
        require_policed(group)
        if roles(group).get(self.c.account.handle) not in ("moderator", "owner"):
            raise NoPermission("only the group's moderators and owners manage invite links")
        return group

    async def preview_of(
        self, group: Group, link: InviteLink, kept: S.KeptLink, intake: IntakeKey | None
    ) -> LinkPreview:
        meta = metadata(group)
        async with self.c.store.transaction() as txn:
            rules = await current_rules(txn, group.group_id)
        settings = join_settings(group)
        a = self.c.account
        return LinkPreview(
            group_id=group.group_id, link_id=link.link_id, mode=LinkMode(kept.mode),
            group_name=meta.name or "(unnamed group)", description=meta.description,
            rules_version=rules.version if rules else 0, rules_salt=rules.salt if rules else b"",
            rules_text=rules.text if rules else "", questions=kept.questions,
            history=settings.history, inviter_handle=a.handle,
            inviter_identity_key=a.identity_key,
            intake=intake if kept.mode == LinkMode.APPROVAL else None,
            max_uses=kept.max_uses, expires_at=kept.expires_at, created_at=kept.created_at,
        )  # fmt: skip

    def seal(self, preview: LinkPreview, link: InviteLink) -> bytes:
        return seal_preview(preview, link, self.c.account.identity_private, self.c.rng)

    # -- the moderators' group and the intake key -----------------------------------

    async def _create_moderators_group(self, group_id: bytes, name: str) -> bytes:
        mod_id = moderators_group_id(group_id)
        async with self.c.store.transaction() as txn:
            if await self.c.states.record(txn, mod_id) is not None:
                return mod_id
        a, now = self.c.account, self.c.clock.now()
        title = f"moderators of {name}"[:100] if name else "moderators"
        meta = GroupMetadata(GroupKind.GROUP, title, "").validate()
        group = Group.create(
            SUITE, mod_id, a.identity().credential(), self.c.rng,
            signature_private=a.device_private,
            extensions=initial_extensions(a.identity_key, meta.extension()),
            capabilities=capabilities(), config=group_config(), now=now,
            credential_validator=validator,
        )  # fmt: skip
        try:
            await self.c.ctx.session.request("create_group", E.CreateGroupRequest(group_id=mod_id))
        except RelayError as exc:
            raise from_relay(exc) from None
        async with self.c.store.transaction() as txn:
            await self.c.states.save(txn, GroupRecord(mod_id, last_update=now), group)
        return mod_id

    async def ensure_intake(self, group: Group) -> IntakeKeyPair:
        """The current intake key pair; the first time, create the moderators' group
        (this moderator, and every other moderator and owner who can be added) and
        derive generation 1 from its exporter."""
        settings = join_settings(group)
        async with self.c.store.transaction() as txn:
            pairs = await S.intake_pairs(txn, group.group_id)
        if settings.intake is not None:
            pair = pairs.get(settings.intake.generation)
            if pair is None:  # the Welcome to the moderators' group, or the key, may wait
                await self.c.sync()
                async with self.c.store.transaction() as txn:
                    pair = (await S.intake_pairs(txn, group.group_id)).get(
                        settings.intake.generation
                    )
            if pair is not None and pair.public == settings.intake:
                return pair
            derived = await self.derive(group.group_id, settings.intake.generation)
            if derived is not None and derived.public == settings.intake:
                return derived
            raise ClientError(
                f"this group's moderators' key (generation {settings.intake.generation}) was "
                "made before you joined the moderators' group; ask the moderator who made it"
            )
        mod_id = await self._create_moderators_group(group.group_id, metadata(group).name)
        me = self.c.account.handle
        others = [h for h, r in roles(group).items() if r in ("moderator", "owner") and h != me]
        for handle in others:
            try:
                await self.c.group_ops.add(mod_id, [handle])
            except ClientError:
                continue  # no KeyPackage now: a later sync adds her (invites_roles)
        if self.follow is not None:  # every moderator made an owner of it (invites_roles)
            await self.follow(group.group_id)
        pair = await self.derive(group.group_id, 1)
        assert pair is not None
        await self.share(group.group_id, IntakeKeyShare(
            id=new_record_id(self.c.rng), sent_at=self.c.clock.now(), group=group.group_id,
            generation=pair.generation, private_key=pair.private_key,
        ))  # fmt: skip
        return pair

    async def share(self, group_id: bytes, record: Any) -> bool:
        """Send a note to the other moderators (``invites_room``); False if this member
        is not in the moderators' group or it has nobody else."""
        mod_id = moderators_group_id(group_id)
        async with self.c.store.transaction() as txn:
            if not await self.c.states.is_active(txn, mod_id):
                return False
            record_, mods = await self.c.states.load(txn, mod_id)
            self.c.states.keep(record_, mods)
        if len(mods.members()) < 2:
            return False
        try:
            await self.c.outbox.send_record(mod_id, record)
        except ClientError:
            return False  # the others learn nothing new; this moderator's own log stands
        return True

    async def derive(
        self, group_id: bytes, generation: int, *, keep: bool = True
    ) -> IntakeKeyPair | None:
        mod_id = moderators_group_id(group_id)
        async with self.c.store.transaction() as txn:
            if not await self.c.states.is_active(txn, mod_id):
                return None
            record, mods = await self.c.states.load(txn, mod_id)
            self.c.states.keep(record, mods)
            value = mods.export_secret(
                INTAKE_EXPORTER_LABEL, intake_exporter_context(group_id, generation), 32
            )
            pair = derive_intake_key(value, generation)
            if keep:
                await S.keep_intake(txn, group_id, pair)
        return pair

    # -- links ----------------------------------------------------------------------

    async def create(
        self, group_id: bytes, *, open_link: bool, expires_in: int, max_uses: int,
        questions: tuple[str, ...],
    ) -> LinkView:  # fmt: skip
        questions = tuple(q.strip() for q in questions)
        _check_questions(questions)
        if open_link and questions:
            raise UsageProblem("an open link admits without asking: questions need approval")
        if not 1 <= max_uses <= 10000:
            raise UsageProblem("a link may be used 1 to 10000 times")
        if not 60 <= expires_in <= 365 * 86400:
            raise UsageProblem("a link lasts from one minute to a year")
        group = await self.require_moderator(group_id)
        if metadata(group).kind != GroupKind.GROUP:
            raise UsageProblem("invite links are for groups, not private conversations")
        if open_link and not join_settings(group).open_links:
            raise UsageProblem(
                "open links are off in this group: an owner allows them first "
                "('cove group open-links GROUP on'); or make an approval link"
            )
        pair = None if open_link else await self.ensure_intake(group)
        group = await self._group(group_id)
        a, now = self.c.account, self.c.clock.now()
        link = new_invite_link(a.relay, a.handle, a.identity_key, self.c.rng)
        mode = LinkMode.OPEN if open_link else LinkMode.APPROVAL
        kept = S.KeptLink(group_id, link.url, int(mode), questions, now + expires_in, max_uses, now)
        preview = await self.preview_of(group, link, kept, pair.public if pair else None)
        sealed = self.seal(preview, link)
        try:
            info = await create_link(
                self.c.ctx.session, group_id, link, open_link=open_link,
                expires_at=kept.expires_at, max_uses=max_uses, sealed_preview=sealed,
            )  # fmt: skip
        except RelayError as exc:
            raise from_relay(exc) from None
        async with self.c.store.transaction() as txn:
            await S.keep_link(txn, link.link_id, kept)
        keys = link.keys()
        entry = LinkEntry(link.link_id, mode, keys.signing_public, keys.groupinfo_public, max_uses)

        def change(s: JoinSettings) -> JoinSettings:
            if pair is not None and s.intake != pair.public:
                s = replace(s, intake=pair.public)
            return s.with_link(entry)

        try:
            await change_join_settings(self.c.outbox, group_id, change, now=self.c.clock.now)
        except BaseException:
            await revoke_link(self.c.ctx.session, group_id, link.link_id)
            async with self.c.store.transaction() as txn:
                await txn.delete(S.LINKS, link.link_id)
            raise
        await self.share(group_id, LinkShare(
            id=new_record_id(self.c.rng), sent_at=now, group=group_id, url=link.url,
            mode=int(mode), questions="\n".join(questions), expires_at=kept.expires_at,
            max_uses=max_uses, created_at=now,
        ))  # fmt: skip
        if open_link:
            await self.c.open_links.publish(group_id)
        return LinkView(
            link.link_id_text, mode.name.lower(), info.expires_at, info.max_uses, info.uses,
            info.registrations, info.waiting, 0, False, questions, link.url,
        )  # fmt: skip

    async def list(self, group_id: bytes) -> list[LinkView]:
        group = await self.require_moderator(group_id)
        settings = join_settings(group)
        try:
            listing = await list_links(self.c.ctx.session, group_id)
        except RelayError as exc:
            raise from_relay(exc) from None
        async with self.c.store.transaction() as txn:
            kept = await S.kept_links(txn, group_id)
        out = []
        for info in listing.links:
            entry = settings.link(info.link_id)
            k = kept.get(info.link_id)
            out.append(LinkView(
                link_id_text(info.link_id), info.mode, info.expires_at, info.max_uses,
                info.uses, info.registrations, info.waiting, entry.used if entry else 0,
                info.revoked_at is not None or entry is None,
                k.questions if k else (), k.url if k and entry else "",
            ))  # fmt: skip
        return out

    async def resolve(self, group_id: bytes, ref: str) -> bytes:
        """A link id from its text (or a unique start of it, at least 4 characters)."""
        text = ref.strip().lower()
        if "/j/" in text:
            text = text.split("/j/", 1)[1].split("#", 1)[0]
        views = await self.list(group_id)
        hits = [v for v in views if len(text) >= 4 and v.link_id.startswith(text)]
        if len(hits) != 1:
            raise UsageProblem(
                f"'{ref}' names no link of this group"
                if not hits
                else f"'{ref}' starts more than one link id; give more of it"
            )
        from cove.protocol.invites import link_id_from_text

        return link_id_from_text(hits[0].link_id)

    async def revoke(self, group_id: bytes, ref: str) -> LinkView:
        link_id = await self.resolve(group_id, ref)
        try:
            info = await revoke_link(self.c.ctx.session, group_id, link_id)
        except RelayError as exc:
            raise from_relay(exc) from None
        await change_join_settings(
            self.c.outbox, group_id, lambda s: s.without_link(link_id), now=self.c.clock.now
        )
        async with self.c.store.transaction() as txn:
            await txn.delete(S.LINKS, link_id)
        return LinkView(
            link_id_text(link_id), info.mode, info.expires_at, info.max_uses, info.uses,
            info.registrations, info.waiting, 0, True,
        )  # fmt: skip

    async def kept(self, group_id: bytes, ref: str) -> InviteLink:
        link_id = await self.resolve(group_id, ref)
        async with self.c.store.transaction() as txn:
            kept = (await S.kept_links(txn, group_id)).get(link_id)
        if kept is None:
            raise UsageProblem(
                "this device does not hold that link's secret (another moderator made it, "
                "or it was revoked)"
            )
        return parse_invite_link(kept.url)

    async def qr(self, group_id: bytes, ref: str, fmt: str = "terminal") -> bytes:
        """The link as a QR code: ``terminal`` (text), ``png`` or ``svg`` (file bytes).
        Byte mode, error correction M (decision 0019)."""
        if fmt not in QR_FORMATS:
            raise UsageProblem(f"a QR code is one of {', '.join(QR_FORMATS)}")
        link = await self.kept(group_id, ref)
        return qr_code(link.url, fmt)

    async def refresh_previews(self, group_id: bytes) -> int:
        """Re-seal the preview of every live link this moderator made (after a rename,
        a rules change or an intake key rotation); returns how many were updated."""
        group = await self.require_moderator(group_id)
        settings = join_settings(group)
        async with self.c.store.transaction() as txn:
            kept = await S.kept_links(txn, group_id)
        done = 0
        for link_id, k in kept.items():
            if settings.link(link_id) is None or k.expires_at <= self.c.clock.now():
                continue
            link = parse_invite_link(k.url)
            if not link.pins(self.c.account.handle, self.c.account.identity_key):
                continue  # another moderator's link: she re-seals it
            preview = await self.preview_of(group, link, k, settings.intake)
            try:
                await update_link_preview(
                    self.c.ctx.session, group_id, link_id, self.seal(preview, link)
                )
            except RelayError as exc:
                raise from_relay(exc) from None
            done += 1
        return done


def qr_code(text: str, fmt: str) -> bytes:
    import segno

    code = segno.make(text, error="m", mode="byte", micro=False, boost_error=False)
    out = io.BytesIO()
    if fmt == "terminal":
        buf = io.StringIO()
        code.terminal(out=buf, compact=True)
        return buf.getvalue().encode("utf-8")
    code.save(out, kind=fmt, scale=8 if fmt == "png" else 4, border=4)
    return out.getvalue()
