"""The reference client's facade: what the ``cove`` command and the local app call.

::

    CoveClient (this module: thin; every method delegates)
      ├─ Context           store, account, rng, clock, RelaySession (session.py)
      ├─ GroupStates       group records and MLS state (group_state.py)
      ├─ SyncRunner        sync, inbox and joins, maintenance (sync/runner.py)
      │                    and push (sync/listen.py)
      ├─ Outbox            commits, proposals, records: stored, then posted (outbox.py)
      ├─ Trust             identity pins, safety numbers (trust.py)
      ├─ KeyPackages       (key_packages.py)       Attachments (attachments.py)
      ├─ GroupOps          group operations and views (group_ops.py)
      └─ features          content (features/content.py) and the feature registry

Opening a store written by an older Cove migrates it first (migration.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cove.client import account as acct
from cove.client.account import Account
from cove.client.attachments import Attachments, FileData, Source
from cove.client.clock import Clock, SystemClock
from cove.client.context import Context
from cove.client.drafts import Draft, Drafts
from cove.client.errors import ClientError, NotInitialized, UnknownMessage, UsageProblem
from cove.client.features import moderation as mod
from cove.client.features.content import Content
from cove.client.features.invites import Invites
from cove.client.features.moderation_actions import Moderation, drop_at_relay
from cove.client.features.newcomers import Newcomers
from cove.client.features.open_links import OpenLinks
from cove.client.features.rules import RulesFeature
from cove.client.group_ops import GroupOps
from cove.client.group_state import GroupStates
from cove.client.key_packages import KeyPackages
from cove.client.messages import MessageStore, quarantine_doc
from cove.client.migration import migrate
from cove.client.outbox import Outbox
from cove.client.reading import Reading, count_unread
from cove.client.records import GroupView, MemberView, MessageView
from cove.client.session import RelaySession
from cove.client.store import KdfParams, Store
from cove.client.sync.integrity import DetectionView
from cove.client.sync.listen import OnMessage, OnStatus, OnSync
from cove.client.sync.listen import listen as listen_loop
from cove.client.sync.runner import Applied, SyncReport, SyncRunner
from cove.client.trust import Trust
from cove.protocol import OsRandom, RandomProvider
from cove.protocol.app import AppRecord
from cove.protocol.group_metadata import GroupKind

__all__ = [
    "CoveClient", "Draft", "FileData", "GroupView", "MemberView", "MessageView", "SyncReport",
]  # fmt: skip

STORE_FILE = acct.STORE_FILE


class CoveClient:
    """One member's client over one home folder. Open with :meth:`open` or :meth:`init`."""

    def __init__(
        self,
        home: Path,
        store: Store,
        account: Account,
        *,
        clock: Clock | None = None,
        rng: RandomProvider | None = None,
    ) -> None:
        async def keep_token(token: str) -> None:
            account.token = token
            await self.ctx.save_account()

        session = RelaySession(
            account.relay,
            account.token,
            lambda: (account.handle, account.device_private, account.device_key),
            keep_token,
        )
        rng = rng or OsRandom()
        self.ctx = ctx = Context(home, store, account, rng, clock or SystemClock(), session)
        self.states = GroupStates(rng)
        self.messages = MessageStore()
        self.trust_store = Trust(ctx, self.states)
        self.key_packages = KeyPackages(ctx)
        self.runner = SyncRunner(
            ctx, self.states, self.messages, self.trust_store, self.key_packages
        )
        self.outbox = Outbox(
            ctx, self.states, self.messages, self.trust_store, self.runner.sync_group
        )
        self.runner.outbox = self.outbox
        self.group_ops = GroupOps(ctx, self.states, self.trust_store, self.outbox, self.runner)
        self.moderation = Moderation(ctx, self.states, self.trust_store, self.outbox)
        self.attachments = Attachments(ctx, self.states, self.messages)
        self.content = Content(ctx, self.messages, self.send_record, self.attachments.upload)
        self.reading = Reading(ctx)
        self.drafts = Drafts(ctx)
        # Joining (issue 11): each feature is one object; the CLI and the app call them.
        self.rules = RulesFeature(ctx, self.states, self.outbox, self.outbox.send_record, self)
        self.newcomers = Newcomers(ctx, self.states, self.messages, self.outbox.send_record,
                                   self.rules, self.runner, self.group_ops)  # fmt: skip
        self.open_links = OpenLinks(ctx, self.states, self.outbox, self.trust_store, self.newcomers)
        self.runner.on_link_joins.append(self.open_links.greet_link_joins)
        self.invites = Invites(self)

    def __repr__(self) -> str:
        return f"CoveClient(home={str(self.home)!r}, handle={self.account.handle!r})"

    @property
    def home(self) -> Path:
        return self.ctx.home

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def account(self) -> Account:
        return self.ctx.account

    @property
    def rng(self) -> RandomProvider:
        return self.ctx.rng

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    # -- lifecycle ----------------------------------------------------------------------

    @staticmethod
    def store_path(home: Path) -> Path:
        return acct.store_path(home)

    @classmethod
    async def open(
        cls,
        home: Path,
        passphrase: str,
        *,
        clock: Clock | None = None,
        kdf_floor: KdfParams | None = None,
    ) -> CoveClient:
        """Open the account in ``home`` (migrating a store an older Cove wrote).
        ``kdf_floor``: see :meth:`Store.open` (tests only)."""
        store = await acct.open_store(home, passphrase, kdf_floor)
        try:
            rng = OsRandom()
            await migrate(store, rng)
            async with store.transaction() as txn:
                account = await acct.load_account(txn)
            if account is None:
                raise NotInitialized("the store has no account")
        except BaseException:
            await store.close()
            raise
        return cls(home, store, account, clock=clock, rng=rng)

    @classmethod
    async def init(
        cls,
        home: Path,
        passphrase: str,
        relay: str,
        handle: str,
        invite: str | None,
        *,
        kdf: Any = None,
        clock: Clock | None = None,
    ) -> CoveClient:
        """Create keys and the encrypted store, register with the relay, upload KeyPackages."""
        store, account = await acct.register(home, passphrase, relay, handle, invite, kdf=kdf)
        client = cls(home, store, account, clock=clock)
        await client.key_packages.replenish(force=True)
        return client

    async def close(self) -> None:
        await self.ctx.session.close()
        await self.ctx.store.close()

    async def __aenter__(self) -> CoveClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, name: str, request: Any = None, **kwargs: Any) -> Any:
        """One relay call (logged in; RelayError on refusal, RelayUnreachableError if down)."""
        return await self.ctx.session.call(name, request, **kwargs)

    async def settings(
        self, *, update_days: float | None = None, update_messages: int | None = None
    ) -> dict[str, float]:
        """Read or change the post-compromise-security schedule: a self-update commit in
        each group at least every ``update_days`` days and every ``update_messages``
        messages sent (and always after a member is removed)."""
        if acct.apply_settings(self.account, update_days, update_messages):
            await self.ctx.save_account()
        return {
            "update_days": self.account.update_interval / 86400,
            "update_messages": self.account.update_after_messages,
        }

    # -- groups -------------------------------------------------------------------------

    async def resolve_group(self, ref: str) -> bytes:
        return await self.group_ops.resolve(ref)

    async def create_group(
        self, name: str, description: str = "", *, kind: GroupKind = GroupKind.GROUP, peer: str = ""
    ) -> bytes:
        return await self.group_ops.create(name, description, kind=kind, peer=peer)

    async def add_members(self, group_id: bytes, handles: Sequence[str]) -> list[str]:
        return await self.group_ops.add(group_id, handles)

    async def remove_member(self, group_id: bytes, handle: str) -> None:
        await self.moderation.remove(group_id, handle)

    async def set_role(self, group_id: bytes, handle: str, role: str) -> None:
        """Owners: ``role`` is owner, moderator or member (a policy-checked commit)."""
        await self.moderation.set_role(group_id, handle, role)

    async def ban(self, group_id: bytes, handle: str, *, reason: str = "") -> None:
        """Moderators and owners: remove and ban in one commit; ``reason`` (optional)
        is sent to the members encrypted, never to the relay."""
        await self.moderation.ban(group_id, handle, reason)

    async def unban(self, group_id: bytes, handle: str, *, reason: str = "") -> None:
        await self.moderation.unban(group_id, handle, reason)

    async def roles(self, group_id: bytes) -> dict[str, str]:
        """Each member's role by handle: owner, moderator or member."""
        return await self.moderation.roles(group_id)

    async def banned(self, group_id: bytes) -> list[str]:
        return await self.moderation.banned(group_id)

    async def events(self, group_id: bytes) -> list[MessageView]:
        """The group's events in log order: refusals (\"cara tried to remove ana —
        refused: …\"), membership, role and name changes, relay mismatches."""
        async with self.store.transaction() as txn:
            rows = await mod.events(txn, group_id)
        return mod.merge([], rows)

    async def leave_group(self, group_id: bytes) -> None:
        await self.group_ops.leave(group_id)

    async def update_keys(self, group_id: bytes) -> None:
        await self.group_ops.update_keys(group_id)

    async def rename_group(
        self, group_id: bytes, name: str, description: str | None = None
    ) -> None:
        await self.group_ops.rename(group_id, name, description)

    async def groups(self) -> list[GroupView]:
        return await self.group_ops.groups()

    async def members(self, group_id: bytes) -> list[MemberView]:
        """The group's members with safety numbers, key changes and whether this member
        confirmed each one's safety number (``verified``)."""
        views = await self.group_ops.members(group_id)
        ok = await self.trust_store.verified([v.handle for v in views if not v.me])
        return [
            dataclasses.replace(v, verified=v.handle in ok and not v.key_changed) for v in views
        ]

    async def dm_group(self, handle: str) -> bytes | None:
        """The private conversation with ``handle``, if there is one."""
        return await self.group_ops.dm_group(handle)

    # -- sending ------------------------------------------------------------------------

    async def send_record(self, group_id: bytes, record: AppRecord) -> bytes:
        """Encrypt, keep and post one app record (any feature's); then a due self-update.
        If the relay cannot be reached the record stays queued (:meth:`queued`) and the
        next sync sends it."""
        record_id = await self.outbox.send_record(group_id, record)
        with contextlib.suppress(ClientError):
            await self.runner.maybe_self_update(group_id)
        return record_id

    async def flush_outbox(self) -> int:
        """Post everything a crash or an outage left unsent."""
        return await self.outbox.flush()

    async def queued(self, record_id: bytes) -> bool:
        """True while the record waits in the outbox (the relay has not taken it yet)."""
        return await self.outbox.is_queued(record_id)

    # -- content (cove.client.features.content) ----------------------------------------

    async def new_thread(
        self,
        group_id: bytes,
        title: str,
        body: str = "",
        attachments: Sequence[Source] = (),
        *,
        draft: str | None = None,
    ) -> bytes:
        """Start a thread; ``attachments`` are paths or :class:`FileData`; ``draft``
        names a draft to delete once the thread is kept to be sent."""
        record_id = await self.content.new_thread(group_id, title, body, attachments)
        await self._sent(draft)
        return record_id

    async def _sent(self, draft: str | None) -> None:
        if draft is not None:
            await self.drafts.delete(draft)

    async def post(
        self,
        group_id: bytes,
        thread: bytes,
        text: str,
        *,
        reply_to: bytes | None = None,
        attachments: Sequence[Source] = (),
        draft: str | None = None,
    ) -> bytes:
        record_id = await self.content.post(group_id, thread, text, reply_to, attachments)
        await self._sent(draft)
        return record_id

    async def react(self, target: bytes, emoji: str, *, remove: bool = False) -> bytes:
        return await self.content.react(target, emoji, remove)

    async def edit(self, target: bytes, text: str) -> bytes:
        return await self.content.edit(target, text)

    async def delete(self, target: bytes) -> bytes:
        """Delete one's own post or (moderators and owners) anyone's; a moderator's
        app also has the relay drop the post's ciphertext and attachments."""
        record_id = await self.content.delete(target)
        await drop_at_relay(self.ctx, self.states, self.messages, target)
        return record_id

    async def dm(
        self,
        handle: str,
        text: str,
        attachments: Sequence[Source] = (),
        *,
        draft: str | None = None,
    ) -> bytes:
        """A private message: a 2-member group with ``handle``, created on first use."""
        if handle == self.account.handle:
            raise UsageProblem("you cannot send a private message to yourself")
        from cove.client.features.content import check_body

        check_body(text, required=not attachments)
        self.attachments.check(attachments)
        group_id = await self.dm_group(handle)
        if group_id is None:
            group_id = await self.create_group("", kind=GroupKind.DIRECT, peer=handle)
            await self.add_members(group_id, [handle])
        record_id = await self.content.dm(group_id, text, attachments)
        await self._sent(draft)
        return record_id

    async def read(self, group_id: bytes, thread: bytes | None = None) -> list[MessageView]:
        """The group's messages (or one thread's) in log order, edits, reactions and
        deletions applied; with no thread, the group's events (refusals, membership,
        role and name changes) in their place (``type == "event"``)."""
        views = await self.content.read(group_id, thread)
        if thread is not None:
            return views
        async with self.store.transaction() as txn:
            rows = await mod.events(txn, group_id)
        return mod.merge(views, rows)

    # -- reading and drafts (reading.py, drafts.py) -----------------------------------

    async def mark_read(
        self, group_id: bytes, thread: bytes | None = None, *, upto: int | None = None
    ) -> int:
        """Mark a thread (or, with no thread, what is outside threads: private
        messages) read up to the log position ``upto`` — by default everything there
        now. A marker never moves back; returns it."""
        if upto is None:
            views = await self.content.read(group_id, thread)
            if thread is None:
                views = [v for v in views if v.thread is None]
            upto = max((v.seq or 0 for v in views), default=0)
        return await self.reading.mark(group_id, thread, upto)

    async def unread(self, group_id: bytes) -> dict[bytes | None, int]:
        """New messages by others not yet marked read, per thread (None: outside
        threads); only places with any."""
        views = await self.content.read(group_id, None)
        async with self.store.transaction() as txn:
            markers = await self.reading.markers(txn, group_id)
        return count_unread(views, markers, self.account.handle)

    async def save_draft(self, place: str, text: str, title: str = "") -> None:
        """Keep what the member is writing in ``place`` (blank text and title: delete it)."""
        await self.drafts.save(place, text, title)

    async def draft(self, place: str) -> Draft | None:
        return await self.drafts.get(place)

    async def all_drafts(self) -> list[Draft]:
        return await self.drafts.all()

    async def delete_draft(self, place: str) -> None:
        await self.drafts.delete(place)

    async def threads(self, group_id: bytes) -> list[MessageView]:
        return [m for m in await self.content.read(group_id, None) if m.type == "thread"]

    async def resolve_message(self, ref: str) -> bytes:
        """A thread, post or other record id from its hex form or a unique start of it
        (at least 4 hex digits)."""
        text = ref.strip().lower()
        if len(text) < 4 or any(ch not in "0123456789abcdef" for ch in text):
            raise UsageProblem(f"'{ref}' is not an id (hex digits, at least 4)")
        async with self.store.transaction() as txn:
            groups = [r.group_id for r in await self.states.all(txn)]
            ids = await self.messages.ids(txn, groups)
        hits = [i for i in ids if i.hex().startswith(text)]
        if len(hits) > 1:
            raise UsageProblem(f"'{ref}' starts more than one id; give more of it")
        if not hits:
            raise UnknownMessage(f"no message {ref}")
        return hits[0]

    async def get_attachment(
        self, attachment_id: str, out: Path, *, overwrite: bool = False
    ) -> int:
        """Download, verify and decrypt an attachment (by its blob id or a prefix) into ``out``."""
        return await self.attachments.get(attachment_id, out, overwrite=overwrite)

    async def get_attachment_data(self, attachment_id: str) -> FileData:
        """Download, verify and decrypt an attachment into memory (name, bytes, media type)."""
        return await self.attachments.get_data(attachment_id)

    # -- trust --------------------------------------------------------------------------

    async def verify(self, handle: str) -> tuple[str, bool]:
        return await self.trust_store.verify(handle)

    async def trust(self, handle: str) -> None:
        await self.trust_store.trust(handle)

    # -- sync ---------------------------------------------------------------------------

    async def sync(self) -> SyncReport:
        return await self.runner.sync()

    async def apply_entries(self, group_id: bytes, entries: Sequence[tuple[int, bytes]]) -> Applied:
        """Process log entries of one group (as fetched or pushed); returns what they held."""
        return await self.runner.apply_entries(group_id, entries)

    async def detections(self, group_id: bytes | None = None) -> list[DetectionView]:
        """What Cove noticed the relay doing wrong (all groups, or one), oldest first:
        each a kind and a sentence to show (``docs/client/guide.md``)."""
        async with self.store.transaction() as txn:
            return await self.runner.integrity.detections(txn, group_id)

    async def quarantined(self, group_id: bytes) -> list[dict[str, Any]]:
        async with self.store.transaction() as txn:
            return [quarantine_doc(r) for r in await self.messages.quarantined(txn, group_id)]

    async def listen(
        self,
        on_message: OnMessage,
        stop: asyncio.Event | None = None,
        *,
        on_status: OnStatus | None = None,
        on_sync: OnSync | None = None,
    ) -> None:
        """Stay connected; process pushed messages and call ``on_message`` for new records.
        Reconnects with back-off when the relay goes away. ``on_status`` hears about the
        connection, ``on_sync`` gets a report of every sync and every pushed entry."""
        await listen_loop(
            self.ctx,
            self.states,
            self.runner,
            on_message,
            stop or asyncio.Event(),
            on_status,
            on_sync,
        )
