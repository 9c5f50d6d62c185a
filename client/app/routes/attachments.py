"""Attachments: files from the composer into the client, and back out for previews.

Uploads are read from the browser's multipart form into memory (at most
``MAX_FILES`` files of ``MAX_FILE`` bytes) and handed to the client as bytes
(:class:`~cove.client.attachments.FileData`): no plaintext file is ever written.
The page shows the browser-to-app progress (XMLHttpRequest's upload events) in a
``<progress>`` bar. Downloads are decrypted by the client into memory
(``get_attachment_data``); images are shown inline, anything else is offered as a
download. The decrypted bytes of a few recent images are kept in memory so a live
refresh does not fetch them again.
"""

from __future__ import annotations

import collections
import logging
import urllib.parse

from aiohttp import web

from cove.client.app.routes.common import ctx, session
from cove.client.app.security import CsrfMissing, FormTooLarge, read_multipart, refuse
from cove.client.app.views import IMAGE_TYPES
from cove.client.attachments import FileData
from cove.client.errors import ClientError
from cove.protocol.app import clean_file_name
from cove.protocol.wire.limits import limit

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()

MAX_FILES = 4
MAX_FILE = limit("blob") - 64 * 1024  # room for the encryption's framing
CACHE_BYTES = 32 * 1024 * 1024


class TooLarge(Exception):
    pass


class Received:
    """A multipart form's text fields and its files, in memory."""

    def __init__(self, request: web.Request) -> None:
        self.app = ctx(request)
        self.request = request
        self.fields: dict[str, str] = {}
        self.files: list[FileData] = []

    async def read(self) -> Received:
        if self.request.content_type != "multipart/form-data":
            data = await self.request.post()
            self.fields = {k: v for k, v in data.items() if isinstance(v, str)}
            return self
        self.fields = await read_multipart(self.request, self.app.guard, self._file)
        return self

    async def _file(self, field: str, file_name: str, part: object) -> None:
        del field
        if len(self.files) >= MAX_FILES:
            raise TooLarge
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):  # type: ignore[attr-defined]
            data += chunk
            if len(data) > MAX_FILE:
                raise TooLarge
        if data:  # an empty file input sends an empty part
            self.files.append(FileData(clean_file_name(file_name) or "file", bytes(data)))


async def receive(request: web.Request) -> Received | web.Response:
    """The form, or a refusal page (CSRF missing, too many or too large files)."""
    got = Received(request)
    try:
        return await got.read()
    except CsrfMissing:
        log.warning("refused a request: csrf")
        return refuse("Cove refused a form it did not send. Go back, reload and try again.")
    except (TooLarge, FormTooLarge):
        return refuse(
            f"That is too much: at most {MAX_FILES} files of up to "
            f"{MAX_FILE // (1024 * 1024)} MB each."
        )


def wants_json(request: web.Request) -> bool:
    return request.headers.get("X-Requested-With") == "cove-app"


def done(request: web.Request, location: str) -> web.StreamResponse:
    """After a composer post: JSON for the page's script, else a redirect."""
    if wants_json(request):
        return web.json_response({"location": location})
    raise web.HTTPSeeOther(location)


class PreviewCache:
    def __init__(self) -> None:
        self.items: collections.OrderedDict[str, tuple[str, bytes]] = collections.OrderedDict()

    def get(self, key: str) -> tuple[str, bytes] | None:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        return None

    def put(self, key: str, value: tuple[str, bytes]) -> None:
        self.items[key] = value
        while sum(len(v[1]) for v in self.items.values()) > CACHE_BYTES and len(self.items) > 1:
            self.items.popitem(last=False)


_cache = PreviewCache()


@routes.get("/attachments/{blob}")
async def attachment(request: web.Request) -> web.StreamResponse:
    s = session(request)
    blob = request.match_info["blob"].lower()
    if not blob or len(blob) > 128 or any(c not in "0123456789abcdef" for c in blob):
        raise web.HTTPNotFound(text="Not found\n")
    known = s.attachments.get(blob)
    if known is None:
        raise web.HTTPNotFound(text="This file is not available.\n")
    media, file_name = known
    key = f"{s.handle}:{blob}"
    hit = _cache.get(key)
    if hit is None:
        try:
            async with s.reading() as c:
                data = (await c.get_attachment_data(blob)).data
        except ClientError as exc:
            log.warning("attachment not fetched: %s", type(exc).__name__)
            raise web.HTTPNotFound(text="This file is not available.\n") from None
        hit = (media, data)
        if media in IMAGE_TYPES:
            _cache.put(key, hit)
    data = hit[1]
    inline = media in IMAGE_TYPES and request.query.get("download") != "1"
    name = clean_file_name(file_name) or "file"
    resp = web.Response(body=data, content_type=media if inline else "application/octet-stream")
    disposition = "inline" if inline else "attachment"
    quoted = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    utf8 = urllib.parse.quote(name, safe="")
    resp.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{quoted}\"; filename*=UTF-8''{utf8}"
    )
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp
