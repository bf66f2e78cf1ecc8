# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled hot path: one C call runs a run of plain hot commands of a batch.

``Client._run`` (minikv.connection) hands each batch of parsed requests here first, while its
own per-batch checks (``fast``: no MULTI, authenticated, unrestricted, not subscribed, no
CLIENT REPLY, no pause or MONITOR...) allow its inline fast path at all. ``run`` takes requests
from a given position as long as each is one it can prove plain, and stops at the first it
cannot, without having touched anything for it: the Python path (the one source of truth for
every rule) runs that request, applies its rules between commands (client state changes,
MULTI, blocked clients served, CLIENT PAUSE/REPLY, the output high-water mark), and calls
``run`` again at the next request of a mirrored command (``commands()``). Every reply of the
taken requests is built into one buffer, and the commandstats (calls, usec, latency
histograms, slow log) are updated per call as the Python fast path does, summed per run of one
command.

What "plain" means here is read from the same derived fields the Python fast path reads
(``Command.plain``, ``min_args``/``max_args``, ``denied_on_misconf`` with the batch's
``writes_fast``, ``watch.timing``), plus what makes the keyspace's change hooks do more than
store and count: a database of exactly ``keyspace.Db`` (no keyspace notifications, no
tracking: those re-class it), nobody WATCHing or blocked on a key of it, no propagation
consumer (append-only file, replicas), the LRU record or none (LFU goes to Python), and, per
key, no deadline (expiry is Python's). Within that, a command is taken only when its handler
in the command table is still the Python function this module mirrors (``_OPS``), and only
for the arguments and values whose outcome is the handler's plain case: SET without options,
INCR/DECR of a canonical number of at most 18 digits or of a missing key, GET of a
string, MSET with whole pairs, PING with at most one argument; LPUSH/RPUSH onto, LPOP/RPOP
(no count) of a ``QuickList`` the pop does not empty, LRANGE of a ``QuickList`` with canonical
indexes of at most 18 digits, SADD to a ``SetValue``, HSET of whole pairs on a hash that is
exactly a ``dict`` (the big form). A container is only ever changed, never created or
deleted here: a missing key, an emptied list and any other class of value (a small hash's or
list's compact form) are the handler's, which picks the representation. Errors of every kind
(WRONGTYPE, wrong arity, overflow, a non-integer) are the Python path's to produce.

Why a .pyx and not Cython's pure-Python mode: this module is C code in all but syntax (a C
reply buffer, ``clock_gettime`` for the call durations, dict lookups through the C API,
digit parsing in C) and would mean nothing uncompiled: the uncompiled counterpart it must
equal is ``Client._run``'s own fast path, and that is what the differential tests
(tests/test_fastc.py) run it against, server against server (compiled vs ``MINIKV_PURE=1``).
A pure-mode twin would be a third implementation that no server ever runs.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Contains, PyDict_DelItem, PyDict_SetItem, PyDict_Size
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.float cimport PyFloat_FromDouble
from cpython.object cimport PyObject, PyObject_Hash
from libc.string cimport memcpy

from minikv.commands import ALL
from minikv.commands import connection as _conn_cmds
from minikv.commands import hashes as _hashes
from minikv.commands import lists as _lists
from minikv.commands import sets as _sets
from minikv.commands import strings as _strings
from minikv.commands import zsets as _zsets
from minikv.eviction import NO_TOUCH, TOUCH_LRU
from minikv.keyspace import NSHARDS, Db
from minikv.latency import HIST_MAX, HIST_MIN
from minikv.quicklist import QuickList
from minikv.setvalue import SetValue
from minikv.zset import ZSet

cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object d, object key) except? NULL

cdef extern from "<stdio.h>" nogil:
    int snprintf(char *buf, size_t n, const char *fmt, ...)

cdef extern from "<time.h>" nogil:
    ctypedef int clockid_t
    cdef struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(clockid_t clk, timespec *tp)
    clockid_t CLOCK_MONOTONIC

