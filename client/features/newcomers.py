"""What a newcomer receives: the welcome message and the history bundle (app records
48 ``WelcomeMessage`` and 49 ``HistoryShare``), and the group settings every member
is shown (``docs/protocol/invites.md`` §11–§12).

* **Moderators set** the welcome text (a ``WelcomeMessage`` without ``newcomer``;
  the latest in log order wins) and the history level (``JoinSettings.history``,
  one commit every member's policy checks): nothing; thread titles, pinned
  resources and rules; or full history.
* **Greeting** (:meth:`Newcomers.greet`, right after a commit that added people:
  ``cove group add``, an approved join request, an open-link join): a moderator's
  app sends, in the new epoch, the current rules again (the newcomer cannot read
  the old record), the members' signed acceptances of them (``AcceptanceList``,
  :meth:`~cove.client.features.rules.RulesFeature.send_acceptance_list`: her app
  refuses a post from anyone whose acceptance it has not seen), a
  ``WelcomeMessage`` with ``newcomer`` set, and — unless the
  level is nothing — the history bundle built from its store
  (:mod:`.history_bundle`), encrypted like an attachment, uploaded as a group
  blob, its key sealed to each of the newcomer's leaves, one ``HistoryShare``
  per leaf.
* **The newcomer's app** keeps a share addressed to her when it arrives, and
  once that batch of the log is processed (:meth:`Newcomers.follow_up`, before
  her own next commit replaces her leaf key) opens its key with
  her leaf's private key, downloads and opens the bundle, checks it against the
  group's level (``invite.history.beyond_setting`` and the other
  ``invite.history.*`` refusals are events) and imports it. Her greeting is
  shown at the top of the group.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, ClassVar, cast

from cove.client.attachments import BLOB_LIMIT
from cove.client.context import Context
from cove.client.errors import ClientError, NoPermission, UsageProblem
from cove.client.features import Feature, Incoming, register
from cove.client.features import history_bundle as hb
from cove.client.features import rules_gate as gate
from cove.client.features.join_settings import change_join_settings, join_settings
from cove.client.features.moderation import add_event, roles, roster_of
from cove.client.features.rules import RulesFeature, RulesView, is_moderator
from cove.client.group_ops import GroupOps
from cove.client.group_state import GroupStates, metadata
from cove.client.messages import MessageStore
from cove.client.records import MessageView
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.client.sync.runner import SyncRunner
from cove.protocol import Group
from cove.protocol.app import AppRecord, new_record_id
from cove.protocol.app.join_records import HistoryShare, WelcomeMessage
from cove.protocol.invites import (
    HistoryLevel,
    InviteRefused,
    JoinSettings,
    build_bundle,
    check_bundle,
    open_bundle,
    open_bundle_key,
    seal_bundle,
    seal_bundle_key,
)
from cove.protocol.invites.errors import RULES as INVITE_RULES
from cove.protocol.wire.schema import Bytes, Int, Str

__all__ = ["LEVELS", "GroupSettings", "Newcomers", "parse_level"]

NEWCOMERS = "newcomers"  # keys: b"w" + group (welcome text), b"p" + record id (a share)
I63 = 2**63 - 1
LEVELS = {"nothing": HistoryLevel.NOTHING, "titles": HistoryLevel.TITLES,
          "full": HistoryLevel.FULL}  # fmt: skip
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
MAX_WELCOME = 2000

Send = Callable[[bytes, AppRecord], Awaitable[bytes]]


def _app(record: object) -> AppRecord:
    """A feature record (registered by number, not in the AppRecord union) to send."""
    return cast("AppRecord", record)


def parse_level(level: str | HistoryLevel) -> HistoryLevel:
    if isinstance(level, HistoryLevel):
        return level
    found = LEVELS.get(level.strip().lower())
    if found is None:
        raise UsageProblem(f"'{level}' is not a history level: nothing, titles or full")
    return found


# -- the local records ----------------------------------------------------------------


@dataclass(slots=True)
class WelcomeRow(StoreRecord):
    """The group's welcome text (``newcomers``, key ``b"w"`` + group id)."""

    KIND: ClassVar[str] = "welcome"

    group: Annotated[bytes, Bytes(1, 255)]
    text: Annotated[str, Str(0, MAX_WELCOME)]
    set_by: Annotated[str, Str(1, 64)]

    def __repr__(self) -> str:
        return f"WelcomeRow(set_by={self.set_by!r}, <text redacted>)"


