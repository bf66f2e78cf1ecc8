"""The QuickList container (minikv/quicklist.py) on its own: random operations checked against a
``collections.deque`` reference with the block invariants after each step, the msgpack form a
snapshot child writes (an array of arrays), and its node layout against redis-server's
quicklist (the same commands on both, then DEBUG OBJECT's ql_* fields compared)."""

from __future__ import annotations

import copy
import pickle
import random
from collections import deque
from collections.abc import Iterator

import msgspec
import pytest
from helpers import ServerProcess

from minikv import limits
from minikv.quicklist import QuickList, entries_size, entry_size

ALPHABET = [b"a", b"b", b"c", b"", b"0", b"7", b"127", b"128", b"-1", b"4095", b"-4097", b"32768"]


def element(rnd: random.Random) -> bytes:
    """Mostly a few small values (so searches hit), sometimes integers of every listpack
    width, sometimes strings long enough to need 2- and 5-byte headers."""
    k = rnd.random()
    if k < 0.7:
        return rnd.choice(ALPHABET)
    if k < 0.85:
        return b"%d" % rnd.choice([rnd.randrange(-(2**63), 2**63), rnd.randrange(-9999, 9999)])
    if k < 0.97:
        return b"s" * rnd.randrange(1, 300)
    return b"L" * rnd.randrange(4000, 20000)


@pytest.fixture
def fill() -> Iterator[None]:
    """Restore list-max-listpack-size after a test that changes it."""
    saved = limits.current.list_max_listpack_size
    yield
    limits.current.list_max_listpack_size = saved


# --- entry sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (b"", 2),
        (b"x" * 63, 65),
        (b"x" * 64, 67),  # 2-byte string header
        (b"x" * 125, 128),  # enc length 127: 1-byte backlen
        (b"x" * 126, 130),  # enc length 128: 2-byte backlen
        (b"x" * 4096, 4103),  # 5-byte header
        (b"0", 2),
        (b"127", 2),
        (b"128", 3),
        (b"-4096", 3),
        (b"4096", 4),
        (b"-32768", 4),
        (b"32768", 5),
        (b"8388607", 5),
        (b"8388608", 6),
        (b"2147483647", 6),
        (b"2147483648", 10),
        (b"-9223372036854775808", 10),
        (b"9223372036854775808", 21),  # overflows int64: a string
        (b"01", 4),  # not canonical: a string
        (b"-0", 4),
        (b"+1", 4),
        (b" 1", 4),
    ],
)
def test_entry_size(value: bytes, size: int) -> None:
    assert entry_size(value) == size


def test_entries_size_is_the_sum_of_entry_sizes() -> None:
    rnd = random.Random(7)
    pool = [b"", b"-", b"-0", b"-5", b"0", b"00", b"123", b"-4097", b"abc", b"a-1", b"1a"]
    pool += [b"9223372036854775808", b"x" * 63, b"x" * 64, b"-" + b"1" * 19, b"w", b"ww"]
    for _ in range(3000):
        items = [rnd.choice(pool) for _ in range(rnd.randrange(0, 40))]
        assert entries_size(items) == sum(map(entry_size, items)), items


# --- against a deque --------------------------------------------------------------------------