# Opcodes of the commands mirrored here.
cdef enum:
    OP_NONE = 0
    OP_GET = 1
    OP_SET = 2
    OP_INCR = 3
    OP_DECR = 4
    OP_MSET = 5
    OP_PING = 6
    OP_LPUSH = 7
    OP_RPUSH = 8
    OP_LPOP = 9
    OP_RPOP = 10
    OP_LRANGE = 11
    OP_SADD = 12
    OP_HSET = 13
    OP_SPOP = 14
    OP_ZADD = 15
    OP_ZPOPMIN = 16

cdef Py_hash_t _MASK = NSHARDS - 1
cdef long long _HIST_MIN = HIST_MIN
cdef long long _HIST_MAX = HIST_MAX
cdef int _NO_TOUCH = NO_TOUCH
cdef int _TOUCH_LRU = TOUCH_LRU

cdef class Entry:
    """What ``run`` needs of a mirrored command that cannot change while the server runs
    (its table entry's fields, read once): only ``plain`` and ``hist`` are read per run."""

    cdef int op
    cdef Py_ssize_t min_args, max_args
    cdef bint denied_on_misconf
    cdef object name


# command -> Entry: the commands whose handler is the Python function mirrored here (a
# handler replaced in the table, or a command that is not registered, is never taken).
cdef dict _OPS = None
_MIRRORED = (
    ("get", _strings.get, OP_GET),
    ("set", _strings.set_, OP_SET),
    ("incr", _strings.incr, OP_INCR),
    ("decr", _strings.decr, OP_DECR),
    ("mset", _strings.mset, OP_MSET),
    ("ping", _conn_cmds.ping, OP_PING),
    ("lpush", _lists.lpush, OP_LPUSH),
    ("rpush", _lists.rpush, OP_RPUSH),
    ("lpop", _lists.lpop, OP_LPOP),
    ("rpop", _lists.rpop, OP_RPOP),
    ("lrange", _lists.lrange, OP_LRANGE),
    ("sadd", _sets.sadd, OP_SADD),
    ("hset", _hashes.hset, OP_HSET),
    ("spop", _sets.spop, OP_SPOP),
    ("zadd", _zsets.zadd, OP_ZADD),
    ("zpopmin", _zsets.zpopmin, OP_ZPOPMIN),
)

# Requests run here since the process started (INFO server's minikv_compiled_requests).
cdef long long _taken = 0


def compiled_requests() -> int:
    return _taken


cdef dict _ops():
    global _OPS
    cdef Entry e
    if _OPS is None:
        ops = {}
        for name, handler, op in _MIRRORED:
            cmd = ALL.get(name)
            if cmd is not None and cmd.handler is handler:
                e = Entry()
                e.op = op
                e.min_args = cmd.min_args
                e.max_args = min(cmd.max_args, 1 << 40)
                e.denied_on_misconf = cmd.denied_on_misconf
                e.name = cmd.name
                ops[cmd] = e
        _OPS = ops
    return _OPS


cdef inline long long _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000000 + ts.tv_nsec


_OPS = _ops()  # once every mirrored module is imported (above), before any request


def commands() -> dict:
    """The commands this module may take (its ``_OPS``: a dict keyed by ``Command``), for the
    caller's check of whether a request is worth a call here."""
    return _OPS


def mirrored() -> list:
    """The names of the commands this module may take."""
    return sorted((<Entry>e).name for e in _OPS.values())


# --- the reply buffer ---------------------------------------------------------------------------

cdef struct Buf:
    char *p
    Py_ssize_t n
    Py_ssize_t cap


