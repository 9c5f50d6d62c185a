"""Drafts: what the member started writing and has not sent, kept in the encrypted
store (collection ``draft``, key: the place in UTF-8), so that a draft survives a
restart, an idle lock and a crash.

A place names a composer; the app uses ``t:THREAD`` (a reply in a thread),
``g:GROUP`` (a new thread in a group, with its title), ``dm:HANDLE`` (a private
message) and ``dm:`` (a new private conversation); any other short one-line name
works. Saving an empty draft deletes it, and :meth:`CoveClient.post`,
``new_thread`` and ``dm`` delete the draft named by their ``draft`` argument once
the message is kept to be sent.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, ClassVar

from cove.client.context import Context
from cove.client.errors import UsageProblem
from cove.client.features.content import check_body
from cove.client.store.records import StoreRecord
from cove.protocol.app import limit
from cove.protocol.wire.schema import Int, Str

DRAFT = "draft"
PLACE_MAX = 200
I63 = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Draft(StoreRecord):
    KIND: ClassVar[str] = "draft"

    place: Annotated[str, Str(1, PLACE_MAX)]
    text: Annotated[str, Str(0, 32 * 1024)]
    saved_at: Annotated[int, Int(0, I63)]
    title: Annotated[str | None, Str(0, 512)] = None

    def __repr__(self) -> str:
        return f"Draft(place={self.place!r}, <text redacted>)"


def check_place(place: str) -> None:
    if not place or len(place) > PLACE_MAX:
        raise UsageProblem(f"a draft's place is 1 to {PLACE_MAX} characters")
    if any(unicodedata.category(c) == "Cc" for c in place):
        raise UsageProblem("a draft's place is one line without control characters")


class Drafts:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def save(self, place: str, text: str, title: str = "") -> Draft | None:
        """Keep the draft (or delete it, if both text and title are blank)."""
        check_place(place)
        check_body(text, required=False)
        if len(title.encode("utf-8")) > limit("title").maximum:
            raise UsageProblem(f"a thread title is at most {limit('title').maximum} bytes")
        async with self.ctx.store.transaction() as txn:
            if not text.strip() and not title.strip():
                await txn.delete(DRAFT, place.encode())
                return None
            draft = Draft(place, text, self.ctx.clock.now(), title or None)
            await txn.put(DRAFT, place.encode(), draft.pack())
        return draft

    async def get(self, place: str) -> Draft | None:
        check_place(place)
        async with self.ctx.store.transaction() as txn:
            value = await txn.get(DRAFT, place.encode())
        return None if value is None else Draft.unpack(value)

    async def all(self) -> list[Draft]:
        async with self.ctx.store.transaction() as txn:
            rows = await txn.scan(DRAFT)
        return sorted((Draft.unpack(v) for _, v in rows), key=lambda d: d.place)

    async def delete(self, place: str) -> None:
        check_place(place)
        async with self.ctx.store.transaction() as txn:
            await txn.delete(DRAFT, place.encode())
