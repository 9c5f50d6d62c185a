"""What every receiver enforces about the joining records (issue 11), in one place.

* **Who may send them, and what they must say**: the protocol's record rules
  (``cove.protocol.policy.join_record_rules``, applied by ``authorize_record`` with
  the join settings at the record's place in the log, which the sync runner
  follows commit by commit): ``Rules`` (32), ``WelcomeMessage`` (48) and
  ``HistoryShare`` (49) only from moderators and owners, a ``Rules`` text only if
  it matches the settings' salted hash (``policy.record.rules_mismatch``), a
  ``RulesAcceptance`` (33) only if signed by its sender's identity key
  (``policy.record.acceptance_invalid``).
* **The post rule** (:func:`judge`, after the policy allowed the record): a post —
  thread, post, reply, reaction, edit, private message in the group, with or
  without files — counts only if its sender accepted the current rules version
  earlier in the log (``invite.rules.not_accepted``). Refusals are events, like
  every policy refusal.
* **The ledger.** Acceptances are kept per (group, identity key) in log order
  (collection ``rules_accepted``); the latest valid rules text per group in
  ``rules``. A member who joined by a Welcome cannot read the acceptances sent
  before she joined: the moderator who greets her sends an ``AcceptanceList``
  (34) — every member's signed acceptance of the current rules — right after
  the commit that added her, and each entry (the policy verified every
  signature) feeds the ledger at the list's place in the log, in every
  receiver's app. There is no other assumption: a post from someone whose
  acceptance this app has not seen is refused.

:func:`check_sending` is the sender's side of the same post rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from cove.client.errors import NoPermission
from cove.client.features import Feature, Incoming, register
from cove.client.group_state import metadata
from cove.client.records import MessageView
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol import Group
from cove.protocol.app import AppRecord, DirectMessage, Edit, Post, Reaction, ThreadRoot
from cove.protocol.app.join_records import AcceptanceList, Rules, RulesAcceptance
from cove.protocol.invites import JoinSettings
from cove.protocol.invites.rules import RulesLedger
from cove.protocol.mls.extensions import Extension
from cove.protocol.wire.schema import Bytes, Int, Str

RULES_TEXT, ACCEPTED = "rules", "rules_accepted"
I63 = 2**63 - 1
NOT_ACCEPTED = "invite.rules.not_accepted"
#: the records a member "posts" (the post rule applies to them)
POSTING: tuple[type, ...] = (ThreadRoot, Post, DirectMessage, Reaction, Edit)

Pair = tuple[int, bytes]


# -- the local records ----------------------------------------------------------------


@dataclass(slots=True)
class RulesRow(StoreRecord):
    """The group's latest valid rules text (collection ``rules``, key: the group id)."""

    KIND: ClassVar[str] = "rules"

    group: Annotated[bytes, Bytes(1, 255)]
    version: Annotated[int, Int(1, 0xFFFFFFFF)]
    salt: Annotated[bytes, Bytes(16, 16)]
    text: Annotated[str, Str(1, 16384)]
    record_id: Annotated[bytes, Bytes(16, 16)]
    sent_at: Annotated[int, Int(0, I63)]
    author: Annotated[bytes, Bytes(32, 32)]
    author_handle: Annotated[str, Str(1, 64)]
    seq: Annotated[int | None, Int(0, I63)] = None

    def __repr__(self) -> str:
        return f"RulesRow(version={self.version}, <text redacted>)"

    def record(self) -> Rules:
        return Rules(
            id=self.record_id, sent_at=self.sent_at, version=self.version, salt=self.salt,
            text=self.text,
        )  # fmt: skip


@dataclass(slots=True)
class AcceptedRow(StoreRecord):
    """A member's latest valid acceptance (``rules_accepted``, key: group id + identity
    key, partition: the group). ``handle`` is "" for an acceptance learnt from an
    ``AcceptanceList`` (the list names keys, not handles)."""

    KIND: ClassVar[str] = "rules_accepted"

    group: Annotated[bytes, Bytes(1, 255)]
    identity_key: Annotated[bytes, Bytes(32, 32)]
    handle: Annotated[str, Str(0, 64)]
    version: Annotated[int, Int(1, 0xFFFFFFFF)]
    rules_hash: Annotated[bytes, Bytes(32, 32)]
    signature: Annotated[bytes, Bytes(64, 64)]

    def __repr__(self) -> str:
        return f"AcceptedRow(handle={self.handle!r}, version={self.version})"


def rules_pair(extensions: tuple[Extension, ...] | list[Extension]) -> Pair | None:
    settings = JoinSettings.from_extensions(tuple(extensions))
    return None if settings is None else settings.rules


async def rules_row(txn: Txn, group_id: bytes) -> RulesRow | None:
    value = await txn.get(RULES_TEXT, group_id)
    return None if value is None else RulesRow.unpack(value)


async def keep_rules(txn: Txn, row: RulesRow) -> None:
    prior = await rules_row(txn, row.group)
    if prior is None or row.version >= prior.version:
        await txn.put(RULES_TEXT, row.group, row.pack())


async def acceptances(txn: Txn, group_id: bytes) -> list[AcceptedRow]:
    return [AcceptedRow.unpack(v) for _, v in await txn.scan(ACCEPTED, partition=group_id)]


