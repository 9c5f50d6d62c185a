"""App records (cove.protocol.app): round trips, padding, limits, strict decoding,
and the document that specifies them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.app import (
    APP_VERSION,
    LIMITS,
    RECORD_CLASSES,
    RECORD_MAX,
    RESERVED_RECORD_TYPES,
    AppRecord,
    AttachmentRef,
    DirectMessage,
    Edit,
    GroupMetadata,
    Post,
    Reaction,
    RecordType,
    Redaction,
    ThreadRoot,
    UnknownRecordType,
    UnsupportedAppVersion,
    clean_file_name,
    clean_media_type,
    decode,
    encode,
    limit,
    new_record_id,
    padded_size,
)
from cove.protocol.crypto import FixedRandom, SeededRandom
from cove.protocol.crypto.stream import AttachmentEncryptor, ciphertext_length
from cove.protocol.errors import DecodeError, UsageError

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs/protocol/app-content.md"

ID1, ID2, ID3 = b"\x01" * 16, b"\x02" * 16, b"\x03" * 16
T = 1_700_000_000


def ref(**kw: Any) -> AttachmentRef:
    base: dict[str, Any] = {
        "blob_id": b"\xbb" * 16,
        "key": b"\x4b" * 32,
        "sha256": b"\x5a" * 32,
        "size": 123_456,
        "media_type": "image/png",
        "file_name": "scan.png",
        "chunk_size": 65536,
    }
    base.update(kw)
    return AttachmentRef(**base)


def samples() -> list[AppRecord]:
    return [
        ThreadRoot(id=ID1, sent_at=T, title="Flare days", body="How do you cope?"),
        ThreadRoot(id=ID1, sent_at=0, title="t", body="", attachments=(ref(), ref(size=0))),
        Post(id=ID2, sent_at=T, thread=ID1, body="Heat packs help me.\nAnd rest."),
        Post(id=ID2, sent_at=T, thread=ID1, body="", reply_to=ID3, attachments=(ref(),)),
        Reaction(id=ID3, sent_at=T, target=ID2, emoji="❤️"),
        Reaction(id=ID3, sent_at=T, target=ID2, emoji="👩🏻‍❤️‍💋‍👨🏼", remove=True),
        Edit(id=ID3, sent_at=T, target=ID2, body="Heat packs and rest."),
        Edit(id=ID3, sent_at=T, target=ID1, body="", title="Flare days (edited)"),
        Redaction(id=ID3, sent_at=T, target=ID2),
        Redaction(id=ID3, sent_at=T, target=ID2, reason="off-topic"),
        GroupMetadata(id=ID1, sent_at=T, name="Lupus circle", description="Be kind."),
        GroupMetadata(id=ID1, sent_at=T, name="Ω"),
        DirectMessage(id=ID1, sent_at=T, body="hi"),
        DirectMessage(id=ID1, sent_at=T, body="file", reply_to=ID2, attachments=(ref(),)),
    ]


def maximal(cls: type[AppRecord]) -> AppRecord:
    """The largest record of a type: every field at its limit."""

    def text(row: str) -> str:
        return "é" * (limit(row).maximum // 2)  # two UTF-8 bytes per character

    big_ref = ref(media_type="a/" + "b" * 125, file_name=text("file_name"), size=2**40)
    refs = (big_ref,) * limit("attachments").maximum
    common: dict[str, Any] = {"id": ID1, "sent_at": limit("sent_at").maximum}
    per_type: dict[type[AppRecord], dict[str, Any]] = {
        ThreadRoot: {"title": text("title"), "body": text("body"), "attachments": refs},
        Post: {"thread": ID2, "body": text("body"), "reply_to": ID3, "attachments": refs},
        Reaction: {"target": ID2, "emoji": text("emoji"), "remove": True},
        Edit: {"target": ID2, "body": text("body"), "title": text("title")},
        Redaction: {"target": ID2, "reason": text("reason")},
        GroupMetadata: {"name": text("group_name"), "description": text("group_description")},
        DirectMessage: {"body": text("body"), "reply_to": ID3, "attachments": refs},
    }
    return cls(**common, **per_type[cls])


def raw(obj: object, *, pad: bool = True) -> bytes:
    """Any msgpack value, padded as an encoder would."""
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed + bytes(padded_size(len(packed)) - len(packed)) if pad else packed


def as_map(record: AppRecord) -> dict[str, Any]:
    """The msgpack map inside an encoded record (padding stripped)."""
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(record.encode())
    out: dict[str, Any] = unpacker.unpack()
    return out


POST = Post(id=ID2, sent_at=T, thread=ID1, body="hello", reply_to=ID3, attachments=(ref(),))


# -- round trips -----------------------------------------------------------------


@pytest.mark.parametrize("record", samples(), ids=lambda r: type(r).__name__)
def test_round_trip(record: AppRecord) -> None:
    data = record.encode()
    assert decode(data) == record
    assert type(record).decode(data) == record
    assert encode(record) == data


@pytest.mark.parametrize("cls", list(RECORD_CLASSES.values()), ids=lambda c: c.__name__)
def test_largest_record_of_each_type_fits(cls: type[AppRecord]) -> None:
    record = maximal(cls)
    data = record.encode()
    assert len(data) <= RECORD_MAX
    assert decode(data) == record


def test_map_layout() -> None:
    m = as_map(POST)
    assert list(m) == ["v", "t", "id", "sent_at", "thread", "body", "reply_to", "attachments"]
    assert m["v"] == APP_VERSION == 1 and m["t"] == RecordType.POST == 2
    assert list(m["attachments"][0]) == [
        "blob_id",
        "key",
        "sha256",
        "size",
        "media_type",
        "file_name",
        "chunk_size",
    ]
    # None is left out, never written as nil; empty tuples are written
    m = as_map(Post(id=ID2, sent_at=T, thread=ID1, body="x"))
    assert "reply_to" not in m and m["attachments"] == []


def test_decode_as_the_wrong_type() -> None:
    with pytest.raises(DecodeError, match="not a Reaction"):
        Reaction.decode(POST.encode())


def test_record_type_numbers() -> None:
    assert {int(t): cls.__name__ for t, cls in RECORD_CLASSES.items()} == {
        1: "ThreadRoot",
        2: "Post",
        3: "Reaction",
        4: "Edit",
        5: "Redaction",
        6: "GroupMetadata",
        7: "DirectMessage",
    }
    reserved = [n for block, _ in RESERVED_RECORD_TYPES for n in block]
    assert reserved == list(range(8, 128))
    assert not set(reserved) & {int(t) for t in RecordType}


def test_new_record_id() -> None:
    assert len(new_record_id(SeededRandom(1))) == 16
    assert new_record_id(SeededRandom(1)) != new_record_id(SeededRandom(2))
    with pytest.raises(UsageError):
        new_record_id(FixedRandom(b"short"))


def test_encode_refuses_non_records() -> None:
    with pytest.raises(UsageError):
        encode(ref())  # type: ignore[arg-type]


def test_attachment_ref_helpers() -> None:
    r = ref()
    assert "4b4b" not in repr(r) and "scan" not in repr(r)  # no key, no name in logs
    assert r.ciphertext_size == ciphertext_length(123_456, 65536)
    key = bytes(range(32))
    enc = AttachmentEncryptor(key, 4096)
    blob = enc.push(b"photo bytes") + enc.finish()
    good = ref(key=key, sha256=enc.sha256, size=enc.size, chunk_size=4096)
    dec = good.decryptor()
    assert dec.push(blob) + dec.finish() == b"photo bytes"


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("scan.png", "scan.png"),
        ("C:\\Users\\me\\scan.png", "scan.png"),
        ("/home/me/notes.txt", "notes.txt"),
        ("../../etc/passwd", "passwd"),
        ("..", "attachment"),
        ("", "attachment"),
        ("  ", "attachment"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("two\nlines.txt", "twolines.txt"),
        ("a" * 300 + ".jpeg", "a" * 250 + ".jpeg"),
        ("é" * 200, "é" * 127),
        ("x\ud800.txt", "x.txt"),
    ],
)
def test_clean_file_name(name: str, clean: str) -> None:
    assert clean_file_name(name) == clean


@given(st.text())
def test_clean_file_name_always_gives_an_accepted_name(name: str) -> None:
    r = ref(file_name=clean_file_name(name))
    assert clean_file_name(r.file_name) == r.file_name  # already clean: unchanged


@pytest.mark.parametrize(
    ("value", "clean"),
    [
        ("image/png", "image/png"),
        ("Text/Plain; charset=utf-8", "text/plain"),
        ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text"),
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ("image/" + "x" * 130, "application/octet-stream"),
    ],
)
def test_clean_media_type(value: str | None, clean: str) -> None:
    assert clean_media_type(value) == clean
    ref(media_type=clean)


# -- padding ---------------------------------------------------------------------


def test_short_posts_have_one_length() -> None:
    one = Post(id=ID2, sent_at=T, thread=ID1, body="a").encode()
    two_hundred = Post(id=ID2, sent_at=T, thread=ID1, body="a" * 200).encode()
    assert len(one) == len(two_hundred) == 512


def test_padding_is_zero_and_to_a_bucket() -> None:
    for record in [*samples(), *(maximal(c) for c in RECORD_CLASSES.values())]:
        data = record.encode()
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(data)
        unpacker.unpack()
        end = unpacker.tell()
        assert len(data) == padded_size(end)
        assert data[end:] == bytes(len(data) - end)


@pytest.mark.parametrize(
    ("n", "size"), [(0, 512), (512, 512), (513, 640), (1100, 1280), (40_000, 40_960)]
)
def test_padded_size(n: int, size: int) -> None:
    assert padded_size(n) == size


def test_bodies_by_bucket() -> None:
    lengths = {
        n: len(Post(id=ID2, sent_at=T, thread=ID1, body="a" * n).encode())
        for n in (0, 300, 500, 1000, 5000, 32768)
    }
    assert lengths == {0: 512, 300: 512, 500: 640, 1000: 1280, 5000: 5120, 32768: 40960}


# -- limits refused by the encoder -------------------------------------------------

LIMIT_CASES: list[tuple[type[AppRecord], str, str]] = [
    (ThreadRoot, "title", "title"),
    (ThreadRoot, "body", "body"),
    (Post, "body", "body"),
    (Edit, "body", "body"),
    (Edit, "title", "title"),
    (DirectMessage, "body", "body"),
    (Reaction, "emoji", "emoji"),
    (Redaction, "reason", "reason"),
    (GroupMetadata, "name", "group_name"),
    (GroupMetadata, "description", "group_description"),
]


def _sample_of(cls: type[AppRecord]) -> AppRecord:
    return next(r for r in samples() if type(r) is cls)


@pytest.mark.parametrize(("cls", "field", "row"), LIMIT_CASES)
def test_string_limits(cls: type[AppRecord], field: str, row: str) -> None:
    lim = limit(row)
    base = _sample_of(cls)
    ok = dataclasses.replace(base, **{field: "x" * lim.maximum})  # type: ignore[arg-type]
    assert decode(ok.encode()) == ok
    with pytest.raises(UsageError, match=f"{cls.__name__}.{field}"):
        dataclasses.replace(base, **{field: "x" * (lim.maximum + 1)})  # type: ignore[arg-type]
    # bytes, not characters, are counted
    with pytest.raises(UsageError):
        dataclasses.replace(base, **{field: "é" * (lim.maximum // 2 + 1)})  # type: ignore[arg-type]
    if lim.minimum:
        with pytest.raises(UsageError):
            dataclasses.replace(base, **{field: ""})  # type: ignore[arg-type]


def test_attachment_count_limit() -> None:
    n = limit("attachments").maximum
    Post(id=ID2, sent_at=T, thread=ID1, body="", attachments=(ref(),) * n)
    with pytest.raises(UsageError, match="attachments"):
        Post(id=ID2, sent_at=T, thread=ID1, body="", attachments=(ref(),) * (n + 1))
    with pytest.raises(UsageError):
        Post(id=ID2, sent_at=T, thread=ID1, body="", attachments=[ref()])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        Post(id=ID2, sent_at=T, thread=ID1, body="", attachments=(POST,))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "bad"),
    [
        ("blob_id", b"\x00" * 15),
        ("blob_id", "b" * 16),
        ("key", b"\x00" * 31),
        ("key", bytearray(32)),
        ("sha256", b"\x00" * 33),
        ("size", -1),
        ("size", 2**40 + 1),
        ("size", True),
        ("size", 1.0),
        ("chunk_size", 1023),
        ("chunk_size", 2**20 + 1),
        ("media_type", "image"),
        ("media_type", "Image/PNG"),
        ("media_type", "text/plain; charset=utf-8"),
        ("media_type", "a/" + "b" * 126),
        ("file_name", ""),
        ("file_name", "."),
        ("file_name", ".."),
        ("file_name", "../etc/passwd"),
        ("file_name", "dir\\file"),
        ("file_name", "invoice\u202efdp.exe"),
        ("file_name", "a\u2066b"),
        ("file_name", "two\nlines"),
        ("file_name", "nul\x00"),
        ("file_name", "x" * 256),
        ("file_name", "\ud800"),
    ],
)
def test_attachment_ref_limits(kw: str, bad: object) -> None:
    with pytest.raises(UsageError, match=f"AttachmentRef.{kw}"):
        ref(**{kw: bad})


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("id", b"\x00" * 15),
        ("id", b"\x00" * 17),
        ("id", "x" * 16),
        ("sent_at", -1),
        ("sent_at", 2**53),
        ("sent_at", 1.5),
        ("sent_at", False),
        ("thread", None),
        ("reply_to", b""),
        ("body", b"bytes"),
        ("body", "nul\x00"),
        ("body", "bell\x07"),
        ("body", "del\x7f"),
        ("body", "\udc80"),
    ],
)
def test_record_field_checks(field: str, bad: object) -> None:
    with pytest.raises(UsageError, match=f"Post.{field}"):
        dataclasses.replace(POST, **{field: bad})  # type: ignore[arg-type]


@pytest.mark.parametrize("title", ["two\nlines", "tab\there", "c1\x85", "ls\u2028", "cr\r"])
def test_one_line_fields(title: str) -> None:
    with pytest.raises(UsageError):
        ThreadRoot(id=ID1, sent_at=T, title=title, body="")
    # multi-line fields take them (except C1 controls, which only one-line fields refuse)
    assert Post(id=ID2, sent_at=T, thread=ID1, body=title).body == title


def test_remove_must_be_bool() -> None:
    with pytest.raises(UsageError, match="remove"):
        Reaction(id=ID3, sent_at=T, target=ID2, emoji="+1", remove=1)  # type: ignore[arg-type]


def test_records_are_frozen_and_keyword_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        POST.body = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Post(ID2, T, ID1, "x")  # type: ignore[misc]


# -- strict decoding ---------------------------------------------------------------


def post_map(**changes: object) -> dict[str, object]:
    m = as_map(POST)
    for k, v in changes.items():
        if v is DELETE:
            del m[k]
        else:
            m[k] = v
    return m


DELETE = object()


def assert_refused(data: bytes, match: str | None = None) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(data)


def test_well_formed_hand_built_map_decodes() -> None:
    assert decode(raw(post_map())) == POST


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"v": DELETE}, "version"),
        ({"v": "1"}, "version"),
        ({"v": True}, "version"),
        ({"t": DELETE}, "record type"),
        ({"t": 2.0}, "record type"),
        ({"id": DELETE}, "missing field 'id'"),
        ({"sent_at": DELETE}, "sent_at"),
        ({"thread": DELETE}, "thread"),
        ({"attachments": DELETE}, "attachments"),
        ({"extra": 1}, "unknown field"),
        ({"reply_to": None}, "reply_to"),
        ({"id": b"\x00" * 15}, "id"),
        ({"id": "x" * 16}, "id"),
        ({"sent_at": -1}, "sent_at"),
        ({"sent_at": True}, "sent_at"),
        ({"sent_at": 1.0}, "sent_at"),
        ({"sent_at": 2**64 - 1}, "sent_at"),
        ({"body": b"bytes"}, "body"),
        ({"body": "x" * 32769}, "body"),
        ({"body": "nul\x00"}, "body"),
        ({"attachments": {}}, "attachments"),
        ({"attachments": [1]}, "AttachmentRef"),
        ({"attachments": [[]]}, "AttachmentRef"),
        ({"attachments": [{}] * 17}, "attachments"),
        ({"attachments": [[[[[[[[[[[]]]]]]]]]]]}, "AttachmentRef"),
    ],
)
def test_malformed_post_maps(changes: dict[str, object], match: str) -> None:
    assert_refused(raw(post_map(**changes)), match)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("blob_id", b"\x00" * 17),
        ("key", "k" * 32),
        ("size", -5),
        ("size", 2**41),
        ("media_type", "no-slash"),
        ("file_name", "a/b"),
        ("file_name", "\u202egnp.exe"),
        ("chunk_size", 0),
        ("chunk_size", None),
        ("extra", 1),
    ],
)
def test_malformed_attachment_refs(field: str, value: object) -> None:
    att = dict(as_map(POST)["attachments"][0])
    att[field] = value
    assert_refused(raw(post_map(attachments=[att])), "AttachmentRef")


def test_missing_attachment_field() -> None:
    att = dict(as_map(POST)["attachments"][0])
    del att["sha256"]
    assert_refused(raw(post_map(attachments=[att])), "missing field 'sha256'")


def test_unknown_version() -> None:
    with pytest.raises(UnsupportedAppVersion) as info:
        decode(raw(post_map(v=2)))
    assert info.value.version == 2
    assert isinstance(info.value, DecodeError)
    # the version is checked first: a version-2 record may look different
    with pytest.raises(UnsupportedAppVersion):
        decode(raw({"v": 2, "whatever": [1, 2, 3]}))
    with pytest.raises(UnsupportedAppVersion):
        decode(raw(post_map(v=0)))


@pytest.mark.parametrize("number", [0, 8, 16, 127, 128, 255, -1, 2**32])
def test_unknown_record_types(number: int) -> None:
    with pytest.raises(UnknownRecordType) as info:
        decode(raw(post_map(t=number)))
    assert info.value.record_type == number
    assert isinstance(info.value, DecodeError)


def test_fields_of_another_type_are_refused() -> None:
    assert_refused(raw(post_map(t=int(RecordType.REACTION))), "Reaction")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 512,  # msgpack 0, not a map
        raw([1, 2, 3]),
        raw("a string"),
        raw(None),
        b"\xc1" + bytes(511),  # never-used msgpack byte
        b"\x91" * 512,  # deep nesting
        b"\xdf\xff\xff\xff\xff" + bytes(507),  # a map declaring 2^32-1 entries
        b"\xdd\xff\xff\xff\xff" + bytes(507),  # an array declaring 2^32-1 items
        b"\xdb\xff\xff\xff\xff" + bytes(507),  # a string declaring 2^32-1 bytes
    ],
)
def test_malformed_msgpack(data: bytes) -> None:
    assert_refused(data)


def test_not_bytes() -> None:
    for value in ("text", None, 42, [b"x"]):
        assert_refused(value)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = POST.encode()
    assert decode(bytearray(data)) == POST == decode(memoryview(data))


def test_invalid_utf8() -> None:
    data = raw(post_map(body="hello"))
    i = data.index(b"hello")
    assert_refused(data[:i] + b"\xff\xfe\xfd\xfc\xfb" + data[i + 5 :], "msgpack")
    # an encoded surrogate (CESU-style) is not UTF-8 either
    assert_refused(data[:i] + b"\xed\xa0\x80ab" + data[i + 5 :], "msgpack")


def test_duplicate_keys() -> None:
    items = ["v", 1, "t", 2, "id", ID2, "id", ID3, "sent_at", T, "thread", ID1, "body", ""]
    body = b"".join(msgpack.packb(x, use_bin_type=True) for x in [*items, "attachments", []])
    dup = bytes([0x80 | 8]) + body  # a fixmap of 8 entries, "id" twice
    assert_refused(dup + bytes(padded_size(len(dup)) - len(dup)), "msgpack")


def test_non_string_keys() -> None:
    m: dict[object, object] = dict(post_map())
    m[1] = "x"
    assert_refused(raw(m), "msgpack")
    m = dict(post_map())
    m[b"bytes-key"] = "x"
    assert_refused(raw(m), "msgpack")


def test_ext_types_and_floats() -> None:
    assert_refused(raw(post_map(sent_at=msgpack.ExtType(1, b"abc"))), "msgpack")
    assert_refused(raw(post_map(sent_at=msgpack.ExtType(1, b""))), "msgpack")
    assert_refused(raw(post_map(sent_at=float(T))), "sent_at")


def test_padding_must_be_exact_and_zero() -> None:
    packed = raw(post_map(), pad=False)
    good = raw(post_map())
    assert decode(good) == POST
    assert_refused(packed)  # unpadded (shorter than 512)
    assert_refused(good[:-1], "511 bytes")  # one byte short
    assert_refused(good + b"\x00", "padding")  # one byte long
    assert_refused(good + bytes(128), "padding")  # the next bucket
    for i in range(len(packed), len(good)):
        bad = bytearray(good)
        bad[i] = 1
        assert_refused(bytes(bad), "padding")
    # a second msgpack object in the padding is trailing bytes too
    two = packed + msgpack.packb({"v": 1})
    assert_refused(two + bytes(padded_size(len(packed)) - len(two)), "padding")


def test_oversize_input() -> None:
    assert_refused(bytes(RECORD_MAX + 1), "bytes")
    big = raw(post_map(body="x" * 32768))
    assert len(big) <= RECORD_MAX and decode(big).body == "x" * 32768  # type: ignore[union-attr]


def test_every_truncation_and_byte_flip_of_a_record() -> None:
    data = POST.encode()
    for i in range(len(data)):
        assert_refused(data[:i])
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        try:
            record = decode(bytes(bad))
        except DecodeError:
            continue
        assert decode(record.encode()) == record


# -- the document ------------------------------------------------------------------


def _doc_tables() -> str:
    return DOC.read_text()


def test_doc_limits_table_matches_the_code() -> None:
    text = _doc_tables()
    rows = {}
    for m in re.finditer(
        r"^\| `([a-z_0-9]+)` \| ([0-9 ]+) \| ([0-9 ]+) \| ([a-z]+) \|", text, re.M
    ):
        rows[m.group(1)] = (int(m.group(2).replace(" ", "")), int(m.group(3).replace(" ", "")))
    assert rows == {lim.name: (lim.minimum, lim.maximum) for lim in LIMITS}
    assert all(re.search(rf"\| `{lim.name}` \|[^\n]*\| {lim.unit} \|", text) for lim in LIMITS)


def test_doc_names_every_record_type_and_field() -> None:
    text = _doc_tables()
    for number, cls in RECORD_CLASSES.items():
        assert re.search(rf"\| {int(number)} \| `{cls.__name__}` \|", text), cls.__name__
        for f in cls.fields():
            assert f"`{f.name}`" in text
    for f in AttachmentRef.fields():
        assert f"`{f.name}`" in text
    for block, _ in RESERVED_RECORD_TYPES:
        assert f"{block.start}–{block.stop - 1}" in text
