"""The sync runner: awaits the relay and runs the sans-I/O engine over each log page,
one store transaction per page (group state, kept records and cursor together).

::

    sync():  outbox.flush -> inbox (Welcomes: join) -> each group's log, page by page
             -> maintenance (commit waiting proposals, due self-updates) -> KeyPackages

Received app records go to the feature that registered their type
(:mod:`cove.client.features`); a record no feature handles, or one that does not
decode, is quarantined — with its plaintext and sender when it is well formed
but newer than this client, so that it can be read after an upgrade.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cove.client.context import Context
from cove.client.errors import ClientError
from cove.client.features import Incoming, feature_for, moderation, rules_gate
from cove.client.features.moderation_actions import cross_check
from cove.client.group_state import GroupRecord, GroupStates, handles, metadata
from cove.client.key_packages import KeyPackages
from cove.client.messages import MessageStore, QuarantineRow
from cove.client.profile import group_config, validator
from cove.client.records import MessageView
from cove.client.session import RelayError, client_error
from cove.client.store import Txn
from cove.client.sync.engine import (
    MembershipChanged,
    Quarantined,
    Received,
    Refused,
    process_log,
)
from cove.client.sync.integrity import DetectionView, Integrity
from cove.client.trust import Trust
from cove.protocol import CoveError, Group
from cove.protocol.app import AppRecord, UnknownRecordType, UnsupportedAppVersion
from cove.protocol.app import decode as decode_record
from cove.protocol.group_metadata import GroupKind
from cove.protocol.identity import CoveIdentity
from cove.protocol.invites import JoinSettings
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.welcome import Welcome
from cove.protocol.policy import PolicyRefused
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode

if TYPE_CHECKING:
    from cove.client.outbox import Outbox

PAGE = 200


@dataclass(frozen=True, slots=True)
class SyncReport:
    groups: int = 0
    received: int = 0
    joined: int = 0
    quarantined: int = 0
    commits: int = 0
    resent: int = 0  # outbox entries posted again after a crash or an outage
    #: groups this account is no longer in since this sync (removed, or left elsewhere)
    left: tuple[bytes, ...] = ()
    #: refusals and changes (membership, roles, name) seen in this sync, as events
    events: tuple[MessageView, ...] = ()
    #: what this sync noticed about the relay (cove.client.sync.integrity)
    detections: tuple[DetectionView, ...] = ()


@dataclass(slots=True)
class Applied:
    """What :meth:`SyncRunner.apply_entries` did with a batch of log entries."""

    received: int = 0
    quarantined: int = 0
    messages: list[MessageView] = field(default_factory=list)
    removed: bool = False
    #: refusals and changes, as events (also in ``messages``, for ``cove listen``)
    events: list[MessageView] = field(default_factory=list)
    #: a commit was applied (the relay's member table is then cross-checked)
    commits: int = 0
    #: identity keys of those who joined through an open link
    link_joins: list[bytes] = field(default_factory=list)
    detections: list[DetectionView] = field(default_factory=list)


def _decode_app(data: bytes) -> AppRecord | CoveError:
    try:
        return decode_record(data)
    except CoveError as exc:
        return exc


class SyncRunner:
    def __init__(
        self,
        ctx: Context,
        states: GroupStates,
        messages: MessageStore,
        trust: Trust,
        key_packages: KeyPackages,
    ) -> None:
        self.ctx = ctx
        self.states = states
        self.messages = messages
        self.trust = trust
        self.key_packages = key_packages
        self.outbox: Outbox | None = None  # set by the facade (the outbox syncs through us)
        #: Welcomes the group's policy refused (shown by the next sync report)
        self.refused_welcomes: list[MessageView] = []
        self.integrity = Integrity()
        self.found: list[DetectionView] = []  # detections outside a group's log (joins)
        #: Called with (group id, identity keys) after link joins were applied.
        self.on_link_joins: list[Callable[[bytes, list[bytes]], Awaitable[None]]] = []
        #: called with the group id after each batch of its log entries is processed and
        #: kept (features' follow-ups that need the relay, e.g. a newcomer's history bundle)
        self.after_sync: list[Callable[[bytes], Awaitable[None]]] = []

    def _outbox(self) -> Outbox:
        assert self.outbox is not None
        return self.outbox

    async def sync(self) -> SyncReport:
        """Fetch and process everything: Welcomes, every group's log, the outbox."""
        resent = await self._outbox().flush()
        self.found = []
        joined = await self.process_inbox()
        seen: list[MessageView] = list(self.refused_welcomes)
        self.refused_welcomes.clear()
        found = self.found
        async with self.ctx.store.transaction() as txn:
            ids = [r.group_id for r in await self.states.all(txn) if r.active]
        received = quarantined = 0
        left = []
        for group_id in ids:
            received += await self.read_again(group_id)
            try:
                applied = await self.sync_group(group_id)
            except moderation.LegacyGroup as exc:  # one old group never blocks the others
                seen.append(moderation.legacy_view(group_id, str(exc)))
                continue
            received += applied.received
            quarantined += applied.quarantined
            seen += applied.events
            found += applied.detections
            if applied.removed:
                left.append(group_id)
        commits = 0
        for group_id in ids:
            if group_id not in left:
                commits += await self.maintain(group_id)
        with contextlib.suppress(ClientError):
            await self.key_packages.replenish()
        async with self.ctx.store.transaction() as txn:
            for r in await self.states.all(txn):
                if r.active:
                    await self.integrity.overdue(
                        txn, r.group_id, r.name or r.peer, self.ctx.clock.now(), found
                    )
        return SyncReport(
            len(ids),
            received,
            joined,
            quarantined,
            commits,
            resent,
            tuple(left),
            tuple(seen),
            tuple(found),
        )

    async def sync_group(self, group_id: bytes) -> Applied:
        total = Applied()
        async with self.ctx.store.transaction() as txn:
            if await self.states.is_active(txn, group_id):
                loaded, group = await self.states.load(txn, group_id)
                self.states.keep(loaded, group)
                moderation.require_policed(group)  # LegacyGroup: a group nobody can check
        while True:
            async with self.ctx.store.transaction() as txn:
                record = await self.states.record(txn, group_id)
            if record is None or not record.active:
                return total
            try:
                page = await self.ctx.session.call(
                    "fetch_messages",
                    path={"group_id": group_id.hex()},
                    query={"after": str(record.seq), "limit": str(PAGE)},
                )
            except RelayError as exc:
                if exc.code != ErrorCode.NOT_FOUND:
                    raise client_error(exc) from None
                # The relay no longer lets us read this group. Only a validated MLS
                # removal or our own leave deletes keys: a relay's word is not enough.
                async with self.ctx.store.transaction() as txn:
                    await self.integrity.refused(
                        txn, group_id, record.name or record.peer, self.ctx.clock.now(),
                        total.detections,
                    )  # fmt: skip
                return total
            async with self.ctx.store.transaction() as txn:
                await self.integrity.served(txn, group_id)
            applied = await self.apply_entries(
                group_id, [(m.seq, m.message) for m in page.messages]
            )
            total.detections += applied.detections
            total.received += applied.received
            total.quarantined += applied.quarantined
            total.messages += applied.messages
            total.events += applied.events
            total.commits += applied.commits
            total.link_joins += applied.link_joins
            if applied.removed:
                total.removed = True
                return total
            if not page.more:
                await self.fetch_holes(group_id, total)
                if total.commits:
                    total.events += await cross_check(self.ctx, self.states, group_id)
                for hook in self.on_link_joins if total.link_joins else ():
                    await hook(group_id, total.link_joins)
                return total

    async def fetch_holes(self, group_id: bytes, total: Applied) -> None:
        """Ask again for positions the relay skipped (and the entry after each)."""
        async with self.ctx.store.transaction() as txn:
            holes = await self.integrity.open_holes(txn, group_id)
        for start, end in holes:
            page = await self.ctx.session.call(
                "fetch_messages",
                path={"group_id": group_id.hex()},
                query={"after": str(start - 1), "limit": str(min(end - start + 2, PAGE))},
            )
            applied = await self.apply_entries(
                group_id, [(m.seq, m.message) for m in page.messages]
            )
            total.received += applied.received
            total.quarantined += applied.quarantined
            total.messages += applied.messages
            total.detections += applied.detections

    async def forget(self, group_id: bytes) -> None:
        """We are out of the group: drop its MLS state (every secret) and outbox."""
        async with self.ctx.store.transaction() as txn:
            record = await self.states.record(txn, group_id)
            if record is None:
                return
            await self.states.forget(txn, record)
            await self._outbox().drop_group(txn, group_id)

    async def apply_entries(self, group_id: bytes, entries: Sequence[tuple[int, bytes]]) -> Applied:
        """Run the engine over log entries; one transaction for the state and the records.
        Returns what was received (the new messages, as views) and quarantined."""
        applied = Applied()
        if not entries:
            return applied
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            try:
                moderation.require_policed(group)
            except moderation.LegacyGroup as exc:  # not processed: nobody could check it
                self.states.keep(record, group)
                applied.messages.append(moderation.legacy_view(group_id, str(exc)))
                return applied
            cursor = record.cursor()
            now = self.ctx.clock.now()
            name = record.name or record.peer
            screened = await self.integrity.screen(
                txn, group_id, name, cursor.seq, cursor.own, entries, now, applied.detections
            )
            rules_now = await rules_gate.page_start(txn, group_id, group)
            settings_now = JoinSettings.from_extensions(group.extensions)
            events = process_log(group, cursor, screened.entries, now=now, fill=screened.fill)
            # Each record decoded once: for the read-ahead of kept ids and for _receive.
            decoded = {id(e): _decode_app(e.data) for e in events if isinstance(e, Received)}
            await self.messages.prefetch_ids(txn, [
                app.id for app in decoded.values()
                if not isinstance(app, CoveError) and isinstance(getattr(app, "id", None), bytes)
            ])  # fmt: skip
            cursor.seq = max(cursor.seq, screened.last)
            record.set_cursor(cursor)
            senders = [
                CoveIdentity.from_bytes(e.sender_credential).handle
                for e in events if isinstance(e, Received)
            ] + [
                CoveIdentity.from_bytes(e.committer_credential).handle
                for e in events if isinstance(e, MembershipChanged)
            ]  # fmt: skip
            await self.integrity.after(
                txn, group_id, name, group,
                [e.message for e in events if isinstance(e, Quarantined)],
                senders, now, applied.detections,
                [(e.epoch, e.sender_leaf, e.generation, e.seq) for e in events
                 if isinstance(e, Received)],
            )  # fmt: skip
            for ev in events:
                if isinstance(ev, Received):
                    await self._receive(
                        txn, group_id, group, ev, now, applied, decoded[id(ev)], rules_now,
                        settings_now,
                    )  # fmt: skip
                elif isinstance(ev, Refused):
                    shown = await moderation.add_refusal(txn, group_id, ev.seq, ev.refusal)
                    applied.events.append(shown)
                    applied.messages.append(shown)
                elif isinstance(ev, MembershipChanged):
                    applied.commits += 1
                    if ev.link_join:
                        joiner = CoveIdentity.from_bytes(ev.committer_credential).identity_key
                        applied.link_joins.append(joiner)
                    if ev.extensions:  # records after the commit are judged by its settings
                        settings_now = JoinSettings.from_extensions(ev.extensions)
                        rules_now = None if settings_now is None else settings_now.rules
                    for note in ev.notes:
                        shown = await moderation.add_event(txn, group_id, ev.seq, "change", note)
                        applied.events.append(shown)
                        applied.messages.append(shown)
                    await self.trust.observe(txn, ev.added + ev.updated)
                    if ev.removed and not ev.removed_me:
                        record.needs_update = True  # PCS after any removal
                    if ev.removed_me:  # we were removed: keep no MLS state at all
                        record.removed_by = CoveIdentity.from_bytes(ev.committer_credential).handle
                        applied.removed = True
                        break
                elif isinstance(ev, Quarantined):
                    await self.messages.quarantine(
                        txn, QuarantineRow(group_id, ev.seq, ev.reason, ev.message)
                    )
                    applied.quarantined += 1
            if applied.removed:
                await self.states.forget(txn, record)
                await self._outbox().drop_group(txn, group_id)
            else:
                await self.states.save(txn, record, group)
        if not applied.removed:
            for follow_up in self.after_sync:
                await follow_up(group_id)
        return applied

    async def _receive(
        self, txn: Txn, group_id: bytes, group: Group, ev: Received, now: int, applied: Applied,
        decoded: AppRecord | CoveError, rules_now: rules_gate.Pair | None,
        settings_now: JoinSettings | None,
    ) -> None:  # fmt: skip
        ident = CoveIdentity.from_bytes(ev.sender_credential)
        sender = ident.handle
        try:
            if isinstance(decoded, CoveError):
                raise decoded
            app = decoded
        except (UnsupportedAppVersion, UnknownRecordType) as exc:
            await self.messages.quarantine(txn, QuarantineRow(
                group_id, ev.seq, f"not readable by this version of Cove: {exc}", b"",
                ev.data, sender, ev.epoch,
            ))  # fmt: skip
            applied.quarantined += 1
            return
        except CoveError as exc:
            await self.messages.quarantine(
                txn, QuarantineRow(group_id, ev.seq, f"bad app record: {exc}", b"", None, sender)
            )
            applied.quarantined += 1
            return
        feature = feature_for(app)
        if feature is None:
            await self.messages.quarantine(txn, QuarantineRow(
                group_id, ev.seq, f"no feature handles {type(app).__name__}", b"",
                ev.data, sender, ev.epoch,
            ))  # fmt: skip
            applied.quarantined += 1
            return
        decision = await moderation.authorize_incoming(
            txn, self.messages, group_id, group, app, ident.handle, ident.identity_key,
            settings_now,
        )  # fmt: skip
        if decision is not None and not decision.allowed:
            view = await moderation.add_event(
                txn, group_id, ev.seq, "refused", decision.explain(), decision.rule_id or ""
            )
            applied.events.append(view)
            applied.messages.append(view)
            return
        refusal = await rules_gate.judge(txn, group_id, app, sender, ident.identity_key, rules_now)
        if refusal is not None:
            view = await moderation.add_event(txn, group_id, ev.seq, "refused", refusal[1],
                                              refusal[0])  # fmt: skip
            applied.events.append(view)
            applied.messages.append(view)
            return
        shown = await feature.receive(Incoming(
            txn, self.messages, group_id, app, sender, ev.seq, ev.epoch, now, ident.identity_key
        ))  # fmt: skip
        if shown is not None:
            applied.received += 1
            applied.messages.append(shown)

    async def read_again(self, group_id: bytes) -> int:
        """Records kept in quarantine with their plaintext (a newer version or record
        type than this client knew) that this client can now read are received."""
        done = 0
        async with self.ctx.store.transaction() as txn:
            for row in await self.messages.quarantined(txn, group_id):
                if row.plaintext is None or row.sender is None:
                    continue
                try:
                    app = decode_record(row.plaintext)
                except CoveError:
                    continue
                feature = feature_for(app)
                if feature is None:
                    continue
                record, group = await self.states.load(txn, group_id)
                self.states.keep(record, group)
                key = moderation.identity_by_handle(group, row.sender)
                decision = await moderation.authorize_incoming(
                    txn, self.messages, group_id, group, app, row.sender, key
                )
                refusal = (
                    (decision.rule_id or "", decision.explain())
                    if decision is not None and not decision.allowed
                    else await rules_gate.judge(
                        txn, group_id, app, row.sender, key,
                        rules_gate.rules_pair(group.extensions),
                    )
                )  # fmt: skip
                if refusal is not None:
                    await moderation.add_event(
                        txn, group_id, row.seq, "refused", refusal[1], refusal[0]
                    )
                    await self.messages.release(txn, row)
                    continue
                await feature.receive(Incoming(
                    txn, self.messages, group_id, app, row.sender, row.seq, row.epoch or 0,
                    self.ctx.clock.now(), key,
                ))  # fmt: skip
                await self.messages.release(txn, row)
                done += 1
        return done

    async def process_inbox(self) -> int:
        account = self.ctx.account
        page = await self.ctx.session.request(
            "fetch_inbox", query={"after": str(account.inbox_cursor)}
        )
        joined = 0
        for entry in page.entries:
            if await self.join(entry):
                joined += 1
            account.inbox_cursor = max(account.inbox_cursor, entry.inbox_id)
        if page.entries:
            await self.ctx.save_account()
            await self.ctx.session.request("ack_inbox", E.InboxAck(up_to=account.inbox_cursor))
        return joined

    async def join(self, entry: E.InboxEntry) -> bool:
        try:
            welcome = MLSMessage.from_bytes(entry.welcome).body
        except CoveError:
            return False
        if not isinstance(welcome, Welcome):
            return False
        async with self.ctx.store.transaction() as txn:
            known = await self.states.record(txn, entry.group_id)
            # A replayed Welcome: we are in the group, or it is older than where we left
            # (a member stranded by a missing commit takes a later one: she was re-added).
            stranded = known is not None and (
                await self.integrity.is_stranded(txn, entry.group_id)
                or await self.integrity.is_refused(txn, entry.group_id)
            )
            if known is not None and (
                (known.active and not stranded) or entry.commit_seq <= known.seq
            ):
                return False
            for secrets in welcome.secrets:
                found = await self.key_packages.find(txn, secrets.new_member)
                if found is None:
                    if await self.integrity.was_used(txn, secrets.new_member):
                        self.found.append(await self.integrity.report(
                            txn, entry.group_id, "key_package_reused", "", self.ctx.clock.now(),
                            entry.commit_seq,
                        ))  # fmt: skip
                    continue
                bundle, last_resort = found
                try:
                    group = Group.join(
                        welcome, bundle, self.ctx.rng, config=group_config(),
                        credential_validator=validator,
                    )  # fmt: skip
                except PolicyRefused as exc:  # e.g. a plain member tried to add us
                    self.refused_welcomes.append(moderation.welcome_refused(entry.group_id, exc))
                    return False
                except CoveError:
                    return False
                if group.group_id != entry.group_id:
                    return False
                if not last_resort:
                    await self.key_packages.used(txn, secrets.new_member)
                    await self.integrity.key_package_used(
                        txn, secrets.new_member, self.ctx.clock.now()
                    )
                meta = metadata(group)
                peer = ""
                if meta.kind == GroupKind.DIRECT:
                    me = self.ctx.account.handle
                    peer = next((h for h in handles(group) if h != me), "")
                record = GroupRecord(
                    group.group_id, entry.commit_seq, entry.commit_seq, kind=meta.kind, peer=peer,
                    last_update=self.ctx.clock.now(),
                    state_version=known.state_version if known else 0,
                    # a first self-update: fresh keys for the KeyPackage's (that sat on
                    # the relay), and the adder's sign that the Welcome arrived
                    needs_update=True,
                )  # fmt: skip
                await self.trust.observe(txn, [m.credential.identity for m in group.members()])
                await self.states.save(txn, record, group)
                if stranded:
                    await self.integrity.rejoined(
                        txn, entry.group_id, meta.name or peer, self.ctx.clock.now(), self.found
                    )
                return True
        return False

    async def maintain(self, group_id: bytes) -> int:
        """Commit waiting proposals and due self-updates (post-compromise security)."""
        from cove.client.outbox import Made

        async with self.ctx.store.transaction() as txn:
            if not await self.states.is_active(txn, group_id):
                return 0
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        now = self.ctx.clock.now()
        if group.pending_proposals:
            with contextlib.suppress(ClientError):
                if await self._outbox().commit(
                    group_id, lambda g: Made(g.commit([], now=now)) if g.pending_proposals else None
                ):
                    return 1
        return await self.maybe_self_update(group_id)

    async def maybe_self_update(self, group_id: bytes) -> int:
        from cove.client.outbox import Made

        async with self.ctx.store.transaction() as txn:
            if not await self.states.is_active(txn, group_id):
                return 0
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        account = self.ctx.account
        due = (
            record.needs_update
            or self.ctx.clock.now() - record.last_update >= account.update_interval
            or record.sent_since_update >= account.update_after_messages
        )
        if not due or not group.active or len(group.members()) < 2:
            return 0
        with contextlib.suppress(ClientError):
            now = self.ctx.clock.now()
            await self._outbox().commit(group_id, lambda g: Made(g.update(now=now)))
            return 1
        return 0