@dataclass(slots=True)
class PendingShare(StoreRecord):
    """A history share addressed to us, not yet imported (``newcomers``, key ``b"p"`` +
    the record id, partition: the group). ``key`` once opened."""

    KIND: ClassVar[str] = "history_share"

    group: Annotated[bytes, Bytes(1, 255)]
    seq: Annotated[int, Int(0, I63)]
    epoch: Annotated[int, Int(0, I63)]
    sharer: Annotated[str, Str(1, 64)]
    share: Annotated[bytes, Bytes(1, 1 << 16)]
    key: Annotated[bytes | None, Bytes(32, 32)] = None

    def __repr__(self) -> str:
        return f"PendingShare(seq={self.seq}, <key redacted>)"


def _welcome_key(group_id: bytes) -> bytes:
    return b"w" + group_id


async def welcome_row(txn: Txn, group_id: bytes) -> WelcomeRow | None:
    value = await txn.get(NEWCOMERS, _welcome_key(group_id))
    return None if value is None else WelcomeRow.unpack(value)


# -- receiving ------------------------------------------------------------------------


async def receive(incoming: Incoming) -> MessageView | None:
    """(Allowed by the policy: from a moderator.) Keep the welcome text; show our own
    greeting at the top of the group; keep a history share addressed to us."""
    record, txn, gid = incoming.record, incoming.txn, incoming.group_id
    me = await _my_key(txn)
    if isinstance(record, WelcomeMessage):
        if record.newcomer is None:
            await txn.put(NEWCOMERS, _welcome_key(gid),
                          WelcomeRow(gid, record.text, incoming.sender).pack())  # fmt: skip
            return None
        if record.newcomer != me or not record.text:
            return None
        return await add_event(txn, gid, 0, "welcome", f"{incoming.sender}: {record.text}")
    if isinstance(record, HistoryShare) and record.newcomer == me:
        row = PendingShare(gid, incoming.seq, incoming.epoch, incoming.sender, record.encode())
        await txn.put(NEWCOMERS, b"p" + record.id, row.pack(), partition=gid)
    return None


async def _my_key(txn: Txn) -> bytes:
    from cove.client.account import load_account

    account = await load_account(txn)
    return b"" if account is None else account.identity_key


FEATURE = register(
    Feature("newcomers", (WelcomeMessage, HistoryShare), receive)  # type: ignore[arg-type]
)


# -- what the client calls ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupSettings:
    """What every member is shown in the group settings."""

    name: str
    description: str
    history: str  # nothing, titles or full
    history_label: str  # in words
    welcome: str
    rules: RulesView
    open_links: bool
    #: my role, and whether I may change these settings
    role: str
    can_edit: bool


