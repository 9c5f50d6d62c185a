"""Codecs: the TLS presentation language of RFC 9420 (:mod:`.tls`) and Cove's one
msgpack schema engine (:mod:`.schema`, used by wire envelopes and app records)."""

from .tls import (
    VARINT_MAX,
    Reader,
    Struct,
    Writer,
    decode_all,
    encode_varint,
    read_opaque_item,
    read_structs,
    write_opaque_item,
    write_structs,
)

__all__ = [
    "VARINT_MAX",
    "Reader",
    "Struct",
    "Writer",
    "decode_all",
    "encode_varint",
    "read_opaque_item",
    "read_structs",
    "write_opaque_item",
    "write_structs",
]
