"""App records on the client side: building them, keeping them, showing them.

Records are the :mod:`cove.protocol.app` types. The store keeps each one as a
*row* (a plain dict) with what the client learnt when it arrived (sender,
log position, epoch). :func:`fold` turns a group's rows into what a member
reads: thread roots, posts and private messages, with edits and deletions by
their author applied and reactions counted. A record whose author is not the
target's author cannot edit or delete it (the relay cannot forge authors:
senders come from MLS signatures).
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from dataclasses import dataclass, field
from typing import Any

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
    clean_file_name,
    clean_media_type,
    new_record_id,
)
from cove.protocol.app import decode as decode_record
from cove.protocol.app import encode as encode_record
from cove.protocol.crypto.stream import (
    DEFAULT_CHUNK_SIZE,
    ciphertext_length,
    new_attachment_key,
)
from cove.protocol.crypto.stream import decrypt_attachment as _decrypt
from cove.protocol.crypto.stream import encrypt_attachment as _encrypt

encode = encode_record
decode = decode_record


def _now() -> int:
    return int(time.time())


# -- building --------------------------------------------------------------------------


def thread(rng: RandomProvider, title: str, body: str, refs: list[AttachmentRef]) -> ThreadRoot:
    return ThreadRoot(
        id=new_record_id(rng), sent_at=_now(), title=title, body=body, attachments=tuple(refs)
    )


def post(
    rng: RandomProvider,
    thread_id: bytes,
    body: str,
    reply_to: bytes | None,
    refs: list[AttachmentRef],
) -> Post:
    return Post(
        id=new_record_id(rng),
        sent_at=_now(),
        thread=thread_id,
        body=body,
        reply_to=reply_to,
        attachments=tuple(refs),
    )


def reaction(rng: RandomProvider, target: bytes, emoji: str, remove: bool = False) -> Reaction:
    return Reaction(
        id=new_record_id(rng), sent_at=_now(), target=target, emoji=emoji, remove=remove
    )


def edit(rng: RandomProvider, target: bytes, body: str) -> Edit:
    return Edit(id=new_record_id(rng), sent_at=_now(), target=target, body=body)


def redaction(rng: RandomProvider, target: bytes) -> Redaction:
    return Redaction(id=new_record_id(rng), sent_at=_now(), target=target)


def direct(rng: RandomProvider, body: str, refs: list[AttachmentRef]) -> DirectMessage:
    return DirectMessage(id=new_record_id(rng), sent_at=_now(), body=body, attachments=tuple(refs))


# -- attachments -----------------------------------------------------------------------


def blob_size(size: int) -> int:
    """How many bytes the encrypted blob of a ``size``-byte file takes on the relay."""
    return ciphertext_length(size, DEFAULT_CHUNK_SIZE)


def encrypt_attachment(rng: RandomProvider, data: bytes) -> tuple[bytes, bytes, dict[str, Any]]:
    """(key, blob, fields): a fresh key, the encrypted blob, and the hash/chunking facts."""
    key = new_attachment_key(rng)
    blob = _encrypt(key, data, DEFAULT_CHUNK_SIZE)
    return key, blob, {"sha256": hashlib.sha256(blob).digest(), "chunk_size": DEFAULT_CHUNK_SIZE}


def attachment_ref(
    blob_id: bytes, key: bytes, blob: bytes, size: int, name: str, fields: dict[str, Any]
) -> AttachmentRef:
    return AttachmentRef(
        blob_id=blob_id,
        key=key,
        sha256=fields["sha256"],
        size=size,
        media_type=clean_media_type(mimetypes.guess_type(name)[0]),
        file_name=clean_file_name(name),
        chunk_size=fields["chunk_size"],
    )


def decrypt_attachment(att: dict[str, Any], blob: bytes) -> bytes:
    """Verify the blob's hash and every chunk, and return the plaintext."""
    return _decrypt(att["key"], blob, att["chunk_size"], att["sha256"], att["size"])


# -- rows ------------------------------------------------------------------------------

_TYPES = {
    ThreadRoot: "thread",
    Post: "post",
    DirectMessage: "dm",
    Reaction: "reaction",
    Edit: "edit",
    Redaction: "redaction",
}


def to_row(record: AppRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": record.id,
        "type": _TYPES.get(type(record), "other"),
        "sent_at": record.sent_at,
    }
    for name in ("title", "body", "thread", "reply_to", "target", "emoji", "remove"):
        value = getattr(record, name, None)
        if value is not None:
            row[name] = value
    atts = getattr(record, "attachments", ())
    row["attachments"] = [
        {
            "blob_id": a.blob_id,
            "key": a.key,
            "sha256": a.sha256,
            "size": a.size,
            "media_type": a.media_type,
            "name": a.file_name,
            "chunk_size": a.chunk_size,
        }
        for a in atts
    ]
    return row


@dataclass
class MessageView:
    """One thing a member reads: a thread root, a post or a private message."""

    id: bytes
    type: str
    sender: str
    body: str
    title: str = ""
    thread: bytes | None = None
    reply_to: bytes | None = None
    seq: int | None = None
    sent_at: int = 0
    edited: bool = False
    deleted: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)


def view(row: dict[str, Any]) -> MessageView:
    """One row on its own (as ``cove listen`` shows it as it arrives): content as is,
    a reaction, edit or deletion with its target in ``reply_to``."""
    if row["type"] in ("thread", "post", "dm"):
        return fold([row])[0]
    body = row.get("body") or row.get("emoji") or ""
    return MessageView(
        id=row["id"],
        type=row["type"],
        sender=row["sender"],
        body=body,
        reply_to=row.get("target"),
        seq=row.get("seq"),
        sent_at=row.get("sent_at", 0),
    )


def fold(rows: list[dict[str, Any]], thread_id: bytes | None = None) -> list[MessageView]:
    """Rows in arrival order -> what to show, edits/deletions/reactions applied."""
    views: dict[bytes, MessageView] = {}
    order: list[bytes] = []
    for row in rows:
        if row["type"] in ("thread", "post", "dm"):
            views[row["id"]] = MessageView(
                id=row["id"],
                type=row["type"],
                sender=row["sender"],
                body=row.get("body", ""),
                title=row.get("title", ""),
                thread=row["id"] if row["type"] == "thread" else row.get("thread"),
                reply_to=row.get("reply_to"),
                seq=row.get("seq"),
                sent_at=row.get("sent_at", 0),
                attachments=list(row.get("attachments") or []),
            )
            order.append(row["id"])
    for row in rows:
        target = views.get(row.get("target", b""))
        if target is None:
            continue
        if row["type"] == "edit" and row["sender"] == target.sender and not target.deleted:
            target.body = row["body"]
            target.edited = True
        elif row["type"] == "redaction" and row["sender"] == target.sender:
            target.deleted = True
            target.body = ""
            target.attachments = []
        elif row["type"] == "reaction":
            who = target.reactions.setdefault(row["emoji"], [])
            if row.get("remove"):
                if row["sender"] in who:
                    who.remove(row["sender"])
            elif row["sender"] not in who:
                who.append(row["sender"])
    out = [views[i] for i in order]
    for v in out:
        v.reactions = {e: who for e, who in v.reactions.items() if who}
    if thread_id is not None:
        out = [v for v in out if v.thread == thread_id]
    return out
