"""The stream value: entries in ID order, cut into nodes as Redis cuts them, and consumer groups.

An entry ID is Redis's pair of unsigned 64-bit integers (ms, seq); here it is the 16 bytes of
both in big-endian order, which sort as the pairs do, hash fast and encode as MessagePack bin.

Redis keeps a stream as a radix tree of listpacks ("nodes"): a node takes entries until it
holds ``stream-node-max-entries`` (live or deleted) or its listpack reaches
``stream-node-max-bytes``; deleted entries stay in their node as tombstones until the whole
node goes, and approximate trimming (``MAXLEN ~``) removes whole nodes only. Those boundaries
show in replies (what ``XADD .. MAXLEN ~ 10`` leaves, ``XINFO STREAM``'s radix-tree-keys), so
``Stream`` keeps the same nodes: each ``Node`` holds its live entries in a dict (insertion order
is ID order, since IDs only grow) and counts its tombstones and its listpack's size, computed
with the listpack's encoding rules (``minikv.quicklist.entry_size``), so a node closes where
Redis's would.

Why msgspec ``Struct``s: the snapshot child encodes a value with msgspec, which walks Structs,
lists, tuples and dicts in C with borrowed references, so writing a stream dirties no page of the
parent's data (copy-on-write), as for the other types. Everything here is one of those: a node's
entries are ``dict[id, tuple[field, value, ...]]``, a group's pending entries a
``IdDict`` (a dict subclass put in ID order when a range is asked for: XPENDING, XAUTOCLAIM).

Limits, stated plainly: finding an ID bisects the nodes, then scans one node (at most
``stream-node-max-entries`` entries); entries of the same fields as their node's first entry
share the field objects (as the listpack shares the "master" fields).
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from operator import attrgetter
from typing import Any

import msgspec

from minikv import limits
from minikv.quicklist import entries_size
from minikv.quicklist import int_entry_size as _int_size  # every stream integer fits int64

_PAIR = struct.Struct(">QQ")
U64 = 2**64 - 1
MIN_ID = bytes(16)
MAX_ID = b"\xff" * 16
#: Redis's SCG_INVALID_ENTRIES_READ: a group whose read counter is unknown.
INVALID_ENTRIES_READ = -1
#: STREAM_LISTPACK_MAX_SIZE: a node never grows past this, whatever stream-node-max-bytes says.
LISTPACK_MAX_SIZE = 1 << 30


def make_id(ms: int, seq: int) -> bytes:
    return _PAIR.pack(ms, seq)


def split_id(i: bytes) -> tuple[int, int]:
    return _PAIR.unpack(i)  # type: ignore[return-value]


def format_id(i: bytes) -> bytes:
    ms, seq = _PAIR.unpack(i)
    return b"%d-%d" % (ms, seq)


def incr_id(i: bytes) -> bytes | None:
    """The next ID (seq + 1, carrying into ms), None past the last possible one."""
    ms, seq = _PAIR.unpack(i)
    if seq < U64:
        return _PAIR.pack(ms, seq + 1)
    if ms < U64:
        return _PAIR.pack(ms + 1, 0)
    return None


def decr_id(i: bytes) -> bytes | None:
    ms, seq = _PAIR.unpack(i)
    if seq > 0:
        return _PAIR.pack(ms, seq - 1)
    if ms > 0:
        return _PAIR.pack(ms - 1, U64)
    return None


# --- listpack sizes (listpack.c's encodings, as the quicklist computes them) ------------------


def _delta(a: int, b: int) -> int:
    """``a - b`` as the int64 the listpack stores (a uint64 difference, wrapped)."""
    d = (a - b) & U64
    return d - (1 << 64) if d >= 1 << 63 else d


_FLAG_SAMEFIELDS = 2


class Node(msgspec.Struct, array_like=True):
    """One listpack of the stream: ``master_id`` (its radix tree key, the first entry's ID),
    ``master`` (the first entry's field names), the live ``entries``, how many entries are
    ``deleted`` (tombstones), ``last`` (the ID of its last entry, live or not) and ``body``
    (its listpack bytes but for the live and deleted counters)."""

    master_id: bytes
    master: tuple[bytes, ...]
    entries: dict[bytes, tuple[bytes, ...]]
    deleted: int
    last: bytes
    body: int

    def lp_bytes(self) -> int:
        return self.body + _int_size(len(self.entries)) + _int_size(self.deleted)


_master_id = attrgetter("master_id")


class IdDict(dict):  # type: ignore[type-arg]
    """A dict keyed by IDs, iterated in ID order once ``sort`` ran (a pending entries list).

    Entries are nearly always added in ID order (XREADGROUP delivers new entries), and a dict
    keeps insertion order, so the dict usually *is* sorted: ``ordered`` says so, and only an
    insertion below the last key clears it; ``sort`` then rebuilds the dict in order, once.
    A sorted container would cost some 1.6 kB per list (a ``SortedDict``), for every group and
    every consumer; this costs one slot."""

    __slots__ = ("ordered",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ordered = not self

    def __setitem__(self, key: bytes, value: Any) -> None:
        if self.ordered and self and key not in self and key < next(reversed(self)):
            self.ordered = False
        dict.__setitem__(self, key, value)

    def sort(self) -> IdDict:
        """Put the entries in ID order (if they are not) and return the dict."""
        if not self.ordered:
            items = sorted(dict.items(self))
            dict.clear(self)
            dict.update(self, items)
            self.ordered = True
        return self

    def irange(self, start: bytes, end: bytes = MAX_ID) -> list[bytes]:
        """The keys from ``start`` to ``end`` (both included), in order."""
        keys = list(self.sort())
        return keys[bisect_left(keys, start) : bisect_right(keys, end)]


class Nack(msgspec.Struct, array_like=True):
    """A pending entry: the consumer it was delivered to, when (unix ms), how many times."""

    consumer: bytes
    time: int
    count: int


class Consumer(msgspec.Struct, array_like=True):
    seen: int  # last time it read or claimed (unix ms)
    pel: dict[bytes, None]  # its pending IDs (an IdDict in memory)


class Group(msgspec.Struct, array_like=True):
    last_id: bytes
    entries_read: int
    pel: dict[bytes, Nack]  # an IdDict in memory
    consumers: dict[bytes, Consumer]

    def add_consumer(self, name: bytes, now: int) -> Consumer:
        c = self.consumers[name] = Consumer(now, IdDict())
        return c

    def ack(self, i: bytes) -> bool:
        nack = self.pel.pop(i, None)
        if nack is None:
            return False
        self.consumers[nack.consumer].pel.pop(i, None)
        return True


class Stream(msgspec.Struct, array_like=True, tag="stream"):
    """A stream key's value (see the module docstring)."""

    nodes: list[Node] = msgspec.field(default_factory=list)
    length: int = 0
    last_id: bytes = MIN_ID
    entries_added: int = 0
    max_deleted: bytes = MIN_ID
    groups: dict[bytes, Group] = msgspec.field(default_factory=dict)

    # --- reading ---------------------------------------------------------------------------

    def first_id(self) -> bytes:
        """The first live entry's ID, 0-0 if there is none (Redis's ``first_id``)."""
        for node in self.nodes:
            if node.entries:
                return next(iter(node.entries))
        return MIN_ID

    def last_valid_id(self) -> bytes:
        """The last live entry's ID, 0-0 if there is none (streamLastValidID)."""
        for node in reversed(self.nodes):
            if node.entries:
                return next(reversed(node.entries))
        return MIN_ID

    def get(self, i: bytes) -> tuple[bytes, ...] | None:
        nodes = self.nodes
        n = bisect_right(nodes, i, key=_master_id) - 1
        return nodes[n].entries.get(i) if n >= 0 else None

    def range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, tuple[bytes, ...]]]:
        """Live entries with start <= ID <= end, in order."""
        nodes = self.nodes
        for n in range(max(0, bisect_right(nodes, start, key=_master_id) - 1), len(nodes)):
            node = nodes[n]
            if node.master_id > end:
                return
            for i, fields in node.entries.items():
                if i > end:
                    return
                if i >= start:
                    yield i, fields

    def revrange(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, tuple[bytes, ...]]]:
        """Live entries with start <= ID <= end, last first."""
        nodes = self.nodes
        for n in range(bisect_right(nodes, end, key=_master_id) - 1, -1, -1):
            node = nodes[n]
            if node.last < start:
                return
            for i in reversed(node.entries):
                if i < start:
                    return
                if i <= end:
                    yield i, node.entries[i]

    def has_tombstones(self, start: bytes = MIN_ID, end: bytes = MAX_ID) -> bool:
        """Whether an XDEL may have left a gap between ``start`` and ``end``
        (streamRangeHasTombstones: only the last deletion is known)."""
        md = self.max_deleted
        if not self.length or md == MIN_ID or self.first_id() > md:
            return False
        return start <= md <= end

    def entries_read_at(self, i: bytes) -> int:
        """How many entries were ever added up to ``i``, if that is known
        (streamEstimateDistanceFromFirstEverEntry), else INVALID_ENTRIES_READ."""
        if not self.entries_added:
            return 0
        if not self.length and i <= self.last_id:
            return self.entries_added
        if i == self.last_id:
            return self.entries_added
        if i > self.last_id:
            return INVALID_ENTRIES_READ
        first = self.first_id()
        if self.max_deleted == MIN_ID or self.max_deleted < first:
            if i < first:
                return self.entries_added - self.length
            if i == first:
                return self.entries_added - self.length + 1
        return INVALID_ENTRIES_READ

    def lag(self, g: Group) -> int | None:
        """A group's lag: entries not yet delivered to it, None when unknown."""
        if not self.entries_added:
            return 0
        if g.entries_read != INVALID_ENTRIES_READ and not self.has_tombstones(g.last_id):
            return self.entries_added - g.entries_read
        read = self.entries_read_at(g.last_id)
        return None if read == INVALID_ENTRIES_READ else self.entries_added - read

    def rax_nodes(self) -> int:
        """The node count of Redis's radix tree over the node keys (XINFO's radix-tree-nodes):
        one node per branching point, one compressed node per run of single-child bytes, and
        a leaf per key."""
        keys = [n.master_id for n in self.nodes]
        return 1 if not keys else _rax(keys, 0)

    # --- writing ---------------------------------------------------------------------------

    def add(self, i: bytes, fields: list[bytes]) -> None:
        """Append the entry ``i`` (greater than ``last_id``: the caller checked) with the
        field/value list ``fields``, in a new node where Redis would open one."""
        nodes = self.nodes
        lim = limits.current
        names = fields[0::2]
        node = nodes[-1] if nodes else None
        if node is not None:
            max_bytes = lim.stream_node_max_bytes
            if max_bytes == 0 or max_bytes > LISTPACK_MAX_SIZE:
                max_bytes = LISTPACK_MAX_SIZE
            max_entries = lim.stream_node_max_entries
            if node.lp_bytes() + sum(map(len, fields)) >= max_bytes or (
                max_entries and len(node.entries) + node.deleted >= max_entries
            ):
                node = None
        if node is None:
            master = tuple(names)
            body = 7 + _int_size(len(names)) + entries_size(list(master)) + _int_size(0)
            node = Node(i, master, {}, 0, i, body)
            nodes.append(node)
        master = node.master
        mid_ms, mid_seq = _PAIR.unpack(node.master_id)
        ms, seq = _PAIR.unpack(i)
        size = 2 + _int_size(_delta(ms, mid_ms)) + _int_size(_delta(seq, mid_seq))
        n = len(names)
        if master == tuple(names):
            values = fields[1::2]
            size += entries_size(values) + _int_size(n + 3)
            flat: list[bytes] = [b""] * (2 * n)
            flat[0::2] = master  # share the master's field objects
            flat[1::2] = values
            stored = tuple(flat)
        else:
            size += _int_size(n) + entries_size(fields) + _int_size(2 * n + 4)
            stored = tuple(fields)
        node.entries[i] = stored
        node.body += size
        node.last = i
        self.length += 1
        self.entries_added += 1
        self.last_id = i

    def delete(self, i: bytes) -> bool:
        """XDEL of one ID: a tombstone in its node, or the node goes with its last entry."""
        nodes = self.nodes
        n = bisect_right(nodes, i, key=_master_id) - 1
        if n < 0:
            return False
        node = nodes[n]
        if node.entries.pop(i, None) is None:
            return False
        if node.entries:
            node.deleted += 1
        else:
            del nodes[n]
        self.length -= 1
        return True

    def trim(self, maxlen: int | None, minid: bytes | None, approx: bool, limit: int) -> int:
        """XTRIM/XADD's trimming (streamTrim): whole nodes from the head while they may all
        go, then (unless ``approx``) entries of the next node. ``limit`` (0: none) caps the
        entries removed with whole nodes. Returns how many entries were removed."""
        nodes = self.nodes
        deleted = 0
        while nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node = nodes[0]
            live = len(node.entries)
            if limit and deleted + live > limit:
                break
            if maxlen is not None:
                remove = self.length - live >= maxlen
            else:
                assert minid is not None
                remove = node.last < minid
            if remove:
                del nodes[0]
                self.length -= live
                deleted += live
                continue
            if approx:
                break
            entries = node.entries
            for i in list(entries):
                if maxlen is not None:
                    if self.length <= maxlen:
                        break
                elif minid is not None and i >= minid:
                    break
                del entries[i]
                node.deleted += 1
                self.length -= 1
                deleted += 1
            break
        return deleted

    def copy(self) -> Stream:
        """A copy sharing nothing mutable (COPY): through the snapshot encoding."""
        return from_plain(msgspec.msgpack.decode(msgspec.msgpack.encode(self)))


