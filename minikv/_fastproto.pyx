# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled request parser's fast path: the whole multibulk requests at a chunk's head.

``RequestParser.feed`` (minikv.protocol) calls ``parse`` on a chunk that starts at a request
boundary, from a client that need not AUTH. It turns the longest run of complete, canonical
multibulk requests at the front of the chunk into requests (lists of bytes, as hiredis gives
them) and says where it stopped. Canonical: ``*<n>\\r\\n`` with 1 <= n < 10**7 written without
a sign or leading zero, then n bulk strings ``$<len>\\r\\n<len bytes>\\r\\n`` with the same
spelling rule and len <= proto-max-bulk-len. It stops, taking nothing of it, at the first
request that is anything else: an inline line, ``*0``/``*-1``, a non-canonical header, a
limit passed, a missing CRLF, or a request the chunk does not hold whole. The rest of the
chunk starts at a request boundary, and the Python parser (the one owner of every protocol
rule and error text) parses it as it would any chunk.

A .pyx, not Cython's pure-Python mode, for the reason minikv/_fastc.pyx gives: this is C byte
scanning with no meaning uncompiled, and its counterpart is the Python parser, which the
tests run against it (tests/test_fastc.py, on random streams cut at random places).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF


cdef inline Py_ssize_t _number(const char *p, Py_ssize_t q, Py_ssize_t n, int max_digits,
                               long long *out) noexcept:
    """The canonical decimal at p[q:] up to a CRLF: the position after the CRLF, or -1."""
    cdef long long v = 0
    cdef Py_ssize_t start = q
    while q < n and p[q] >= c'0' and p[q] <= c'9':
        v = v * 10 + (p[q] - c'0')
        q += 1
        if q - start > max_digits:
            return -1
    if q == start or (p[start] == c'0' and q - start > 1) or q + 1 >= n:
        return -1
    if p[q] != c'\r' or p[q + 1] != c'\n':
        return -1
    out[0] = v
    return q + 2


def parse(bytes data, long long max_bulk_len):
    """(requests, end): the complete canonical multibulk requests at the head of ``data``
    and the offset where the rest (for the Python parser) begins."""
    cdef const char *p = PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t pos = 0, q, k
    cdef long long count, blen
    cdef list out = []
    cdef list args
    while pos < n and p[pos] == c'*':
        q = _number(p, pos + 1, n, 7, &count)
        if q < 0 or count == 0:
            break
        args = PyList_New(count)
        k = 0
        while k < count:
            if q >= n or p[q] != c'$':
                break
            q = _number(p, q + 1, n, 18, &blen)
            if q < 0 or blen > max_bulk_len or q + blen + 2 > n:
                break
            if p[q + blen] != c'\r' or p[q + blen + 1] != c'\n':
                break
            item = PyBytes_FromStringAndSize(p + q, blen)
            Py_INCREF(item)
            PyList_SET_ITEM(args, k, item)
            q += blen + 2
            k += 1
        if k < count:
            # Not whole or not canonical. The list's unset slots are NULL, which its
            # deallocation skips.
            break
        out.append(args)
        pos = q
    return out, pos
