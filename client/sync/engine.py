"""The sans-I/O core of sync: relay log entries in, typed events out.

::

    LoggedMessage(seq, bytes) ... --process_log(group, cursor, entries)--> [Event, ...]
                                                                           + new cursor

It never awaits, reads the clock or touches the store: the runner
(:mod:`cove.client.service`) feeds it the entries of one group in log order
and writes the group's new snapshot together with the events in one store
transaction. Rules (design.md §5):

* an entry at or below the cursor was already handled (duplicate delivery);
* an entry we posted ourselves was applied when the relay acknowledged it;
* a message that fails to process is *quarantined* (recorded with its error)
  and never stops the sync: in particular the first commit of an epoch that
  validates is applied, and any other commit for that epoch fails (wrong
  epoch) and is skipped;
* application content that does not decode is quarantined the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace

from cove.client.features import moderation
from cove.protocol import ApplicationMessage, AppliedCommit, CoveError, Group, ProposalMessage
from cove.protocol.errors import DecodeError
from cove.protocol.mls.extensions import Extension
from cove.protocol.policy import PolicyRefused
from cove.protocol.wire.mls_header import peek_mls_header


@dataclass(frozen=True, slots=True)
class Received:
    """Application data from ``sender_leaf`` (a decoded app record is the runner's job)."""

    seq: int
    epoch: int
    sender_leaf: int
    sender_credential: bytes
    data: bytes
    generation: int | None = None  # the sender's MLS application generation in ``epoch``


@dataclass(frozen=True, slots=True)
class MembershipChanged:
    seq: int
    epoch: int
    committer_credential: bytes
    added: tuple[bytes, ...]  # credentials (identity bytes) of added members
    removed: tuple[bytes, ...]
    updated: tuple[bytes, ...]
    removed_me: bool
    #: what the commit changed, in words (members, roles, bans, name)
    notes: tuple[str, ...] = ()
    #: an external commit through an open link (the committer is the newcomer)
    link_join: bool = False
    #: the group's extensions after the commit (records after it are judged with them)
    extensions: tuple[Extension, ...] = ()


@dataclass(frozen=True, slots=True)
class ProposalSeen:
    seq: int


@dataclass(frozen=True, slots=True)
class Quarantined:
    seq: int
    reason: str
    message: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """The group's policy refused this entry (a commit or a message); not applied."""

    seq: int
    refusal: PolicyRefused


Event = Received | MembershipChanged | ProposalSeen | Quarantined | Refused


@dataclass(slots=True)
class Cursor:
    """Where a group's sync stands: ``seq`` processed; ``handshake`` = the last
    handshake message processed (the position posted with our next commit)."""

    seq: int = 0
    handshake: int = 0
    own: set[int] = field(default_factory=set)


def is_handshake(message: bytes) -> bool:
    try:
        return peek_mls_header(message).is_handshake
    except DecodeError:
        return False


def process_log(
    group: Group,
    cursor: Cursor,
    entries: Iterable[tuple[int, bytes]],
    *,
    now: int | None = None,
    fill: Collection[int] = (),
) -> list[Event]:
    """Process ``(seq, message)`` entries in order; updates ``group`` and ``cursor``.
    ``now`` is passed to ``Group.process`` (lifetimes of added KeyPackages); ``fill``
    names entries at or below the cursor to process all the same (positions the relay
    skipped and delivers late, :mod:`cove.client.sync.integrity`)."""
    events: list[Event] = []
    for seq, message in entries:
        if seq <= cursor.seq and seq not in fill:
            continue
        handshake = is_handshake(message)
        if seq in cursor.own:
            cursor.own.discard(seq)
        elif not group.active:
            events.append(Quarantined(seq, "no longer a member", message))
        else:
            prev = moderation.before(group) if handshake else None
            try:
                result = group.process(message, now=now)
            except PolicyRefused as exc:
                events.append(Refused(seq, exc))
            except CoveError as exc:
                events.append(Quarantined(seq, f"{type(exc).__name__}: {exc}", message))
            else:
                event = _event(seq, result)
                if isinstance(event, MembershipChanged) and group.pending_link_join is not None:
                    event = replace(event, link_join=True)
                if isinstance(event, MembershipChanged) and prev is not None and group.active:
                    who = moderation.handle_of(event.committer_credential)
                    event = replace(
                        event,
                        notes=tuple(moderation.describe(prev, group, who)),
                        extensions=tuple(group.extensions),
                    )
                events.append(event)
        cursor.seq = max(cursor.seq, seq)
        if handshake:
            cursor.handshake = max(cursor.handshake, seq)
    return events


def _event(seq: int, result: ApplicationMessage | ProposalMessage | AppliedCommit) -> Event:
    if isinstance(result, ApplicationMessage):
        return Received(
            seq, result.epoch, result.sender.leaf_index, result.sender.identity, result.data,
            result.generation,
        )  # fmt: skip
    if isinstance(result, AppliedCommit):
        return MembershipChanged(
            seq,
            result.epoch,
            result.committer.identity,
            tuple(m.identity for m in result.added),
            tuple(m.identity for m in result.removed),
            tuple(m.identity for m in result.updated),
            result.removed_me,
        )
    return ProposalSeen(seq)