async def accepted_pair(txn: Txn, group_id: bytes, identity_key: bytes) -> Pair | None:
    value = await txn.get(ACCEPTED, group_id + identity_key)
    if value is None:
        return None
    row = AcceptedRow.unpack(value)
    return row.version, row.rules_hash


async def keep_acceptance(
    txn: Txn, group_id: bytes, identity_key: bytes, handle: str, record: RulesAcceptance
) -> None:
    """Feed the ledger (verifies the signature; an older version never replaces a newer)."""
    await keep_signed(
        txn, group_id, identity_key, handle, record.version, record.rules_hash, record.signature
    )


async def keep_signed(
    txn: Txn, group_id: bytes, identity_key: bytes, handle: str, version: int, hash_: bytes,
    signature: bytes,
) -> None:  # fmt: skip
    """One signed acceptance into the ledger (``invite.rules.bad_acceptance`` if the
    signature does not verify; an older version never replaces a newer)."""
    ledger = RulesLedger(group_id)
    value = await txn.get(ACCEPTED, group_id + identity_key)
    prior = None if value is None else AcceptedRow.unpack(value)
    if prior is not None:
        ledger.accepted[identity_key] = (prior.version, prior.rules_hash)
    ledger.record(identity_key, version, hash_, signature)
    if prior is not None and ledger.accepted[identity_key] == (prior.version, prior.rules_hash):
        return
    if not handle and prior is not None:
        handle = prior.handle
    row = AcceptedRow(group_id, identity_key, handle, version, hash_, signature)
    order = await txn.next_order(ACCEPTED, group_id)
    await txn.put(ACCEPTED, group_id + identity_key, row.pack(), partition=group_id,
                  order=order)  # fmt: skip


async def keep_list(txn: Txn, group_id: bytes, record: AcceptanceList) -> int:
    """Every entry of an ``AcceptanceList`` into the ledger; how many were new."""
    added = 0
    for identity_key, signature in record.pairs():
        before = await accepted_pair(txn, group_id, identity_key)
        await keep_signed(
            txn, group_id, identity_key, "", record.version, record.rules_hash, signature
        )
        added += before != await accepted_pair(txn, group_id, identity_key)
    return added


async def page_start(txn: Txn, group_id: bytes, group: Group) -> Pair | None:
    """Before a page of the log is processed: the rules in force."""
    return rules_pair(group.extensions)


# -- judging received records ----------------------------------------------------------


async def judge(
    txn: Txn, group_id: bytes, record: AppRecord, sender: str, sender_key: bytes,
    rules_now: Pair | None,
) -> tuple[str, str] | None:  # fmt: skip
    """The post rule, after the policy allowed the record (which also checked a
    ``Rules`` text and an acceptance's signature): None if the record counts; else
    ``(rule id, what members are shown)``."""
    if not isinstance(record, POSTING) or rules_now is None:
        return None
    if await accepted_pair(txn, group_id, sender_key) == rules_now:
        return None
    return NOT_ACCEPTED, (
        f"{sender} tried to post — refused: {sender} has not accepted the group's current "
        f"rules (version {rules_now[0]})"
    )


# -- the sender's side ------------------------------------------------------------------


class RulesNotAccepted(NoPermission):
    """Our own post, refused before sending: the current rules are not accepted."""

    rule = NOT_ACCEPTED


async def check_sending(
    txn: Txn, group_id: bytes, group: Group, record: AppRecord, identity_key: bytes
) -> None:
    """Raise :class:`RulesNotAccepted` for a post every receiver would refuse."""
    if not isinstance(record, POSTING):
        return
    pair = rules_pair(group.extensions)
    if pair is None or await accepted_pair(txn, group_id, identity_key) == pair:
        return
    name = metadata(group).name or group_id.hex()[:8]
    ref = f'"{name}"' if " " in name else name
    raise RulesNotAccepted(
        f"you have not accepted this group's current rules (version {pair[0]}), so the "
        f"members' apps would refuse your post: read them with 'cove rules show {ref}' and "
        f"accept them with 'cove rules accept {ref}'"
    )


# -- the feature: received Rules, RulesAcceptance and AcceptanceList records ------------


async def receive(incoming: Incoming) -> MessageView | None:
    """Already judged (:func:`judge`): keep the text or feed the ledger."""
    record = incoming.record
    if isinstance(record, Rules):
        await keep_rules(incoming.txn, RulesRow(
            incoming.group_id, record.version, record.salt, record.text, record.id,
            record.sent_at, incoming.sender_key, incoming.sender, incoming.seq,
        ))  # fmt: skip
    elif isinstance(record, RulesAcceptance) and incoming.sender_key:
        await keep_acceptance(
            incoming.txn, incoming.group_id, incoming.sender_key, incoming.sender, record
        )
    elif isinstance(record, AcceptanceList):
        await keep_list(incoming.txn, incoming.group_id, record)
    return None


FEATURE = register(
    Feature("rules", (Rules, RulesAcceptance, AcceptanceList), receive)  # type: ignore[arg-type]
)

__all__ = [
    "ACCEPTED",
    "NOT_ACCEPTED",
    "POSTING",
    "RULES_TEXT",
    "AcceptedRow",
    "RulesNotAccepted",
    "RulesRow",
    "acceptances",
    "accepted_pair",
    "check_sending",
    "judge",
    "keep_acceptance",
    "keep_list",
    "keep_rules",
    "keep_signed",
    "page_start",
    "rules_pair",
    "rules_row",
]
