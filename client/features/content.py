"""Content: threads, posts, private messages, reactions, edits and deletions.

Records (``cove.protocol.app``): ThreadRoot, Post, DirectMessage, Reaction, Edit,
Redaction. Received ones are kept in the message store as they are; what a
member reads is :func:`fold` over a group's records in log order. Receivers
enforce the rules (a sender's client could skip them):

* an edit or a deletion counts only if its sender wrote the target;
* a reaction counts only on a thread root, post or private message, and only if
  it is an emoji; a member's latest reaction per (target, emoji) decides, and a
  reaction with ``remove`` takes it away;
* a record whose id was seen before is a replay and shows once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cove.client.attachments import Source
from cove.client.context import Context
from cove.client.errors import NoPermission, UnknownMessage, UsageProblem
from cove.client.features import Feature, Incoming, register
from cove.client.messages import MessageStore, Stored
from cove.client.records import MessageView
from cove.protocol import RandomProvider
from cove.protocol.app import (
    AppRecord,
    AttachmentRef,
    DirectMessage,
    Edit,
    Post,
    Reaction,
    Redaction,
    ThreadRoot,
    limit,
    new_record_id,
)

CONTENT_TYPES: dict[type, str] = {ThreadRoot: "thread", Post: "post", DirectMessage: "dm"}
CHANGE_TYPES: dict[type, str] = {Reaction: "reaction", Edit: "edit", Redaction: "redaction"}


# -- the rules, stated with their limits -------------------------------------------------


def check_title(title: str) -> None:
    lim = limit("title")
    if not title.strip():
        raise UsageProblem("a thread needs a title (it is empty)")
    if "\n" in title or "\r" in title or any(unicodedata.category(c) == "Cc" for c in title):
        raise UsageProblem("a thread title is one line: no line breaks or control characters")
    n = len(title.encode("utf-8"))
    if n > lim.maximum:
        raise UsageProblem(f"a thread title is at most {lim.maximum} bytes of UTF-8 (this is {n})")


def check_body(body: str, *, required: bool) -> None:
    lim = limit("body")
    if required and not body.strip():
        raise UsageProblem("the message is empty")
    n = len(body.encode("utf-8"))
    if n > lim.maximum:
        raise UsageProblem(
            f"a message is at most {lim.maximum} bytes of UTF-8 ({lim.maximum // 1024} KiB); "
            f"this one is {n}"
        )
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in body):
        raise UsageProblem("the message contains a control character")


def is_emoji(text: str) -> bool:
    """One emoji (sequence): symbols, with modifiers, joiners, variation selectors, keycaps."""
    if not text or len(text.encode("utf-8")) > limit("emoji").maximum:
        return False
    keycap = "\u20e3" in text
    symbols = 0
    for c in text:
        cat = unicodedata.category(c)
        if cat == "So":
            symbols += 1
        elif cat in ("Sk", "Mn", "Me") or c == "\u200d":
            continue
        elif keycap and (c.isdigit() or c in "#*"):
            symbols += 1
        else:
            return False
    return symbols > 0


# -- building records -------------------------------------------------------------------


def thread(
    rng: RandomProvider, now: int, title: str, body: str, refs: Sequence[AttachmentRef]
) -> ThreadRoot:
    check_title(title)
    check_body(body, required=False)
    return ThreadRoot(
        id=new_record_id(rng), sent_at=now, title=title, body=body, attachments=tuple(refs)
    )


def post(
    rng: RandomProvider, now: int, thread_id: bytes, body: str, reply_to: bytes | None,
    refs: Sequence[AttachmentRef],
) -> Post:  # fmt: skip
    check_body(body, required=not refs)
    return Post(
        id=new_record_id(rng), sent_at=now, thread=thread_id, body=body, reply_to=reply_to,
        attachments=tuple(refs),
    )  # fmt: skip


def direct(
    rng: RandomProvider, now: int, body: str, refs: Sequence[AttachmentRef]
) -> DirectMessage:
    check_body(body, required=not refs)
    return DirectMessage(id=new_record_id(rng), sent_at=now, body=body, attachments=tuple(refs))


def reaction(
    rng: RandomProvider, now: int, target: bytes, emoji: str, remove: bool = False
) -> Reaction:
    if not is_emoji(emoji):
        raise UsageProblem(f"'{emoji}' is not an emoji; react with one emoji, such as 💜")
    return Reaction(id=new_record_id(rng), sent_at=now, target=target, emoji=emoji, remove=remove)


def edit(rng: RandomProvider, now: int, target: bytes, body: str) -> Edit:
    check_body(body, required=True)
    return Edit(id=new_record_id(rng), sent_at=now, target=target, body=body)


def redaction(rng: RandomProvider, now: int, target: bytes) -> Redaction:
    return Redaction(id=new_record_id(rng), sent_at=now, target=target)


# -- read models -------------------------------------------------------------------------


def attachment_doc(a: AttachmentRef) -> dict[str, Any]:
    return {
        "blob_id": a.blob_id, "key": a.key, "sha256": a.sha256, "size": a.size,
        "media_type": a.media_type, "name": a.file_name, "chunk_size": a.chunk_size,
    }  # fmt: skip


def _content_view(m: Stored, group_id: bytes | None = None) -> MessageView:
    r = m.record
    assert isinstance(r, ThreadRoot | Post | DirectMessage)
    return MessageView(
        id=r.id,
        type=CONTENT_TYPES[type(r)],
        sender=m.sender,
        body=r.body,
        title=r.title if isinstance(r, ThreadRoot) else "",
        thread=r.id if isinstance(r, ThreadRoot) else (r.thread if isinstance(r, Post) else None),
        reply_to=None if isinstance(r, ThreadRoot) else r.reply_to,
        seq=m.seq,
        sent_at=r.sent_at,
        attachments=[attachment_doc(a) for a in r.attachments],
        group=group_id,
    )


def view(m: Stored, group_id: bytes | None = None) -> MessageView:
    """One record on its own, as it arrives: content as is; a reaction, edit or
    deletion with its target in ``target``."""
    r = m.record
    if type(r) in CONTENT_TYPES:
        return _content_view(m, group_id)
    body = getattr(r, "body", None) or getattr(r, "emoji", None) or ""
    return MessageView(
        id=r.id, type=CHANGE_TYPES.get(type(r), "other"), sender=m.sender, body=body,
        seq=m.seq, sent_at=r.sent_at, target=getattr(r, "target", None), group=group_id,
        remove=bool(getattr(r, "remove", False)),
    )  # fmt: skip


def fold(rows: Sequence[Stored], thread_id: bytes | None = None) -> list[MessageView]:
    """A group's records in log order -> what to show, with edits, deletions and
    reactions applied (by the rules above)."""
    views: dict[bytes, MessageView] = {}
    authors: dict[bytes, bytes | str] = {}
    for m in rows:
        if type(m.record) in CONTENT_TYPES:
            views[m.record.id] = _content_view(m)
            authors[m.record.id] = m.sender_key or m.sender
    reacted: dict[tuple[bytes, str], dict[str, bool]] = {}
    for m in rows:
        r = m.record
        target = views.get(getattr(r, "target", b""))
        if target is None:
            continue
        same_author = (m.sender_key or m.sender) == authors[target.id]
        if isinstance(r, Edit) and same_author and not target.deleted:
            target.body = r.body
            if r.title is not None and target.type == "thread":
                target.title = r.title
            target.edited = True
        elif isinstance(r, Redaction) and (same_author or m.sender_key):
            # Kept records passed the policy on arrival (authorize_record): a
            # deletion by someone else is a moderator's redaction.
            target.deleted = True
            target.body = ""
            target.title = target.title if target.type == "thread" else ""
            target.attachments = []
        elif isinstance(r, Reaction) and is_emoji(r.emoji):
            reacted.setdefault((target.id, r.emoji), {})[m.sender] = not r.remove
    for (tid, emoji), who in reacted.items():
        senders = [s for s, on in who.items() if on]
        if senders:
            views[tid].reactions[emoji] = senders
    out = list(views.values())
    if thread_id is not None:
        out = [v for v in out if v.thread == thread_id]
    return out


# -- receiving ---------------------------------------------------------------------------


async def receive(incoming: Incoming) -> MessageView | None:
    kept = await incoming.messages.keep(
        incoming.txn, incoming.group_id, incoming.record, incoming.sender,
        seq=incoming.seq, epoch=incoming.epoch, now=incoming.now, sender_key=incoming.sender_key,
    )  # fmt: skip
    return None if kept is None else view(kept, incoming.group_id)


FEATURE = register(
    Feature(
        "content",
        (ThreadRoot, Post, DirectMessage, Reaction, Edit, Redaction),
        receive,
    )
)


# -- what the facade calls -------------------------------------------------------------


class Content:
    """Sending content and reading it back (the facade's new_thread … read)."""

    def __init__(
        self,
        ctx: Context,
        messages: MessageStore,
        send: Callable[[bytes, AppRecord], Awaitable[bytes]],
        upload: Callable[[bytes, Sequence[Source]], Awaitable[list[AttachmentRef]]],
    ) -> None:
        self.ctx = ctx
        self.messages = messages
        self._send = send
        self._upload = upload

    @property
    def now(self) -> int:
        return self.ctx.clock.now()

    async def new_thread(
        self, group_id: bytes, title: str, body: str, attachments: Sequence[Source]
    ) -> bytes:
        check_title(title)
        check_body(body, required=False)
        refs = await self._upload(group_id, attachments)
        return await self._send(group_id, thread(self.ctx.rng, self.now, title, body, refs))

    async def post(
        self, group_id: bytes, thread_id: bytes, text: str, reply_to: bytes | None,
        attachments: Sequence[Source],
    ) -> bytes:  # fmt: skip
        check_body(text, required=not attachments)
        async with self.ctx.store.transaction() as txn:
            root = await self.messages.find(txn, thread_id)
            parent = await self.messages.find(txn, reply_to) if reply_to else None
        if root is None or root[0] != group_id or not isinstance(root[1].record, ThreadRoot):
            raise UnknownMessage("no such thread in this group")
        if reply_to is not None and (parent is None or parent[0] != group_id):
            raise UnknownMessage("no such message to reply to in this group")
        refs = await self._upload(group_id, attachments)
        return await self._send(
            group_id, post(self.ctx.rng, self.now, thread_id, text, reply_to, refs)
        )

    async def target(self, record_id: bytes, *, mine: bool = False) -> bytes:
        """The group of the thread root, post or private message ``record_id``."""
        async with self.ctx.store.transaction() as txn:
            found = await self.messages.find(txn, record_id)
        if found is None:
            raise UnknownMessage(f"no message {record_id.hex()}")
        if type(found[1].record) not in CONTENT_TYPES:
            raise UsageProblem("that is a reaction, edit or deletion; name a post or a thread")
        author = found[1].sender_key or found[1].sender
        me = self.ctx.account.identity_key if found[1].sender_key else self.ctx.account.handle
        if mine and author != me:
            raise NoPermission("only the author can edit or delete this message")
        return found[0]

    async def react(self, target: bytes, emoji: str, remove: bool) -> bytes:
        record = reaction(self.ctx.rng, self.now, target, emoji, remove)
        return await self._send(await self.target(target), record)

    async def edit(self, target: bytes, text: str) -> bytes:
        check_body(text, required=True)
        group_id = await self.target(target, mine=True)
        return await self._send(group_id, edit(self.ctx.rng, self.now, target, text))

    async def delete(self, target: bytes) -> bytes:
        """Delete one's own post, or (moderators and owners) anyone's: the group's
        policy decides (``policy.record.delete_not_allowed``) when it is sent."""
        group_id = await self.target(target)
        return await self._send(group_id, redaction(self.ctx.rng, self.now, target))

    async def read(self, group_id: bytes, thread_id: bytes | None) -> list[MessageView]:
        from cove.client.features.history_bundle import mark_shared

        async with self.ctx.store.transaction() as txn:
            rows = await self.messages.group(txn, group_id)
            views = fold(rows, thread_id)
            await mark_shared(txn, group_id, views)
        return views

    async def dm(self, group_id: bytes, text: str, attachments: Sequence[Source]) -> bytes:
        check_body(text, required=not attachments)
        refs = await self._upload(group_id, attachments)
        return await self._send(group_id, direct(self.ctx.rng, self.now, text, refs))
