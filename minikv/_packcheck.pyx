# cython: language_level=3, boundscheck=False, wraparound=False
"""A snapshot's packed hashes checked by walking their bytes, building no object (compiled
only).

Loading a format 5 file must refuse a blob that is not a packed hash as the writer makes it
(``minikv.packedhash.unpack_many`` is the rule, and the plain-Python way to apply it: decode
each blob into a dict, encode it again and compare). Building and freeing a dict and its
``bytes`` per key is most of what loading a chunk of small hashes costs; this walk reads the
same rule off the bytes: one MessagePack map in its shortest header, of at least one pair,
every field and value a bin in its shortest header, nothing after it, no field twice.
``minikv.packedhash.check_blobs`` uses it when it is built.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

#: Blobs with more fields than this have their repeated fields looked for by the caller (a
#: dict), not here: the pairwise comparison below is for the usual few fields.
DEDUP_FIELDS = 16

cdef Py_ssize_t _bin(const unsigned char* p, Py_ssize_t pos, Py_ssize_t end,
                     Py_ssize_t* length) noexcept:
    """The bin at ``pos``: its contents' offset (its length in ``length``), or -1 when it is not
    a bin in its shortest header or runs past ``end``."""
    cdef unsigned char b
    cdef Py_ssize_t n
    if pos >= end:
        return -1
    b = p[pos]
    if b == 0xC4:
        if pos + 2 > end:
            return -1
        n = p[pos + 1]
        pos += 2
    elif b == 0xC5:
        if pos + 3 > end:
            return -1
        n = (<Py_ssize_t>p[pos + 1] << 8) | p[pos + 2]
        if n < 0x100:
            return -1
        pos += 3
    elif b == 0xC6:
        if pos + 5 > end:
            return -1
        n = ((<Py_ssize_t>p[pos + 1] << 24) | (<Py_ssize_t>p[pos + 2] << 16)
             | (<Py_ssize_t>p[pos + 3] << 8) | p[pos + 4])
        if n < 0x10000:
            return -1
        pos += 5
    else:
        return -1
    if n > end - pos:
        return -1
    length[0] = n
    return pos


def check_maps(list blobs) -> tuple:
    """``(most fields, longest field or value, blobs with more than DEDUP_FIELDS fields)``;
    ValueError for any item that is not such a map (or not ``bytes``)."""
    cdef Py_ssize_t i, j, k, count = len(blobs), pos, end, n, length, most = 0, longest = 0
    cdef const unsigned char* p
    cdef unsigned char b
    cdef Py_ssize_t offs[16]
    cdef Py_ssize_t lens[16]
    cdef object blob
    big = []
    for i in range(count):
        blob = blobs[i]
        if type(blob) is not bytes:
            raise ValueError("bad packed hash: not a bin")
        p = <const unsigned char*>PyBytes_AS_STRING(blob)
        end = PyBytes_GET_SIZE(blob)
        if end < 1:
            raise ValueError("bad packed hash: empty blob")
        b = p[0]
        if 0x80 <= b <= 0x8F:
            n = b & 0x0F
            pos = 1
        elif b == 0xDE and end >= 3:
            n = (<Py_ssize_t>p[1] << 8) | p[2]
            if n < 16:
                raise ValueError("bad packed hash: not in the shortest encoding")
            pos = 3
        elif b == 0xDF and end >= 5:
            n = ((<Py_ssize_t>p[1] << 24) | (<Py_ssize_t>p[2] << 16)
                 | (<Py_ssize_t>p[3] << 8) | p[4])
            if n < 0x10000:
                raise ValueError("bad packed hash: not in the shortest encoding")
            pos = 5
        else:
            raise ValueError("bad packed hash: not a map")
        if n == 0:
            raise ValueError("empty packed hash")
        for j in range(n):
            pos = _bin(p, pos, end, &length)  # the field
            if pos < 0:
                raise ValueError("bad packed hash: a field is not a bin")
            if j < DEDUP_FIELDS:
                offs[j] = pos
                lens[j] = length
            if length > longest:
                longest = length
            pos += length
            pos = _bin(p, pos, end, &length)  # its value
            if pos < 0:
                raise ValueError("bad packed hash: a value is not a bin")
            if length > longest:
                longest = length
            pos += length
        if pos != end:
            raise ValueError("bad packed hash: trailing bytes")
        if n > DEDUP_FIELDS:
            big.append(blob)
        else:
            for j in range(1, n):
                for k in range(j):
                    if lens[j] == lens[k] and memcmp(p + offs[j], p + offs[k], lens[j]) == 0:
                        raise ValueError("bad packed hash (a repeated field)")
        if n > most:
            most = n
    return (most, longest, big)
