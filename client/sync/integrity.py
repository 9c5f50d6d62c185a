"""Noticing a lying relay (``docs/decisions/0017-detecting-a-lying-relay.md``).

The relay orders and delivers; it cannot read or forge. What it can still do —
drop, reorder, replay, renumber, fork, refuse, hand out a used KeyPackage — is
checked here, per group, around the sans-I/O engine, and every finding becomes a
:class:`Detection` (a kind and a sentence a member understands), stored in the
``detection`` collection and reported by ``sync``, ``listen`` and the API::

    page of (seq, message) --screen()--> entries to process, fills, findings
                           engine.process_log
    events, group ---------after()----> fork / stranded findings

Per group the watch (collection ``group_watch``) keeps: digests of recently
processed messages (replays), open holes in the log positions (re-fetched so
that a message the relay placed under a fake position never makes real ones be
skipped), the digest of each of our own acknowledged posts (one the relay
replaced), members added and not seen since (a Welcome that never arrived),
and whether we are stranded (a commit we never got) or refused by the relay.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from cove.client.errors import ClientError, NoPermission, NotAMember
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol.relay_integrity import fork_check, peek
from cove.protocol.wire.schema import Bool, Bytes, Int, Str

WATCH, DETECTION, USED_KP = "group_watch", "detection", "used_key_package"
I63 = 2**63 - 1
DIGESTS_KEPT = 1024  # recent messages remembered per group (replays)
HOLES_KEPT = 32  # open holes per group


@dataclass(slots=True)
class Hole:
    """Log positions ``start..end`` the relay skipped, fetched again ``checks`` times;
    ``after`` is the digest of the entry right after them (zero once that changed)."""

    start: int
    end: int
    checks: int
    after: bytes


HOLE_CHECKS = 20  # syncs a hole is fetched again before it is given up
JOIN_WAIT = 3 * 86400  # a member added and silent this long: the Welcome went missing
DETECTIONS_KEPT = 200  # per group
GENERATIONS_KEPT = 16384  # (epoch, sender) pairs followed per group
_D = 16  # digest length

#: kind -> what a member is told (``{group}``, ``{a}``, ``{b}``, ``{who}`` filled in)
TEXTS = {
    "gap": "Messages {a}–{b} in «{group}» have not reached you: the relay skipped them. "
    "Cove keeps asking for them.",
    "late": "Message {a} in «{group}» arrived late; it is shown in its place.",
    "sender_gap": "{n} message(s) from {who} in «{group}» never reached you: the relay "
    "dropped them.",
    "reordered": "The relay sent messages of «{group}» out of order (position {a} after {b}); "
    "Cove read them in order.",
    "replayed": "The relay sent a message of «{group}» again (position {a}); Cove showed it once.",
    "history_changed": "The relay showed you two different messages at position {a} in "
    "«{group}»; Cove read both.",
    "fork": "Some members of «{group}» see a different version of the group than you do "
    "(the relay gave you different changes). Their messages cannot be read here and yours "
    "not there. Compare safety numbers and tell the group.",
    "stranded": "You missed a change to «{group}» (it was lost or deleted on the relay), so "
    "new messages there cannot be read and what you send would be unreadable. Sending is "
    "paused; ask a moderator to remove and add you again.",
    "own_replaced": "Your message at position {a} in «{group}» was accepted by the relay but "
    "the relay delivers something else in its place: the others may never get it.",
    "access_refused": "The relay says «{group}» does not exist or you are not in it, but no "
    "removal signed by a member reached you. Cove keeps the group; leave it yourself if "
    "you want it gone.",
    "welcome_missing": "{who} was added to «{group}» but has not appeared since: the "
    "invitation may never have reached them. Try adding them again.",
    "key_package_reused": "Someone tried to add you to a group with an invitation key of "
    "yours that was already used (the relay handed it out twice), so you could not join. "
    "Ask them to add you again.",
    "rejoined": "You are back in «{group}»: a member added you again.",
    "stale_key_package": "The relay offered an invitation key for {who} that cannot be used "
    "(expired or invalid), so nobody was added to «{group}». Try again later.",
}


class UnusableKeyPackage(ClientError):
    """The relay offered a KeyPackage that fails validation (expired, or not valid)."""


class GroupStranded(NoPermission):
    """Sending to a group whose changes we missed (exit code 5): it would be unreadable."""


@dataclass(frozen=True, slots=True)
class DetectionView:
    """One finding about the relay, as shown to the member."""

    group_id: bytes
    kind: str
    text: str
    seq: int
    at: int


@dataclass(slots=True)
class Detection(StoreRecord):
    KIND: ClassVar[str] = "detection"

    group: Annotated[bytes, Bytes(1, 255)]
    kind: Annotated[str, Str(1, 32)]
    text: Annotated[str, Str(1, 1000)]
    seq: Annotated[int, Int(0, I63)] = 0
    at: Annotated[int, Int(0, I63)] = 0

    def view(self) -> DetectionView:
        return DetectionView(self.group, self.kind, self.text, self.seq, self.at)


@dataclass(slots=True)
class Watch(StoreRecord):
    KIND: ClassVar[str] = "group_watch"
    MAX_BYTES: ClassVar[int] = 4 << 20

    group: Annotated[bytes, Bytes(1, 255)]
    digests: Annotated[bytes, Bytes(0, _D * DIGESTS_KEPT)] = b""
    #: holes: u64 start, u64 end, u32 checks, digest of the entry right after
    holes: Annotated[bytes, Bytes(0, 36 * HOLES_KEPT)] = b""
    #: our acknowledged posts: u64 seq, digest
    own: Annotated[bytes, Bytes(0, 24 * 65536)] = b""
    #: added, not seen since: "handle added_at" lines
    added: Annotated[str, Str(0, 100_000)] = ""
    stranded: Annotated[bool, Bool()] = False
    refused: Annotated[bool, Bool()] = False
    fork_epoch: Annotated[int | None, Int(0, I63)] = None
    #: highest application generation seen per (epoch, sender leaf): u64, u32, u32
    generations: Annotated[bytes, Bytes(0, 16 * GENERATIONS_KEPT)] = b""

    def generation_map(self) -> dict[tuple[int, int], int]:
        return {(e, leaf): g for e, leaf, g in struct.iter_unpack(">QII", self.generations)}

    def set_generations(self, gens: dict[tuple[int, int], int], epoch: int) -> None:
        """Keep the current and the two previous epochs' (late messages open there)."""
        keep = sorted((k, g) for k, g in gens.items() if k[0] + 2 >= epoch)[-GENERATIONS_KEPT:]
        self.generations = b"".join(struct.pack(">QII", e, leaf, g) for (e, leaf), g in keep)

    def digest_set(self) -> list[bytes]:
        return [self.digests[i : i + _D] for i in range(0, len(self.digests), _D)]

    def hole_list(self) -> list[Hole]:
        holes = []
        for i in range(0, len(self.holes), 36):
            start, end, checks = struct.unpack(">QQI", self.holes[i : i + 20])
            holes.append(Hole(start, end, checks, self.holes[i + 20 : i + 36]))
        return holes

    def set_holes(self, holes: Sequence[Hole]) -> None:
        self.holes = b"".join(
            struct.pack(">QQI", h.start, h.end, h.checks) + h.after
            for h in list(holes)[-HOLES_KEPT:]
        )

    def own_map(self) -> dict[int, bytes]:
        return {
            struct.unpack(">Q", self.own[i : i + 8])[0]: self.own[i + 8 : i + 24]
            for i in range(0, len(self.own), 24)
        }

    def set_own(self, own: dict[int, bytes]) -> None:
        self.own = b"".join(struct.pack(">Q", s) + d for s, d in sorted(own.items()))

    def added_map(self) -> dict[str, int]:
        out = {}
        for line in self.added.splitlines():
            handle, _, at = line.partition(" ")
            out[handle] = int(at)
        return out

    def set_added(self, added: dict[str, int]) -> None:
        self.added = "\n".join(f"{h} {t}" for h, t in added.items())


