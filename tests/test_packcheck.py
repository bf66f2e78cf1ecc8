"""minikv._packcheck (a snapshot's packed hashes checked off their bytes) against the rule it
replaces, ``packedhash.unpack_many`` (decode into a dict, encode again, compare): the same blobs
refused, the same figures for the accepted ones; crafted and randomly damaged blobs."""

from __future__ import annotations

import importlib.util
import random
import struct
from itertools import chain

import msgpack
import pytest

from minikv.packedhash import PackedHash, unpack_many

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("minikv._packcheck") is None,
    reason="minikv._packcheck is not built (pip install -e . with a C compiler)",
)


def _rule(blobs: list[object]) -> tuple[int, int] | None:
    """unpack_many's verdict: (most fields, longest field or value), or None if refused."""
    try:
        hashes = unpack_many(blobs)
    except ValueError:
        return None
    items = chain.from_iterable(chain.from_iterable(map(dict.items, hashes)))
    return max(map(len, hashes)), max(map(len, items))


def _compiled(blobs: list[object]) -> tuple[int, int] | None:
    from minikv import _packcheck  # type: ignore[attr-defined]

    try:
        most, longest, big = _packcheck.check_maps(blobs)
        if big:
            unpack_many(big)
    except ValueError:
        return None
    return most, longest


def _hash(n: int, size: int = 3) -> bytes:
    return PackedHash.of({b"f%d" % i + b"x" * size: b"v" * (i % 300) for i in range(n)}).blob


GOOD = [_hash(n) for n in (1, 2, 15, 16, 17, 40)] + [_hash(2, 300), _hash(1, 70_000)]
CRAFTED = [
    b"",
    b"\xc1",
    b"\x80",  # empty map
    b"\x81\xc4\x01a",  # truncated
    b"\x81\xc4\x05a\xc4\x011",  # a bin longer than the blob
    b"\x81\xc6\xff\xff\xff\xff",  # a huge bin length
    b"\x81\xc5\x00\x01a\xc4\x011",  # bin 16 for 1 byte: not the shortest
    b"\xde\x00\x01\xc4\x01a\xc4\x011",  # map 16 for one pair
    b"\xdf\x00\x00\x00\x01\xc4\x01a\xc4\x011",  # map 32 for one pair
    b"\x81\xa1a\xc4\x011",  # a str field
    b"\x81\xc4\x01a\x01",  # an int value
    b"\x81\xc4\x01a\xc0",  # a nil value
    msgpack.packb({b"a": b"1"}) + b"\xc0",
    msgpack.packb([b"a", b"1"]),
    b"\x82\xc4\x01a\xc4\x011\xc4\x01a\xc4\x012",  # a repeated field
    # a repeated field among many (the dict's check)
    b"\xde\x00\x14" + b"".join(b"\xc4\x02f%c\xc4\x01v" % (i % 19 + 65) for i in range(20)),
    "text",
    None,
]


@pytest.mark.parametrize("blob", GOOD + CRAFTED)
def test_each_blob_as_the_rule_decides(blob: object) -> None:
    for blobs in ([blob], [GOOD[1], blob], [blob, GOOD[3]]):
        assert _compiled(blobs) == _rule(blobs)


def test_the_figures_of_good_blobs() -> None:
    assert _compiled(GOOD) == _rule(GOOD) == (40, 70_002)  # "f0" and 70,000 x


@pytest.mark.parametrize("seed", range(8))
def test_randomly_damaged_blobs(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(400):
        blob = bytearray(rnd.choice(GOOD[:7]))
        for _ in range(rnd.randint(1, 3)):
            action = rnd.randrange(3)
            if action == 0 and blob:
                blob[rnd.randrange(len(blob))] = rnd.randrange(256)
            elif action == 1 and blob:
                del blob[rnd.randrange(len(blob)) :]
            else:
                blob[rnd.randrange(len(blob) + 1) : 0] = struct.pack("B", rnd.randrange(256))
        assert _compiled([bytes(blob)]) == _rule([bytes(blob)]), bytes(blob)