def _rax(keys: list[bytes], depth: int) -> int:
    # ``keys``: sorted, distinct, all 16 bytes long, sharing their first ``depth`` bytes.
    if depth == 16:
        return 1
    first, last = keys[0], keys[-1]
    common = depth
    while common < 16 and first[common] == last[common]:
        common += 1
    if common == 16:  # one key: a compressed node for the rest, and its leaf
        return 2
    count = 1 if common > depth else 0  # a compressed node down to the branching point
    count += 1  # the branching node
    start = 0
    for j in range(1, len(keys) + 1):
        if j == len(keys) or keys[j][common] != keys[start][common]:
            group = keys[start:j]
            count += _rax(group, common + 1)
            start = j
    return count


# --- from a snapshot -----------------------------------------------------------------------


def _is_id(i: Any) -> bool:
    return type(i) is bytes and len(i) == 16


def from_plain(v: Any) -> Stream:
    """A stream from its decoded snapshot form (the list msgpack gives for it), checked: a
    crafted or damaged value raises ValueError rather than loading as something inconsistent."""
    try:
        s = msgspec.convert(v, Stream)
    except msgspec.ValidationError as e:
        raise ValueError(f"bad stream: {e}") from None
    ids = [s.last_id, s.max_deleted]
    length = 0
    prev = MIN_ID
    for n, node in enumerate(s.nodes):
        ids += (node.master_id, node.last)
        if n and node.master_id <= prev:
            raise ValueError("bad stream: nodes out of order")
        for i, fields in node.entries.items():
            if not _is_id(i) or i < node.master_id or i > node.last or i <= prev:
                raise ValueError("bad stream: entry IDs out of order")
            if not fields or len(fields) % 2:
                raise ValueError("bad stream: an entry without field/value pairs")
            prev = i
        if not node.entries and not node.deleted:
            raise ValueError("bad stream: an empty node")
        length += len(node.entries)
        prev = max(prev, node.last)
    if not all(map(_is_id, ids)) or prev > s.last_id or length != s.length:
        raise ValueError("bad stream: inconsistent length or IDs")
    if s.entries_added < s.length:
        raise ValueError("bad stream: fewer entries added than present")
    for g in s.groups.values():
        g.pel = IdDict(g.pel)
        if not _is_id(g.last_id) or g.entries_read < INVALID_ENTRIES_READ:
            raise ValueError("bad stream: bad consumer group")
        for name, c in g.consumers.items():
            c.pel = IdDict(c.pel)
            for i in c.pel:
                nack = g.pel.get(i)
                if nack is None or nack.consumer != name:
                    raise ValueError("bad stream: a consumer's pending entry not in its group")
        for i, nack in g.pel.items():
            owner = g.consumers.get(nack.consumer)
            if not _is_id(i) or owner is None or i not in owner.pel:
                raise ValueError("bad stream: a pending entry without its consumer")
    return s