@dataclass(slots=True)
class UsedKeyPackage(StoreRecord):
    """A one-time KeyPackage we joined with (its ref is the key): one served again is
    reported."""

    KIND: ClassVar[str] = "used_key_package"

    at: Annotated[int, Int(0, I63)] = 0


def _handle(identity: bytes) -> str:
    from cove.protocol.identity import CoveIdentity

    try:
        return CoveIdentity.from_bytes(identity).handle
    except Exception:
        return "a member"


def digest(message: bytes) -> bytes:
    return hashlib.sha256(b"cove log entry\x00" + message).digest()[:_D]


@dataclass(slots=True)
class Screened:
    """What :meth:`Integrity.screen` lets through."""

    entries: list[tuple[int, bytes]] = field(default_factory=list)
    fill: set[int] = field(default_factory=set)  # entries at or below the cursor to process
    last: int = 0  # the cursor may move here (past replays and reorders kept out)


class Integrity:
    """The checks; stateless (everything is in the store), so any part may make one."""

    # -- storage ----------------------------------------------------------------------

    async def watch(self, txn: Txn, group_id: bytes) -> Watch:
        data = await txn.get(WATCH, group_id)
        return Watch(group_id) if data is None else Watch.unpack(data)

    async def save(self, txn: Txn, w: Watch) -> None:
        await txn.put(WATCH, w.group, w.pack())

    async def report(
        self, txn: Txn, group_id: bytes, kind: str, name: str, now: int, seq: int = 0, **f: object
    ) -> DetectionView:
        text = TEXTS[kind].format(group=name or group_id.hex()[:8], **f)
        det = Detection(group_id, kind, text, seq, now)
        key = group_id + struct.pack(">QQ", now, seq) + kind.encode()[:16]
        await txn.put(DETECTION, key, det.pack())
        rows = await txn.scan(DETECTION)
        mine = [k for k, _ in rows if k.startswith(group_id) and len(k) > len(group_id)]
        for old in mine[:-DETECTIONS_KEPT]:
            await txn.delete(DETECTION, old)
        return det.view()

    async def detections(self, txn: Txn, group_id: bytes | None = None) -> list[DetectionView]:
        out = [Detection.unpack(v).view() for _, v in await txn.scan(DETECTION)]
        out = [d for d in out if group_id is None or d.group_id == group_id]
        return sorted(out, key=lambda d: (d.at, d.seq))

    # -- around the engine ------------------------------------------------------------

    async def screen(
        self, txn: Txn, group_id: bytes, name: str, cursor_seq: int, own: set[int],
        entries: Sequence[tuple[int, bytes]], now: int, found: list[DetectionView],
    ) -> Screened:  # fmt: skip
        """Replays, reorders, gaps, hole fills, replaced own posts: before processing."""
        w = await self.watch(txn, group_id)
        seen = w.digest_set()
        known = set(seen)
        holes = w.hole_list()
        mine = w.own_map()
        out = Screened()
        last = cursor_seq
        edges: dict[int, bytes] = {}  # right after holes filled in this batch
        for seq, message in entries:
            d = digest(message)
            hole = next((h for h in holes if h.start <= seq <= h.end), None)
            edge = next((h for h in holes if seq == h.end + 1), None)
            edge_digest = edge.after if edge is not None else edges.pop(seq, None)
            if seq in mine:
                if mine.pop(seq) != d:
                    found.append(await self.report(txn, group_id, "own_replaced", name, now,
                                                   seq, a=seq))  # fmt: skip
                if seq > last:
                    last = seq
                out.entries.append((seq, message))  # the engine skips it as our own
                continue
            if seq <= cursor_seq:
                zero = b"\x00" * _D
                if hole is not None and d not in known:
                    # A position the relay skipped before, delivered now.
                    holes.remove(hole)
                    if seq > hole.start:
                        holes.append(Hole(hole.start, seq - 1, hole.checks, zero))
                    if seq < hole.end:
                        holes.append(Hole(seq + 1, hole.end, hole.checks, hole.after))
                    else:
                        edges[seq + 1] = hole.after
                    found.append(await self.report(txn, group_id, "late", name, now, seq, a=seq))
                    out.fill.add(seq)
                elif edge_digest is not None and edge_digest not in (d, zero) and d not in known:
                    found.append(await self.report(txn, group_id, "history_changed", name, now,
                                                   seq, a=seq))  # fmt: skip
                    if edge is not None:
                        edge.after = zero
                    out.fill.add(seq)
                else:
                    continue  # delivered before: the engine skips it
            elif seq <= last:
                found.append(await self.report(txn, group_id, "reordered", name, now, seq,
                                               a=seq, b=last))  # fmt: skip
                continue
            else:
                ours = own | set(w.own_map())
                while last + 1 in ours and last + 1 < seq:
                    last += 1  # our own acknowledged posts are no gap
                if seq > last + 1:
                    holes.append(Hole(last + 1, seq - 1, 0, d))
                    found.append(await self.report(txn, group_id, "gap", name, now, last + 1,
                                                   a=last + 1, b=seq - 1))  # fmt: skip
                last = seq
                if d in known:
                    found.append(await self.report(txn, group_id, "replayed", name, now, seq,
                                                   a=seq))  # fmt: skip
                    continue
            seen.append(d)
            known.add(d)
            out.entries.append((seq, message))
        out.last = last
        w.digests = b"".join(seen[-DIGESTS_KEPT:])
        w.set_holes(holes)
        w.set_own(mine)
        await self.save(txn, w)
        return out

    async def after(
        self, txn: Txn, group_id: bytes, name: str, group: object, quarantined: Sequence[bytes],
        senders: Sequence[str], now: int, found: list[DetectionView],
        received: Sequence[tuple[int, int, int | None, int]] = (),
    ) -> None:  # fmt: skip
        """Classify what could not be processed (fork, stranded); members seen; per-sender
        generation gaps in ``received`` (epoch, sender leaf, generation, seq)."""
        from cove.protocol import Group

        assert isinstance(group, Group)
        w = await self.watch(txn, group_id)
        gens = w.generation_map()
        for epoch, leaf, generation, seq in received:
            if generation is None:
                continue
            prev = gens.get((epoch, leaf), -1)
            if generation > prev + 1 and not w.holes:  # an open hole already explains it
                who = group.member(leaf).credential.identity if group.active else b""
                found.append(await self.report(
                    txn, group_id, "sender_gap", name, now, seq, n=generation - prev - 1,
                    who=_handle(who),
                ))  # fmt: skip
            if generation > prev:
                gens[(epoch, leaf)] = generation
        w.set_generations(gens, group.epoch)
        if senders and w.added:
            added = w.added_map()
            for handle in senders:
                added.pop(handle, None)
            w.set_added(added)
        if group.active and quarantined:  # the fork check costs an exporter derivation
            ours = fork_check(group)
            for message in quarantined:
                framing = peek(message)
                if framing is None:
                    continue
                if framing.epoch > group.epoch and not w.stranded:
                    w.stranded = True
                    found.append(await self.report(txn, group_id, "stranded", name, now))
                elif (
                    framing.epoch == group.epoch
                    and framing.fork_check is not None
                    and framing.fork_check != ours
                    and w.fork_epoch != group.epoch
                ):
                    w.fork_epoch = group.epoch
                    found.append(await self.report(txn, group_id, "fork", name, now))
        await self.save(txn, w)

    # -- hooks for the outbox, joins and the relay's refusals ---------------------------

    async def own_posted(self, txn: Txn, group_id: bytes, seq: int, message: bytes) -> None:
        w = await self.watch(txn, group_id)
        mine = w.own_map()
        mine[seq] = digest(message)
        w.set_own(mine)
        await self.save(txn, w)

    async def expect_join(
        self, txn: Txn, group_id: bytes, handles: Sequence[str], now: int
    ) -> None:
        w = await self.watch(txn, group_id)
        added = w.added_map()
        for h in handles:
            added[h] = now
        w.set_added(added)
        await self.save(txn, w)

    async def overdue(
        self, txn: Txn, group_id: bytes, name: str, now: int, found: list[DetectionView]
    ) -> None:
        w = await self.watch(txn, group_id)
        added = w.added_map()
        late = [h for h, at in added.items() if now - at >= JOIN_WAIT]
        for h in late:
            del added[h]
            found.append(await self.report(txn, group_id, "welcome_missing", name, now, who=h))
        if late:
            w.set_added(added)
            await self.save(txn, w)

    async def refused(
        self, txn: Txn, group_id: bytes, name: str, now: int, found: list[DetectionView]
    ) -> None:
        """The relay answered ``not_found`` for a group we are in: keep every key."""
        w = await self.watch(txn, group_id)
        if not w.refused:
            w.refused = True
            await self.save(txn, w)
            found.append(await self.report(txn, group_id, "access_refused", name, now))

    async def served(self, txn: Txn, group_id: bytes) -> None:
        """The relay serves the group again."""
        w = await self.watch(txn, group_id)
        if w.refused:
            w.refused = False
            await self.save(txn, w)

    async def is_stranded(self, txn: Txn, group_id: bytes) -> bool:
        return (await self.watch(txn, group_id)).stranded

    async def require_not_stranded(self, txn: Txn, group_id: bytes) -> None:
        if await self.is_stranded(txn, group_id):
            raise GroupStranded(
                "you missed a change to this group, so what you send would be unreadable; "
                "ask a moderator to remove and add you again"
            )

    async def require_served(self, txn: Txn, group_id: bytes) -> None:
        if await self.is_refused(txn, group_id):
            raise NotAMember(
                "the relay no longer serves this group to you: you may no longer be a member "
                "(leave it to delete its keys)"
            )

    async def is_refused(self, txn: Txn, group_id: bytes) -> bool:
        return (await self.watch(txn, group_id)).refused

    async def rejoined(
        self, txn: Txn, group_id: bytes, name: str, now: int, found: list[DetectionView]
    ) -> None:
        await txn.delete(WATCH, group_id)
        found.append(await self.report(txn, group_id, "rejoined", name, now))

    async def open_holes(self, txn: Txn, group_id: bytes) -> list[tuple[int, int]]:
        """Holes to fetch again (each fetch counts; a hole is given up after HOLE_CHECKS)."""
        w = await self.watch(txn, group_id)
        holes = w.hole_list()
        keep = [
            Hole(h.start, h.end, h.checks + 1, h.after) for h in holes if h.checks < HOLE_CHECKS
        ]
        w.set_holes(keep)
        await self.save(txn, w)
        return [(h.start, h.end) for h in keep]

    # -- KeyPackages ------------------------------------------------------------------

    async def key_package_used(self, txn: Txn, ref: bytes, now: int = 0) -> None:
        await txn.put(USED_KP, ref, UsedKeyPackage(now).pack())

    async def was_used(self, txn: Txn, ref: bytes) -> bool:
        return await txn.get(USED_KP, ref) is not None