def _random_ops(rnd: random.Random, steps: int) -> None:
    ql = QuickList()
    ref: deque[bytes] = deque()
    for _ in range(steps):
        op = rnd.randrange(17)
        n = len(ref)
        if op == 0:
            x = element(rnd)
            ql.append(x)
            ref.append(x)
        elif op == 1:
            x = element(rnd)
            ql.appendleft(x)
            ref.appendleft(x)
        elif op == 2:
            items = [element(rnd) for _ in range(rnd.randrange(0, 400))]
            ql.extend(items)
            ref.extend(items)
        elif op == 3:
            items = [element(rnd) for _ in range(rnd.randrange(0, 400))]
            ql.extendleft(items)
            ref.extendleft(items)
        elif op == 4 and n:
            assert ql.pop() == ref.pop()
        elif op == 5 and n:
            assert ql.popleft() == ref.popleft()
        elif op == 6 and n:
            k = rnd.randrange(1, 300)
            left = rnd.random() < 0.5
            want = [ref.popleft() if left else ref.pop() for _ in range(min(k, n))]
            assert ql.pop_many(k, left) == want
        elif op == 7 and n:
            i = rnd.randrange(-n, n)
            assert ql[i] == ref[i]
            x = element(rnd)
            ql[i] = x
            ref[i] = x
        elif op == 8 and n:
            i = rnd.randrange(n)
            after = rnd.random() < 0.5
            x = element(rnd)
            ql.insert_at(i, x, after)
            ref.insert(i + 1 if after else i, x)
        elif op == 9:
            i = rnd.randrange(-n - 2, n + 2)
            x = element(rnd)
            ql.insert(i, x)
            ref.insert(i, x)
        elif op == 10:
            x = rnd.choice(ALPHABET)
            count = rnd.choice([0, 1, 2, 5, -1, -3, 1000])
            want = [y for y in ref if y != x] if count == 0 else None
            if count > 0:
                lst = list(ref)
                for _ in range(count):
                    if x in lst:
                        lst.remove(x)
                want = lst
            elif count < 0:
                lst = list(ref)[::-1]
                for _ in range(-count):
                    if x in lst:
                        lst.remove(x)
                want = lst[::-1]
            removed = ql.lrem(x, count)
            assert removed == n - len(want)
            ref = deque(want)
        elif op == 11:
            left = rnd.randrange(0, n + 2)
            right = rnd.randrange(0, n + 2)
            ql.trim(left, right)
            lst = list(ref)[left:]
            ref = deque(lst[: max(len(lst) - right, 0)])
        elif op == 12:
            a = rnd.randrange(-2, n + 2)
            b = rnd.randrange(-2, n + 2)
            assert ql[a:b] == list(ref)[a:b]
            assert ql.get_range(max(a, 0), max(b, 0)) == list(ref)[max(a, 0) : max(b, 0)]
        elif op == 13:
            x = rnd.choice(ALPHABET)
            forward = rnd.random() < 0.5
            maxlen = rnd.choice([0, 1, 10, 1000])
            lst = list(ref)
            idx = range(n) if forward else range(n - 1, -1, -1)
            if maxlen:
                idx = idx[:maxlen]
            assert list(ql.find(x, forward, maxlen)) == [i for i in idx if lst[i] == x]
            assert (x in ql) == (x in ref)
            assert ql.count(x) == ref.count(x)
            if x in ref:
                assert ql.index(x) == ref.index(x)
                start = rnd.randrange(0, n)
                stop = rnd.randrange(start, n + 1)
                try:
                    want_i: int | None = lst.index(x, start, stop)
                except ValueError:
                    want_i = None
                if want_i is None:
                    with pytest.raises(ValueError):
                        ql.index(x, start, stop)
                else:
                    assert ql.index(x, start, stop) == want_i
            else:
                with pytest.raises(ValueError):
                    ql.index(x)
        elif op == 14 and n:
            i = rnd.randrange(-n, n)
            del ql[i]
            del ref[i]
        elif op == 15:
            a = rnd.randrange(0, n + 1)
            b = rnd.randrange(a, n + 2)
            del ql[a:b]
            lst = list(ref)
            del lst[a:b]
            ref = deque(lst)
        elif op == 16:
            c = ql.copy()
            c.check()
            assert c == ql and list(c) == list(ref)
        ql.check()
        assert len(ql) == len(ref)
        assert bool(ql) == bool(ref)
        assert list(ql) == list(ref)
        assert list(reversed(ql)) == list(reversed(ref))
        # msgspec sees the blocks: the snapshot form.
        assert list.__len__(ql) == ql.block_count()


@pytest.mark.parametrize("seed", range(6))
def test_random_ops_against_deque(seed: int, fill: None) -> None:
    rnd = random.Random(seed)
    limits.current.list_max_listpack_size = [-2, -1, -5, 1, 4, 128][seed]
    _random_ops(rnd, 600)


def test_fill_is_fixed_at_creation(fill: None) -> None:
    limits.current.list_max_listpack_size = 3
    ql = QuickList([b"a"] * 7)
    assert [len(b) for b in ql.blocks()] == [3, 3, 1]
    limits.current.list_max_listpack_size = 100
    ql.extend([b"b"] * 3)
    assert [len(b) for b in ql.blocks()] == [3, 3, 3, 1]
    assert QuickList([b"a"] * 7).block_count() == 1
    limits.current.list_max_listpack_size = -9  # clamped like quicklistSetFill
    assert QuickList([b"a"]).fill == -5
    limits.current.list_max_listpack_size = 1 << 20
    assert QuickList([b"a"]).fill == (1 << 15) - 1