class Newcomers:
    """``client.newcomers``: welcome text, history level, the group settings, greeting
    newcomers and importing what is shared with us."""

    def __init__(
        self,
        ctx: Context,
        states: GroupStates,
        messages: MessageStore,
        send: Send,
        rules: RulesFeature,
        runner: SyncRunner | None = None,
        group_ops: GroupOps | None = None,
    ) -> None:
        self.ctx = ctx
        self.states = states
        self.messages = messages
        self._send = send
        self.rules = rules
        if runner is not None:  # after each sync of a group: import what was shared
            runner.after_sync.append(self.follow_up)
            runner.after_sync.append(rules.follow_up)
        if group_ops is not None:  # ``cove group add``: greet who it added
            group_ops.on_added = self.greet

    async def _upload(self, group_id: bytes, blob: bytes) -> bytes:
        answer = await self.ctx.session.request(
            "upload_blob", raw=blob, path={"group_id": group_id.hex()}
        )
        return bytes(answer.blob_id)

    async def _download(self, group_id: bytes, blob_id: bytes) -> bytes:
        data = await self.ctx.session.request(
            "download_blob", path={"group_id": group_id.hex(), "blob_id": blob_id.hex()}
        )
        return bytes(data)

    async def _group(self, group_id: bytes) -> Group:
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        return group

    async def _moderator(self, group_id: bytes, what: str) -> Group:
        group = await self._group(group_id)
        if not is_moderator(group):
            raise NoPermission(f"only moderators and owners can {what}")
        return group

    # -- settings --------------------------------------------------------------------

    async def set_welcome(self, group_id: bytes, text: str) -> None:
        """Moderators: the text each newcomer is greeted with ("" for none)."""
        text = text.strip()
        n = len(text.encode("utf-8"))
        if n > MAX_WELCOME:
            raise UsageProblem(f"a welcome message is at most {MAX_WELCOME} bytes (this is {n})")
        if any(ord(c) < 32 and c not in "\n\t" for c in text):
            raise UsageProblem("the welcome message contains a control character")
        await self._moderator(group_id, "set the welcome message")
        record = WelcomeMessage(id=new_record_id(self.ctx.rng), sent_at=self.ctx.clock.now(),
                                text=text)  # fmt: skip
        await self._send(group_id, _app(record))
        async with self.ctx.store.transaction() as txn:
            row = WelcomeRow(group_id, text, self.ctx.account.handle)
            await txn.put(NEWCOMERS, _welcome_key(group_id), row.pack())

    async def welcome(self, group_id: bytes) -> str:
        async with self.ctx.store.transaction() as txn:
            row = await welcome_row(txn, group_id)
        return "" if row is None else row.text

    async def set_history(self, group_id: bytes, level: str | HistoryLevel) -> bool:
        """Moderators: what newcomers receive of the group's past (one commit every
        member's app checks). False if it was already so."""
        chosen = parse_level(level)
        await self._moderator(group_id, "choose what newcomers see")

        def change(settings: JoinSettings) -> JoinSettings:
            return replace(settings, history=chosen)

        changed = await change_join_settings(
            self.rules.outbox, group_id, change, now=self.ctx.clock.now
        )
        if changed:
            await self.rules.refresh_previews(group_id)
        return changed

    async def settings(self, group_id: bytes) -> GroupSettings:
        group = await self._group(group_id)
        js = join_settings(group)
        meta = metadata(group)
        me = self.ctx.account.handle
        role = roles(group).get(me, "member")
        return GroupSettings(
            meta.name, meta.description, LEVEL_NAMES[js.history], js.history.label,
            await self.welcome(group_id), await self.rules.show(group_id), js.open_links,
            role, is_moderator(group),
        )  # fmt: skip

    # -- greeting newcomers (moderators) ----------------------------------------------

    async def greet(self, group_id: bytes, identity_keys: Sequence[bytes]) -> None:
        """After the commit that added them: send the group's welcome message and the
        history bundle its setting allows to each newcomer (moderators only)."""
        group = await self._group(group_id)
        if not is_moderator(group):
            return
        present = {m.identity_key for m in roster_of(group)}
        keys = [k for k in dict.fromkeys(identity_keys) if k in present]
        if not keys:
            return
        await self.rules.resend(group_id)
        text = await self.welcome(group_id)
        level = join_settings(group).history
        for key in keys:
            await self.rules.send_acceptance_list(group_id, key)
            if text:
                await self._send(group_id, _app(WelcomeMessage(
                    id=new_record_id(self.ctx.rng), sent_at=self.ctx.clock.now(), text=text,
                    newcomer=key,
                )))  # fmt: skip
            if level != HistoryLevel.NOTHING:
                await self._share(group_id, key, level)

    async def _share(self, group_id: bytes, newcomer: bytes, level: HistoryLevel) -> None:
        async with self.ctx.store.transaction() as txn:
            rows = await self.messages.group(txn, group_id)
            rules = await gate.rules_row(txn, group_id)
        if rules is not None and rules.seq is None:
            async with self.ctx.store.transaction() as txn:
                found = await self.messages.find(txn, rules.record_id)
            rules.seq = found[1].seq if found else None
        items = hb.bundle_items(rows, level, rules)
        up_to = max((i.position for i in items), default=0)
        bundle = build_bundle(group_id, newcomer, level, items, up_to)
        sealed = seal_bundle(bundle, self.ctx.rng)
        if len(sealed.blob) > BLOB_LIMIT:
            raise UsageProblem(
                f"the newcomer was added, but the group's history is too large to share "
                f"({len(sealed.blob):,} bytes encrypted; the relay takes at most "
                f"{BLOB_LIMIT:,}): choose 'titles' with 'cove group history'"
            )
        blob_id = await self._upload(group_id, sealed.blob)
        group = await self._group(group_id)
        roster = roster_of(group)
        for m in group.members():
            member = roster.at(m.leaf_index)
            if member is None or member.identity_key != newcomer:
                continue
            kem_output, sealed_key = seal_bundle_key(
                group.suite, m.encryption_key, group_id=group_id, epoch=group.epoch,
                newcomer=newcomer, key=sealed.key, rng=self.ctx.rng,
            )  # fmt: skip
            await self._send(group_id, _app(HistoryShare(
                id=new_record_id(self.ctx.rng), sent_at=self.ctx.clock.now(), newcomer=newcomer,
                level=int(bundle.level), blob_id=blob_id, sha256=sealed.sha256,
                size=sealed.size, chunk_size=sealed.chunk_size, kem_output=kem_output,
                sealed_key=sealed_key,
            )))  # fmt: skip

    # -- the newcomer's side -----------------------------------------------------------

    async def follow_up(self, group_id: bytes) -> None:
        """After a sync of the group: import the history shared with us."""
        async with self.ctx.store.transaction() as txn:
            pending = [
                (k, PendingShare.unpack(v))
                for k, v in await txn.scan(NEWCOMERS, partition=group_id)
            ]
        for key, row in pending:
            with contextlib.suppress(ClientError):  # the relay is away: next sync
                await self._import(key, row)

    async def _import(self, row_key: bytes, row: PendingShare) -> None:
        share = HistoryShare.decode(row.share)
        me = self.ctx.account.identity_key
        group = await self._group(row.group)
        if row.key is None:
            private = group.leaf_private_key()
            try:
                if private is None:
                    raise InviteRefused("invite.history.undecryptable")
                opened = open_bundle_key(
                    group.suite, private, group_id=row.group, epoch=row.epoch, newcomer=me,
                    kem_output=share.kem_output, sealed_key=share.sealed_key,
                )  # fmt: skip
            except InviteRefused:  # sealed to another of our devices' leaves
                async with self.ctx.store.transaction() as txn:
                    await txn.delete(NEWCOMERS, row_key)
                return
            row.key = opened
            async with self.ctx.store.transaction() as txn:
                await txn.put(NEWCOMERS, row_key, row.pack(), partition=row.group)
        blob = await self._download(row.group, share.blob_id)
        settings = join_settings(group)
        try:
            bundle = open_bundle(
                blob, row.key, sha256=share.sha256, size=share.size, chunk_size=share.chunk_size
            )
            check_bundle(bundle, level=settings.history, group_id=row.group, newcomer=me)
        except InviteRefused as exc:
            async with self.ctx.store.transaction() as txn:
                await add_event(
                    txn, row.group, row.seq, "refused",
                    f"{row.sharer} tried to share the group's history with you — refused: "
                    f"{INVITE_RULES[exc.rule]}",
                    exc.rule,
                )  # fmt: skip
                await txn.delete(NEWCOMERS, row_key)
            return
        async with self.ctx.store.transaction() as txn:
            kept = await hb.import_items(
                txn, self.messages, row.group, bundle.items, row.sharer,
                settings.rules, self.ctx.clock.now(),
            )  # fmt: skip
            what = "thread titles" if bundle.level == HistoryLevel.TITLES else "history"
            await add_event(
                txn, row.group, row.seq, "change",
                f"{row.sharer} shared the group's {what} with you ({kept} messages)",
            )  # fmt: skip
            await txn.delete(NEWCOMERS, row_key)
