"""Attachments: encrypt and upload files, find, download, verify and decrypt them.

A file is encrypted with :mod:`cove.protocol.crypto.stream` under a fresh key
(padded, chunked), uploaded as one blob, and referenced from the record by an
:class:`~cove.protocol.app.AttachmentRef` (blob id, key, hash, size, type, name).
The relay's blob limit (8 MiB by default) applies to the *encrypted* blob;
:func:`largest_file` is the largest plaintext that fits, and errors state it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cove.client.context import Context
from cove.client.errors import ClientError, UnknownMessage, UsageProblem
from cove.client.group_state import GroupStates
from cove.client.messages import MessageStore
from cove.protocol import CoveError
from cove.protocol.app import AttachmentRef, clean_file_name, clean_media_type
from cove.protocol.crypto.stream import (
    DEFAULT_CHUNK_SIZE,
    decrypt_attachment,
    encrypt_attachment,
    largest_plaintext,
    new_attachment_key,
)
from cove.protocol.wire.limits import limit as wire_limit

BLOB_LIMIT = wire_limit("blob")  # the relay's default; an operator may set another


def largest_file(blob_limit: int = BLOB_LIMIT) -> int:
    """The largest file (plaintext bytes) whose encrypted blob fits ``blob_limit``."""
    return largest_plaintext(blob_limit, DEFAULT_CHUNK_SIZE)


@dataclass(frozen=True, slots=True)
class FileData:
    """A file as bytes in memory: what to attach without writing it to a disk, and what
    :meth:`Attachments.get_data` returns. ``media_type`` "" means: guessed from the name."""

    name: str
    data: bytes
    media_type: str = ""

    def __repr__(self) -> str:
        return f"FileData(size={len(self.data)}, <name and content redacted>)"


#: What the attachment calls take: a file's path, or its bytes.
Source = Path | FileData


def _size(source: Source) -> int:
    return len(source.data) if isinstance(source, FileData) else source.stat().st_size


def _label(source: Source) -> str:
    return "the file" if isinstance(source, FileData) else source.name


def _size_text(n: int) -> str:
    return f"{n:,} bytes ({n / (1 << 20):.2f} MiB)"


class Attachments:
    def __init__(self, ctx: Context, states: GroupStates, messages: MessageStore) -> None:
        self.ctx = ctx
        self.states = states
        self.messages = messages

    def check(self, sources: Sequence[Source]) -> None:
        """Refuse (before anything is sent) files that are missing, unnamed or too large."""
        largest = largest_file()
        for source in sources:
            if isinstance(source, FileData):
                if not source.name.strip():
                    raise UsageProblem("a file needs a name")
            elif not source.is_file():
                raise UsageProblem(f"no file {source}")
            size = _size(source)
            if size > largest:
                raise UsageProblem(
                    f"{_label(source)} is {_size_text(size)}; a file may be at most "
                    f"{_size_text(largest)} (the relay's limit of {_size_text(BLOB_LIMIT)} "
                    f"applies after encryption)"
                )

    async def upload(self, group_id: bytes, sources: Sequence[Source]) -> list[AttachmentRef]:
        self.check(sources)
        refs = []
        for source in sources:
            if isinstance(source, FileData):
                data, name = source.data, source.name
                media = source.media_type or mimetypes.guess_type(name)[0]
            else:
                data, name = source.read_bytes(), source.name
                media = mimetypes.guess_type(name)[0]
            key = new_attachment_key(self.ctx.rng)
            blob = encrypt_attachment(key, data, DEFAULT_CHUNK_SIZE)
            answer = await self.ctx.session.request(
                "upload_blob", raw=blob, path={"group_id": group_id.hex()}
            )
            refs.append(AttachmentRef(
                blob_id=answer.blob_id, key=key, sha256=hashlib.sha256(blob).digest(),
                size=len(data), media_type=clean_media_type(media),
                file_name=clean_file_name(name), chunk_size=DEFAULT_CHUNK_SIZE,
            ))  # fmt: skip
        return refs

    async def find(self, attachment_id: str) -> tuple[bytes, AttachmentRef]:
        """The group and reference of the attachment whose blob id is (or starts with) the id."""
        ref = attachment_id.lower()
        found: dict[bytes, tuple[bytes, AttachmentRef]] = {}
        async with self.ctx.store.transaction() as txn:
            for group in await self.states.all(txn):
                for m in await self.messages.group(txn, group.group_id):
                    for att in getattr(m.record, "attachments", ()):
                        if ref and att.blob_id.hex().startswith(ref):
                            found[att.blob_id] = (group.group_id, att)
        if not found:
            raise UnknownMessage(f"no attachment {attachment_id}")
        if len(found) > 1:
            raise UsageProblem(f"'{attachment_id}' starts more than one attachment id; give more")
        return next(iter(found.values()))

    async def get_data(self, attachment_id: str) -> FileData:
        """Download, verify and decrypt an attachment into memory: its name, bytes and
        media type as the sender's reference gave them."""
        group_id, att = await self.find(attachment_id)
        data = await self._fetch(group_id, att)
        return FileData(att.file_name, data, att.media_type)

    async def _fetch(self, group_id: bytes, att: AttachmentRef) -> bytes:
        blob = await self.ctx.session.request(
            "download_blob", path={"group_id": group_id.hex(), "blob_id": att.blob_id.hex()}
        )
        try:
            data = decrypt_attachment(att.key, blob, att.chunk_size, att.sha256, att.size)
        except CoveError:
            raise ClientError(
                "the downloaded attachment does not match its reference (damaged or altered); "
                "nothing was written"
            ) from None
        return data

    async def get(self, attachment_id: str, out: Path, *, overwrite: bool = False) -> int:
        """Download, verify and decrypt an attachment into ``out``; an existing file is
        only replaced with ``overwrite``."""
        if out.exists() and not overwrite:
            raise UsageProblem(f"{out} exists; choose another name (or --force to replace it)")
        group_id, att = await self.find(attachment_id)
        data = await self._fetch(group_id, att)
        tmp = out.with_name(out.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if overwrite:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)
            except FileExistsError:
                raise UsageProblem(f"{out} exists; choose another name") from None
            finally:
                os.unlink(tmp)
        return len(data)