# --- the snapshot form ----------------------------------------------------------------------


def test_msgpack_is_array_of_arrays() -> None:
    ql = QuickList(b"e%d" % i for i in range(10_000))
    ql.extendleft([b"x" * 9000, b"12345"])
    assert ql.block_count() > 5
    raw = msgspec.msgpack.encode(ql)
    decoded = msgspec.msgpack.decode(raw)
    assert type(decoded) is list and all(type(b) is list and b for b in decoded)
    assert len(decoded) == ql.block_count()
    assert [x for b in decoded for x in b] == list(ql)
    # Exactly the encoding of the plain blocks: nothing else is in the object.
    assert raw == msgspec.msgpack.encode([list(b) for b in ql.blocks()])
    back = QuickList.from_blocks(decoded)
    back.check()
    assert back == ql and back.block_count() == ql.block_count()


def test_from_blocks_any_layout(fill: None) -> None:
    limits.current.list_max_listpack_size = 4
    items = [b"v%d" % i for i in range(30)]
    blocks = [[], items[:2], [], items[2:20], items[20:23], items[23:], []]
    ql = QuickList.from_blocks(blocks)
    ql.check()
    assert list(ql) == items
    assert all(len(b) <= 4 for b in ql.blocks())  # the 18-element block was cut
    assert QuickList.from_blocks([]).block_count() == 0
    # A block of one oversized element is kept as it is.
    assert QuickList.from_blocks([[b"x" * 100_000]]).block_count() == 1


def _same_list(a: QuickList, b: QuickList) -> None:
    a.check()
    assert list(a.blocks()) == list(b.blocks())
    assert (a.size, a.sizes, a.fill, a.limit, a.maxn) == (b.size, b.sizes, b.fill, b.limit, b.maxn)


