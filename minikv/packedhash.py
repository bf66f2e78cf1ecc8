"""The compact form of a small hash, as Redis keeps one in a listpack: ``PackedHash``.

A hash below the thresholds (CONFIG ``hash-max-listpack-entries`` / ``-value``, read from
``minikv.limits``) is one ``PackedHash``: a msgspec Struct whose only field ``blob`` is the
MessagePack map field -> value (all bin), in insertion order. That is
two Python objects per key where a ``dict`` of ``bytes`` has one per field and value plus the
table (a 2-field hash: about 100 bytes instead of about 450). Above the thresholds a hash is a
plain ``dict[bytes, bytes]``, the hashtable encoding.

Reads decode the blob in C (``msgspec``'s typed decoder: a dict of bytes), O(N) in the number
of fields as Redis's listpack scan is; writes decode it, change the dict and encode it again
into the same object (``settle``), so the keyspace, the deadline and the access record
stay as they are. Like Redis, a write that takes the hash past a threshold turns it into a
``dict`` for good: a ``dict`` is never packed again while the server runs (Redis's hashtables
never go back to a listpack), but a value loaded from a snapshot or RESTOREd becomes a
``PackedHash`` again when it fits, as Redis's loading does (``compact``).

The Struct is encoded by msgspec in C with no Python callback (the snapshot child writes no
reference count for it): in the snapshot it is the array ``["hash", blob]`` (format 5,
``minikv.persistence.format``), and loading checks each blob with ``check_blobs`` (compiled:
``minikv._packcheck`` walks the bytes). ``gc=False``: it only ever holds bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any

import msgspec

from minikv import limits, native


class PackedHash(msgspec.Struct, array_like=True, gc=False, tag="hash"):
    """A small hash: ``blob`` is the MessagePack map of its fields to their values, in order."""

    blob: bytes

    @classmethod
    def of(cls, h: dict[bytes, bytes]) -> PackedHash:
        return cls(_encode(h))

    def flat(self) -> list[bytes]:
        """``[field, value, field, value, ...]``."""
        return list(chain.from_iterable(_decode(self.blob).items()))

    def to_dict(self) -> dict[bytes, bytes]:
        """The fields, as a new dict (the caller may change it)."""
        return _decode(self.blob)

    def keys(self) -> list[bytes]:
        return list(_decode(self.blob))

    def values(self) -> list[bytes]:
        return list(_decode(self.blob).values())

    def get(self, field: bytes) -> bytes | None:
        return _decode(self.blob).get(field)

    def __contains__(self, field: object) -> bool:
        return field in _decode(self.blob)

    def __len__(self) -> int:
        # The map's header holds its length: fixmap (< 16 pairs), map 16 or map 32.
        blob = self.blob
        b = blob[0]
        if b < 0x90:
            return b & 0x0F
        return int.from_bytes(blob[1:3] if b == 0xDE else blob[1:5])

    def set_pairs(self, args: list[bytes], start: int) -> tuple[int, dict[bytes, bytes] | None]:
        """HSET's whole work on a packed hash (its hot path, one call): set the field/value
        pairs of ``args[start:]``; (fields added, None) when the hash stays packed, (fields
        added, its fields as the dict that replaces it) when the write takes it past a
        threshold (``settle``'s rule)."""
        h = _decode(self.blob)
        before = len(h)
        for i in range(start, len(args), 2):
            h[args[i]] = args[i + 1]
        if _packable(len(h), args[start:]):
            self.blob = _encode(h)
            return len(h) - before, None
        return len(h) - before, h

    def copy(self) -> PackedHash:
        return PackedHash(self.blob)  # bytes are immutable: the blob can be shared


_encode = msgspec.msgpack.encode
_decode = msgspec.msgpack.Decoder(dict[bytes, bytes]).decode


def fits(h: dict[bytes, bytes]) -> bool:
    """Whether a hash loaded whole (a snapshot, RESTORE) is small enough to be packed: as
    Redis's loading decides, the entry count and every field's and value's length."""
    lim = limits.current
    if len(h) > lim.hash_max_listpack_entries:
        return False
    limit = lim.hash_max_listpack_value
    return max(map(len, chain.from_iterable(h.items())), default=0) <= limit


def compact(h: dict[bytes, bytes]) -> PackedHash | dict[bytes, bytes]:
    """A loaded hash in the form Redis would give it."""
    return PackedHash.of(h) if fits(h) else h


def settle(
    h: dict[bytes, bytes], old: PackedHash | dict[bytes, bytes] | None, written: Iterable[bytes]
) -> PackedHash | dict[bytes, bytes] | None:
    """After a write: the value to store for the hash whose fields are now ``h``, or None when
    the stored object (``old``) was updated in place. ``old`` is the value the write started
    from (None: a new key); ``written`` the fields and values it set. As Redis's hashTypeSet:
    a packed hash stays packed unless a written field or value is longer than
    ``hash-max-listpack-value`` or there are now more than ``hash-max-listpack-entries``
    fields; a ``dict`` stays a ``dict``."""
    if type(old) is dict:
        return None
    if _packable(len(h), written):
        if old is None:
            return PackedHash.of(h)
        old.blob = _encode(h)
        return None
    return h


def _packable(n: int, written: Iterable[bytes]) -> bool:
    """Whether a packed hash stays packed after a write that set ``written`` (fields and
    values) and left ``n`` fields."""
    lim = limits.current
    if n > lim.hash_max_listpack_entries:
        return False
    limit = lim.hash_max_listpack_value
    for x in written:  # noqa: SIM110 - a loop: cheaper than all() or max(map()) for one or two
        if len(x) > limit:
            return False
    return True


def unpack_many(blobs: list[Any]) -> list[dict[bytes, bytes]]:
    """The decoded ``blob`` of each of ``blobs`` (a snapshot's packed hashes), checked in C
    passes: ValueError unless each is a non-empty MessagePack map bin -> bin, encoded as msgspec
    and msgpack write it (shortest forms), with no field twice (a repeated field decodes to a
    smaller dict, which encodes shorter)."""
    try:
        hashes = list(map(_decode, blobs))
    except (msgspec.DecodeError, TypeError) as e:
        raise ValueError(f"bad packed hash: {e}") from None
    if not all(hashes):
        raise ValueError("empty packed hash")
    if list(map(len, map(_encode, hashes))) != list(map(len, blobs)):
        raise ValueError("bad packed hash (a repeated field, or not in the shortest encoding)")
    return hashes


_packcheck = native.load("_packcheck")
PACKCHECK = _packcheck is not None


def check_blobs(blobs: list[Any]) -> bool:
    """Whether every one of ``blobs`` (a snapshot's packed hashes) fits the current thresholds
    (``fits``'s rule; the caller turns them into dicts if not). ValueError unless each is a
    packed hash as the writer makes it: ``unpack_many``'s rule, which the compiled walk
    (``minikv._packcheck``) reads off the bytes without building a dict per blob."""
    lim = limits.current
    if _packcheck is None:
        hashes = unpack_many(blobs)
        if max(map(len, hashes)) > lim.hash_max_listpack_entries:
            return False
        limit = lim.hash_max_listpack_value
        # No field or value is longer than its blob: only long blobs need looking into.
        return max(map(len, blobs)) <= limit or (
            max(map(len, chain.from_iterable(chain.from_iterable(map(dict.items, hashes)))))
            <= limit
        )
    most, longest, big = _packcheck.check_maps(blobs)
    if big:  # the many-field ones: a dict finds their repeated fields
        unpack_many(big)
    return most <= lim.hash_max_listpack_entries and longest <= lim.hash_max_listpack_value
