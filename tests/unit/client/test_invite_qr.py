"""QR codes of invite links (decision 0019): byte mode, error correction M, as PNG, SVG and
terminal text. No QR decoder is available, so each file is read back into its module
grid (PNG: chunks, CRCs, zlib and the row filters; SVG: the XML and its path) and
compared with a second, independent encode of the same link text."""

from __future__ import annotations

import re
import struct
import zlib
from xml.etree import ElementTree

import segno

from cove.client.features.invites import qr_code
from cove.protocol.crypto import OsRandom, suite_for
from cove.protocol.invites import new_invite_link

BORDER = 4


def a_link() -> str:
    _, key = suite_for(3).generate_signature_key_pair(OsRandom())
    return new_invite_link("https://relay.example.org", "organizer", key, OsRandom()).url


def reference(text: str) -> list[list[bool]]:
    """The module grid (border included) of a second encode of ``text``."""
    code = segno.make(text, error="m", mode="byte", micro=False, boost_error=False)
    size = len(code.matrix) + 2 * BORDER
    grid = [[False] * size for _ in range(size)]
    for y, row in enumerate(code.matrix):
        for x, dark in enumerate(row):
            grid[y + BORDER][x + BORDER] = bool(dark)
    return grid


def png_grid(data: bytes) -> list[list[bool]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + n
    assert pos == len(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, interlace) == (1, 0, 0) and width == height
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = (width + 7) // 8
    assert len(raw) == height * (stride + 1)
    rows, prev = [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]
        assert kind in (0, 2), kind  # none, up
        if kind == 2:
            line = bytes((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        rows.append([not (line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        prev = line
    scale = 8  # what qr_code writes PNGs with
    assert width % scale == 0
    modules = width // scale
    grid = [[rows[y * scale][x * scale] for x in range(modules)] for y in range(modules)]
    # every pixel of a module has the module's colour
    assert all(
        rows[y][x] == grid[y // scale][x // scale] for y in range(height) for x in range(width)
    )
    return grid


def svg_grid(data: bytes, size: int) -> list[list[bool]]:
    root = ElementTree.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    [path] = root.iter("{http://www.w3.org/2000/svg}path")
    assert path.get("transform") == "scale(4)"
    assert root.get("width") == root.get("height") == str(size * 4)
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for cmd, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d", "")):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        else:
            for i in range(int(a)):
                grid[int(y)][int(x) + i] = True
            x += float(a)
    return grid


def test_png_svg_and_terminal_encode_the_link() -> None:
    url = a_link()
    want = reference(url)
    code = segno.make(url, error="m", mode="byte", micro=False, boost_error=False)
    assert (code.error, code.mode) == ("M", "byte")
    assert png_grid(qr_code(url, "png")) == want
    assert svg_grid(qr_code(url, "svg"), len(want)) == want
    # another link gives another code (the grid is the link's, not a constant)
    assert png_grid(qr_code(a_link(), "png")) != want
    text = qr_code(url, "terminal").decode("utf-8")
    # compact terminal output: two module rows per text line, border included
    assert len(text.splitlines()) == (len(want) + 1) // 2