@pytest.mark.parametrize("fill_value", [-2, 3, 128])
def test_many_from_blocks_is_from_blocks_of_each(
    fill_value: int, fill: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader's bulk constructor gives exactly what ``from_blocks`` gives for each list,
    both on plain elements (its C-level passes: ``from_blocks`` is not called at all then)
    and on the ones it leaves to ``from_blocks`` (integers, long elements, empty or oversized
    blocks)."""
    limits.current.list_max_listpack_size = fill_value
    rnd = random.Random(fill_value)
    plain = [b"a", b"xyz", b"", b"k" * 63, b"x1", b"+1", b" 2", b"a-1"]
    for elements in (plain, [*ALPHABET, b"s" * 70]):
        for _ in range(30):
            lists = [
                [
                    [rnd.choice(elements) for _ in range(rnd.randrange(elements is plain, 4))]
                    for _ in range(rnd.randrange(1, 4))
                ]
                for _ in range(rnd.randrange(1, 20))
            ]
            lists = [blocks for blocks in lists if any(blocks)]
            want = [QuickList.from_blocks([b[:] for b in blocks]) for blocks in lists]
            with monkeypatch.context() as m:
                if elements is plain and fill_value != 3:

                    def unused(blocks: object) -> QuickList:
                        raise AssertionError("plain elements take the bulk path")

                    m.setattr(QuickList, "from_blocks", unused)
                got = QuickList.many_from_blocks(lists)
            assert len(got) == len(want)
            for a, b in zip(got, want, strict=True):
                assert type(a) is QuickList
                _same_list(a, b)


def test_copies_share_no_block() -> None:
    ql = QuickList(b"%d" % i for i in range(5000))
    for dup in (ql.copy(), copy.copy(ql), copy.deepcopy(ql), pickle.loads(pickle.dumps(ql))):
        assert type(dup) is QuickList and dup == ql
        dup.check()
        assert not {id(b) for b in dup.blocks()} & {id(b) for b in ql.blocks()}
        dup.append(b"more")
        dup[0] = b"changed"
        assert ql[0] == b"0" and len(ql) == 5000


def test_list_methods_act_on_elements() -> None:
    ql = QuickList([b"b", b"a", b"c"])
    assert ql == [b"b", b"a", b"c"] and ql != [[b"b", b"a", b"c"]]
    assert ql + [b"d"] == [b"b", b"a", b"c", b"d"]  # noqa: RUF005 (QuickList.__add__)
    ql += [b"e"]
    assert list(ql) == [b"b", b"a", b"c", b"e"]
    ql.sort()
    assert list(ql) == [b"a", b"b", b"c", b"e"]
    ql.reverse()
    assert list(ql) == [b"e", b"c", b"b", b"a"]
    ql.remove(b"c")
    assert list(ql) == [b"e", b"b", b"a"]
    with pytest.raises(ValueError):
        ql.remove(b"zz")
    assert ql.pop(0) == b"e" and ql.pop(1) == b"a" and list(ql) == [b"b"]
    assert list(ql * 2) == [b"b", b"b"]
    ql.extend(ql)
    assert list(ql) == [b"b", b"b"]
    ql.clear()
    assert not ql and len(ql) == 0 and ql.block_count() == 0
    with pytest.raises(IndexError):
        ql.pop()
    with pytest.raises(IndexError):
        ql.popleft()
    with pytest.raises(IndexError):
        ql[0]
    assert repr(QuickList([b"x"])) == "QuickList([b'x'])"
    with pytest.raises(TypeError):
        hash(ql)


def test_large_push_is_linear() -> None:
    ql = QuickList()
    ql.extendleft(b"%d" % i for i in range(300_000))
    ql.extend(b"%d" % i for i in range(300_000))
    assert len(ql) == 600_000
    # -2 (8 KiB) nodes of small integers: a few thousand entries each.
    assert 100 < ql.block_count() < 600
    assert ql[0] == b"299999" and ql[299_999] == b"0" and ql[-1] == b"299999"
    assert ql[300_000:300_003] == [b"0", b"1", b"2"]
    ql.check()


# --- node layout against redis-server -------------------------------------------------------


def _debug_ql(conn: object, key: str) -> str:
    reply = conn.execute_command("DEBUG", "OBJECT", key)  # type: ignore[attr-defined]
    if isinstance(reply, bytes):
        reply = reply.decode()
    return " " + " ".join(f for f in reply.split() if f.startswith("ql_"))


@pytest.mark.parametrize("fill_value", [-2, -1, 5, 64])
def test_layout_matches_redis(redis_server: ServerProcess, fill_value: int, fill: None) -> None:
    """The same random commands on a redis-server list and on a QuickList leave the same
    nodes: DEBUG OBJECT's ql_nodes, ql_avg_node and ql_uncompressed_size agree."""
    rd = redis_server.client()
    rd.flushall()
    rd.config_set("list-max-listpack-size", fill_value)
    limits.current.list_max_listpack_size = fill_value
    rnd = random.Random(fill_value)
    ql = QuickList()
    try:
        for step in range(300):
            n = len(ql)
            op = rnd.randrange(9)
            if op in (0, 1):
                items = [element(rnd) for _ in range(rnd.randrange(1, 200))]
                if op == 0:
                    rd.rpush("k", *items)
                    ql.extend(items)
                else:
                    rd.lpush("k", *items)
                    ql.extendleft(items)
            elif op == 2 and n:
                k = rnd.randrange(1, 150)
                left = rnd.random() < 0.5
                got = rd.lpop("k", k) if left else rd.rpop("k", k)
                assert got == ql.pop_many(k, left)
            elif op == 3 and n:
                i = rnd.randrange(n)
                x = element(rnd)
                rd.lset("k", i, x)
                ql[i] = x
            elif op in (4, 5) and n:
                pivot = rnd.choice(ALPHABET)
                x = element(rnd)
                after = op == 5
                got = rd.linsert("k", "AFTER" if after else "BEFORE", pivot, x)
                if pivot in ql:
                    ql.insert_at(ql.index(pivot), x, after)
                    assert got == len(ql)
                else:
                    assert got == -1
            elif op == 6 and n:
                x = rnd.choice(ALPHABET)
                count = rnd.choice([0, 2, -2])
                assert rd.lrem("k", count, x) == ql.lrem(x, count)
            elif op == 7 and n:
                start = rnd.randrange(0, 20)
                end = -rnd.randrange(1, 20)
                rd.ltrim("k", start, end)
                ql.trim(start, max(-end - 1, 0))
            if ql:
                assert _debug_ql(rd, "k") == ql.debug_fields(), f"step {step}"
                if step % 25 == 0:
                    assert rd.lrange("k", 0, -1) == list(ql)
            else:
                assert not rd.exists("k")
                ql = QuickList()
    finally:
        rd.config_set("list-max-listpack-size", -2)
        rd.close()