cdef int _reserve(Buf *b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char *p
    if b.n + extra <= b.cap:
        return 0
    cap = b.cap * 2 if b.cap else 4096
    while cap < b.n + extra:
        cap *= 2
    p = <char*>PyMem_Realloc(b.p, cap)
    if p == NULL:
        raise MemoryError()
    b.p = p
    b.cap = cap
    return 0


cdef inline int _put(Buf *b, const char *s, Py_ssize_t n) except -1:
    _reserve(b, n)
    memcpy(b.p + b.n, s, n)
    b.n += n
    return 0


cdef inline int _put_int_line(Buf *b, char lead, long long v) except -1:
    """``<lead><v>\\r\\n``, the decimal of a signed 64-bit integer."""
    cdef char tmp[24]
    cdef int i = 23
    cdef unsigned long long u
    cdef bint neg = v < 0
    u = <unsigned long long>(-(v + 1)) + 1 if neg else <unsigned long long>v
    tmp[i] = c'\n'
    i -= 1
    tmp[i] = c'\r'
    i -= 1
    if u == 0:
        tmp[i] = c'0'
        i -= 1
    while u:
        tmp[i] = <char>(c'0' + u % 10)
        u //= 10
        i -= 1
    if neg:
        tmp[i] = c'-'
        i -= 1
    tmp[i] = lead
    return _put(b, tmp + i, 24 - i)


cdef inline int _put_bulk(Buf *b, object v) except -1:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(v)
    _put_int_line(b, c'$', n)
    _reserve(b, n + 2)
    memcpy(b.p + b.n, PyBytes_AS_STRING(v), n)
    b.n += n
    b.p[b.n] = c'\r'
    b.p[b.n + 1] = c'\n'
    b.n += 2
    return 0


cdef inline int _put_double_bulk(Buf *b, double v, bint resp3) except -1:
    """A double reply as the encoder gives it (minikv.protocol.format_double's ``%.17g``, as
    Python's own formatting of a finite double): a bulk string, or RESP3's ``,``."""
    cdef char tmp[40]
    cdef int k = snprintf(tmp, 40, "%.17g", v)
    if resp3:
        _put(b, ",", 1)
    else:
        _put_int_line(b, c'$', k)
    _put(b, tmp, k)
    _put(b, "\r\n", 2)
    return 0


cdef inline bint _counter(object v, long long *out):
    """Whether ``v`` is the canonical decimal of an integer of at most 18 digits (parse_int's
    spelling rule: an optional '-', no leading zero, no "-0"), and its value into ``out``: one
    step up or down cannot overflow then. Anything else is the INCR handler's to judge."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(v)
    cdef const char *s = PyBytes_AS_STRING(v)
    cdef long long r = 0
    cdef Py_ssize_t k = 0
    cdef bint neg = n > 0 and s[0] == c'-'
    if neg:
        k = 1
    if n - k == 0 or n - k > 18 or (s[k] == c'0' and (n - k != 1 or neg)):
        return False
    while k < n:
        if s[k] < c'0' or s[k] > c'9':
            return False
        r = r * 10 + (s[k] - c'0')
        k += 1
    out[0] = -r if neg else r
    return True


cdef inline object _container(list data, list expires, object key, Py_hash_t *h):
    """The value at ``key`` (its shard into ``h``) for a command that changes or reads a
    container in place: None when the key is missing (creating one is the handler's) or has
    a deadline (expiry is the Python path's)."""
    cdef Py_hash_t s = PyObject_Hash(key) & _MASK
    cdef PyObject *found = PyDict_GetItemWithError(<dict>PyList_GET_ITEM(data, s), key)
    cdef dict exp
    h[0] = s
    if found == NULL:
        return None
    exp = <dict>PyList_GET_ITEM(expires, s)
    if PyDict_Size(exp) and PyDict_Contains(exp, key):
        return None
    return <object>found


cdef inline object _int_bytes(long long v):
    cdef char tmp[24]
    cdef int i = 24
    cdef unsigned long long u
    cdef bint neg = v < 0
    u = <unsigned long long>(-(v + 1)) + 1 if neg else <unsigned long long>v
    if u == 0:
        i -= 1
        tmp[i] = c'0'
    while u:
        i -= 1
        tmp[i] = <char>(c'0' + u % 10)
        u //= 10
    if neg:
        i -= 1
        tmp[i] = c'-'
    return PyBytes_FromStringAndSize(tmp + i, 24 - i)


# --- the batch ------------------------------------------------------------------------------------


def run(client, db, int resp, list requests, Py_ssize_t start, list out, bint writes_fast,
        bint timed, bint tracking, unsigned long long alert_ns, ks, watch,
        Py_ssize_t high_water, dict table):
    """Run the plain hot requests of ``requests`` from ``start`` on for ``client`` (its ``db``
    and ``resp``, keyspace ``ks``, ``watch`` the server's, ``timed``/``tracking``/``alert_ns``
    its ``timing``: passed by the caller, where reading them costs less than here); append
    their replies to ``out`` as one bytes object. Returns how many were taken (0: none,
    ``out`` untouched), or -1 when the database's or the keyspace's state rules out every
    request (nothing taken: the caller need not ask again until a command that may change that
    state has run). Stops after the request whose reply passes ``high_water`` bytes."""
    global _taken
    cdef Py_ssize_t n = PyList_GET_SIZE(requests)
    cdef Py_ssize_t i = start, nargs, j
    cdef Py_ssize_t min_args = 0, max_args = 0
    cdef int op = OP_NONE
    cdef int access
    cdef bint lru
    cdef long long t_prev, t, d, run_ns = 0, run_calls = 0
    cdef long long hits = 0, misses = 0, dirty = 0, cnt
    cdef long long b, idx, lo, hi, ln
    cdef Py_ssize_t blk, off, nb, mark
    cdef double score
    cdef bint resp3 = resp > 2
    cdef Py_hash_t h
    cdef PyObject *found
    cdef Buf buf
    cdef list hist = None
    cdef list data, expires, accesses
    cdef dict shard, exp
    cdef dict ops
    cdef Entry e

    # (A client with close_after_reply set is closed before it can send another batch.)
    if type(db) is not Db or db.watched or db.blocking_keys:
        return -1
    access = ks.access
    if access != _NO_TOUCH and access != _TOUCH_LRU:
        return -1
    lru = access == _TOUCH_LRU
    lru_clock = ks.lru_clock
    data = db.data
    expires = db.expires
    accesses = db.access
    null_reply = b"$-1\r\n" if resp == 2 else b"_\r\n"
    ops = _OPS
    cmd = None
    run_cmd = None
    buf.p = NULL
    buf.n = 0
    buf.cap = 0
    t_prev = _now()
    try:
        while i < n:
            a = <object>PyList_GET_ITEM(requests, i)
            if not PyList_CheckExact(a) or PyList_GET_SIZE(a) == 0:
                break
            args = <list>a
            nargs = PyList_GET_SIZE(args)
            c = table.get(<object>PyList_GET_ITEM(args, 0))
            if c is not cmd:
                # A new run: charge the one before, and check this command once.
                if not timed:  # one clock read per run, as the Python fast path's
                    t = _now()
                    run_ns = t - t_prev
                    t_prev = t
                if run_cmd is not None:
                    run_cmd.calls += run_calls
                    run_cmd.usec_ns += run_ns
                    run_calls = run_ns = 0
                    run_cmd = None
                cmd = c
                found = PyDict_GetItemWithError(ops, c) if c is not None else NULL
                if found == NULL:
                    break
                e = <Entry>found
                op = e.op
                if not c.plain or not (writes_fast or not e.denied_on_misconf):
                    break
                min_args = e.min_args
                max_args = e.max_args
                run_cmd = c
                client.last_cmd = e.name
                hist = c.hist if tracking else None
            if nargs < min_args or nargs > max_args:
                break
            key = <object>PyList_GET_ITEM(args, 1) if nargs > 1 else None
            if op == OP_GET:
                h = PyObject_Hash(key) & _MASK
                shard = <dict>PyList_GET_ITEM(data, h)
                found = PyDict_GetItemWithError(shard, key)
                if found == NULL:
                    misses += 1
                    _put(&buf, PyBytes_AS_STRING(null_reply), PyBytes_GET_SIZE(null_reply))
                else:
                    v = <object>found
                    exp = <dict>PyList_GET_ITEM(expires, h)
                    if not PyBytes_CheckExact(v) or (PyDict_Size(exp) and PyDict_Contains(exp, key)):
                        break  # WRONGTYPE, or a deadline to check: the Python path's
                    hits += 1
                    if lru:
                        PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                    _put_bulk(&buf, v)
            elif op == OP_SET:
                if nargs != 3:
                    break  # options: the Python path's
                h = PyObject_Hash(key) & _MASK
                PyDict_SetItem(<dict>PyList_GET_ITEM(data, h), key,
                               <object>PyList_GET_ITEM(args, 2))
                exp = <dict>PyList_GET_ITEM(expires, h)
                if PyDict_Size(exp) and PyDict_Contains(exp, key):
                    PyDict_DelItem(exp, key)
                dirty += 1
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put(&buf, b"+OK\r\n", 5)
            elif op == OP_INCR or op == OP_DECR:
                h = PyObject_Hash(key) & _MASK
                shard = <dict>PyList_GET_ITEM(data, h)
                found = PyDict_GetItemWithError(shard, key)
                exp = <dict>PyList_GET_ITEM(expires, h)
                if found == NULL:
                    cnt = 0
                    if PyDict_Size(exp) and PyDict_Contains(exp, key):
                        PyDict_DelItem(exp, key)  # as Db.set's
                else:
                    v = <object>found
                    if not PyBytes_CheckExact(v) or (PyDict_Size(exp) and PyDict_Contains(exp, key)):
                        break
                    if not _counter(v, &cnt):
                        break  # not canonical, too long or not a number
                cnt = cnt + 1 if op == OP_INCR else cnt - 1
                PyDict_SetItem(shard, key, _int_bytes(cnt))
                dirty += 1
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put_int_line(&buf, c':', cnt)
            elif op == OP_MSET:
                if nargs % 2 == 0:
                    break  # the handler's arity error
                for j in range(1, nargs, 2):
                    key = <object>PyList_GET_ITEM(args, j)
                    h = PyObject_Hash(key) & _MASK
                    PyDict_SetItem(<dict>PyList_GET_ITEM(data, h), key,
                                   <object>PyList_GET_ITEM(args, j + 1))
                    exp = <dict>PyList_GET_ITEM(expires, h)
                    if PyDict_Size(exp) and PyDict_Contains(exp, key):
                        PyDict_DelItem(exp, key)
                    if lru:
                        PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                dirty += nargs // 2
                _put(&buf, b"+OK\r\n", 5)
            elif op == OP_LPUSH or op == OP_RPUSH:
                # Only onto a list that is there, of the one list class, with no deadline:
                # creating one (and picking its form) is the handler's.
                v = _container(data, expires, key, &h)
                if type(v) is not QuickList:
                    break
                if nargs == 3:  # the handler's own calls: QuickList keeps its node sizes
                    if op == OP_LPUSH:
                        v.appendleft(<object>PyList_GET_ITEM(args, 2))
                    else:
                        v.append(<object>PyList_GET_ITEM(args, 2))
                elif op == OP_LPUSH:
                    v.extendleft(args[2:])
                else:
                    v.extend(args[2:])
                dirty += nargs - 2
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put_int_line(&buf, c':', v.size)
            elif op == OP_LPOP or op == OP_RPOP:
                if nargs != 2:
                    break  # a count: the handler's
                v = _container(data, expires, key, &h)
                if type(v) is not QuickList:
                    break
                if v.size <= 1:
                    break  # the pop that empties it deletes the key: the handler's
                x = v.popleft() if op == OP_LPOP else v.pop()
                dirty += 1
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put_bulk(&buf, x)
            elif op == OP_LRANGE:
                if not _counter(<object>PyList_GET_ITEM(args, 2), &lo) or not _counter(
                    <object>PyList_GET_ITEM(args, 3), &hi
                ):
                    break  # not canonical or past 18 digits: parse_int's to judge
                v = _container(data, expires, key, &h)
                if type(v) is not QuickList:
                    break
                # commands.lists.list_range's clamping
                ln = v.size
                if lo < 0:
                    lo += ln
                if hi < 0:
                    hi += ln
                if lo < 0:
                    lo = 0
                if lo > hi or lo >= ln:
                    cnt = 0
                else:
                    if hi >= ln:
                        hi = ln - 1
                    cnt = hi - lo + 1
                mark = buf.n
                _put_int_line(&buf, c'*', cnt)
                if cnt:
                    # The QuickList's own items are its blocks (minikv.quicklist), each a
                    # non-empty list of bytes: find the one holding ``lo`` from the nearer
                    # end, then copy elements block by block.
                    nb = PyList_GET_SIZE(v)
                    if lo <= ln // 2:
                        blk = 0
                        idx = 0  # elements before blk
                        while idx + PyList_GET_SIZE(<object>PyList_GET_ITEM(v, blk)) <= lo:
                            idx += PyList_GET_SIZE(<object>PyList_GET_ITEM(v, blk))
                            blk += 1
                    else:
                        blk = nb - 1
                        idx = ln - PyList_GET_SIZE(<object>PyList_GET_ITEM(v, blk))
                        while idx > lo:
                            blk -= 1
                            idx -= PyList_GET_SIZE(<object>PyList_GET_ITEM(v, blk))
                    off = lo - idx
                    while cnt:
                        x = <object>PyList_GET_ITEM(<object>PyList_GET_ITEM(v, blk), off)
                        if not PyBytes_CheckExact(x):
                            break
                        _put_bulk(&buf, x)
                        cnt -= 1
                        off += 1
                        if off == PyList_GET_SIZE(<object>PyList_GET_ITEM(v, blk)):
                            blk += 1
                            off = 0
                    if cnt:
                        buf.n = mark  # not a list of bytes after all: the handler's
                        break
                hits += 1
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
            elif op == OP_SADD:
                v = _container(data, expires, key, &h)
                if type(v) is not SetValue:
                    break
                cnt = PyDict_Size(v)
                for j in range(2, nargs):
                    PyDict_SetItem(v, <object>PyList_GET_ITEM(args, j), None)
                cnt = PyDict_Size(v) - cnt
                if cnt:  # the handler reports a change only when a member was added
                    dirty += cnt
                    if lru:
                        PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put_int_line(&buf, c':', cnt)
            elif op == OP_HSET:
                if nargs % 2:
                    break  # the handler's arity error
                v = _container(data, expires, key, &h)
                if type(v) is not dict:  # exactly: a big hash (a small one is another class)
                    break
                cnt = PyDict_Size(v)
                for j in range(2, nargs, 2):
                    PyDict_SetItem(v, <object>PyList_GET_ITEM(args, j),
                                   <object>PyList_GET_ITEM(args, j + 1))
                cnt = PyDict_Size(v) - cnt
                dirty += (nargs - 2) // 2
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put_int_line(&buf, c':', cnt)
            elif op == OP_SPOP:
                if nargs != 2:
                    break  # a count: the handler's
                v = _container(data, expires, key, &h)
                if type(v) is not SetValue:
                    break
                if PyDict_Size(v) <= 1:
                    break  # the pop that empties it deletes the key: the handler's
                x = v.random_member()  # the handler's draw, from the same generator
                PyDict_DelItem(v, x)
                dirty += 1
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put_bulk(&buf, x)
            elif op == OP_ZADD:
                # Score/member pairs with no option before them, canonical integer scores
                # (parse_double's other spellings are the handler's), onto a big sorted set.
                if nargs < 4 or nargs % 2:
                    break
                for j in range(2, nargs, 2):
                    if not _counter(<object>PyList_GET_ITEM(args, j), &cnt):
                        break
                else:
                    j = 0
                if j:
                    break
                v = _container(data, expires, key, &h)
                if type(v) is not ZSet:
                    break
                if v.big is not True:
                    break  # the small (listpack) form: the handler's
                lo = hi = 0  # added, updated: commands.zsets._zadd without options
                for j in range(2, nargs, 2):
                    _counter(<object>PyList_GET_ITEM(args, j), &cnt)
                    score = <double>cnt
                    x = <object>PyList_GET_ITEM(args, j + 1)
                    found = PyDict_GetItemWithError(v, x)
                    if found == NULL:
                        v.add(x, PyFloat_FromDouble(score))
                        lo += 1
                    elif <object>found != score:  # the handler's comparison, as Python's
                        v.add(x, PyFloat_FromDouble(score))
                        hi += 1
                if lo + hi:  # the handler reports a change only when one was made
                    dirty += lo + hi
                    if lru:
                        PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put_int_line(&buf, c':', lo)
            elif op == OP_ZPOPMIN:
                if nargs != 2:
                    break  # a count: the handler's
                v = _container(data, expires, key, &h)
                if type(v) is not ZSet:
                    break
                if v.big is not True or PyDict_Size(v) <= 1:
                    break  # the small form, or the pop that deletes the key: the handler's
                score_member = v.pop_end(False)
                score = score_member[0]  # a float: what ZSet.add stored
                x = score_member[1]
                dirty += 1
                if lru:
                    PyDict_SetItem(<dict>PyList_GET_ITEM(accesses, h), key, lru_clock)
                _put(&buf, "*2\r\n", 4)
                _put_bulk(&buf, <bytes?>x)  # (members are bytes; checked, not assumed)
                _put_double_bulk(&buf, score, resp3)
            elif op == OP_PING:
                if nargs == 1:
                    _put(&buf, b"+PONG\r\n", 7)
                elif nargs == 2 and PyBytes_CheckExact(key):
                    _put_bulk(&buf, key)
                else:
                    break
            else:
                break
            i += 1
            run_calls += 1
            if timed:
                # The call's duration, as the Python fast path measures it: from the end of
                # the call before (or the batch's start) to the end of its reply.
                t = _now()
                d = t - t_prev
                t_prev = t
                run_ns += d
                if tracking:
                    if hist is None or d < _HIST_MIN or d > _HIST_MAX:
                        watch.record_duration(cmd, d)  # creates or clamps, as minikv.latency
                        hist = cmd.hist
                    else:
                        # minikv.latency.bucket_of
                        b = 64 - __builtin_clzll(<unsigned long long>(d | 255)) - 8
                        idx = (b << 7) + (d >> b)
                        hist[idx] += 1
                if <unsigned long long>d >= alert_ns:
                    watch.slow_call(client, cmd, args, d)
            if buf.n > high_water:
                break
        if not timed:
            run_ns = _now() - t_prev
        if run_cmd is not None:
            run_cmd.calls += run_calls
            run_cmd.usec_ns += run_ns
        if hits:
            ks.hits += hits
        if misses:
            ks.misses += misses
        if dirty:
            ks.dirty += dirty
        if i > start:
            _taken += i - start
            out.append(PyBytes_FromStringAndSize(buf.p, buf.n))
        return i - start
    finally:
        PyMem_Free(buf.p)


cdef extern from *:
    int __builtin_clzll(unsigned long long x) nogil
