"""Small hashes kept packed (``minikv.packedhash``, Redis's listpack encoding) and big ones as
dicts: crossing the thresholds both ways via CONFIG SET (differential against redis-server, RESP2
and RESP3), deadlines kept across a conversion, COPY, WATCH, DUMP/RESTORE, snapshots in both
forms and restarts, format 4 files still loading, crafted packed values refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, run_raw
from test_snapshot import _start_on, _write_snapshot

from minikv.check_snapshot import main as check_snapshot
from minikv.packedhash import PackedHash

DEFAULTS = (
    ("CONFIG", "SET", "hash-max-listpack-entries", "512"),
    ("CONFIG", "SET", "hash-max-listpack-value", "64"),
)


@pytest.fixture
def small_limits(differential: Differential) -> Any:
    """Lowered thresholds on both servers for the test's commands, restored after it."""
    yield (
        ("CONFIG", "SET", "hash-max-listpack-entries", "4"),
        ("CONFIG", "SET", "hash-max-listpack-value", "8"),
    )
    for srv in (differential.mk, differential.rd):
        run_raw(srv.port, list(DEFAULTS))


def test_thresholds_crossed_by_writes_differential(
    differential: Differential, small_limits: Any
) -> None:
    differential.check(
        *small_limits,
        ("HSET", "h", "a", "1", "b", "2"),
        ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "c", "3", "d", "4"),  # 4 fields: still a listpack
        ("OBJECT", "ENCODING", "h"),
        ("HGETALL", "h"),
        ("HSET", "h", "e", "5"),  # 5 > 4: a hashtable
        ("OBJECT", "ENCODING", "h"),
        ("HDEL", "h", "e", "a", "b", "c"),  # never back to a listpack
        ("OBJECT", "ENCODING", "h"),
        ("HGETALL", "h"),
        ("HSET", "v", "f", "123456789"),  # a value longer than 8
        ("OBJECT", "ENCODING", "v"),
        ("HSET", "k", "longfield", "1"),  # a field longer than 8
        ("OBJECT", "ENCODING", "k"),
        ("HSET", "w", "f", "1"),
        ("HINCRBY", "w", "f", "99999999"),  # 9 digits now
        ("OBJECT", "ENCODING", "w"),
        ("HGET", "w", "f"),
        ("HINCRBYFLOAT", "x", "f", "1.5"),
        ("OBJECT", "ENCODING", "x"),
        ("HINCRBYFLOAT", "x", "f", "0.0000001"),  # "1.5000001": 9 bytes
        ("OBJECT", "ENCODING", "x"),
        ("HSET", "y", "f", "1"),
        ("HSETNX", "y", "f", "123456789"),  # not set: no conversion
        ("OBJECT", "ENCODING", "y"),
        ("HGET", "y", "f"),
        ("HSETNX", "z", "f", "12345678"),
        ("OBJECT", "ENCODING", "z"),
        ("CONFIG", "SET", "hash-max-listpack-value", "2"),
        ("HSET", "z", "g", "1"),  # only the written lengths count, not the stored ones
        ("OBJECT", "ENCODING", "z"),
        ("CONFIG", "SET", "hash-max-listpack-entries", "1"),
        ("HSET", "z", "g", "2"),  # an update past a lowered entry limit converts too
        ("OBJECT", "ENCODING", "z"),
        ("HMGET", "z", "f", "g"),  # (a hashtable's order is Redis's own)
        *DEFAULTS,
    )


def test_every_read_on_both_forms_differential(
    differential: Differential, small_limits: Any
) -> None:
    reads = [
        ("HGET", "{k}", "b"),
        ("HGET", "{k}", "2"),  # a value, not a field
        ("HMGET", "{k}", "a", "x", "c"),
        ("HEXISTS", "{k}", "a"),
        ("HEXISTS", "{k}", "1"),
        ("HLEN", "{k}"),
        ("HSTRLEN", "{k}", "c"),
        ("TYPE", "{k}"),
        ("GET", "{k}"),
        ("LPUSH", "{k}", "x"),
    ]
    in_order = [  # a listpack's order is its insertion order; a hashtable's is Redis's own
        ("HKEYS", "{k}"),
        ("HVALS", "{k}"),
        ("HGETALL", "{k}"),
        ("HRANDFIELD", "{k}", "4"),  # the whole hash, in order
        ("HRANDFIELD", "{k}", "4", "WITHVALUES"),
        ("HSCAN", "{k}", "0"),
        ("HSCAN", "{k}", "0", "MATCH", "b*"),
    ]
    cmds: list[tuple[Any, ...]] = [
        *small_limits,
        ("HSET", "small", "a", "1", "b", "2", "c", "333"),
        ("HSET", "big", "a", "1", "b", "2", "c", "333", "d", "4", "e", "5"),
        ("HDEL", "big", "d", "e"),  # the same fields, as a hashtable
    ]
    for key in ("small", "big"):
        cmds.append(("OBJECT", "ENCODING", key))
        for cmd in reads + (in_order if key == "small" else []):
            cmds.append(tuple(a.replace("{k}", key) for a in cmd))
    cmds += DEFAULTS
    differential.check(*cmds)


def test_deadline_and_identity_kept_across_writes(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1"})
    r.expire("h", 1000)
    r.hset("h", "b", "2")  # in place
    assert r.object("encoding", "h") == b"listpack" and 990 <= r.ttl("h") <= 1000
    r.hset("h", "c", "x" * 100)  # converted
    assert r.object("encoding", "h") == b"hashtable" and 990 <= r.ttl("h") <= 1000
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2", b"c": b"x" * 100}
    r.hdel("h", "a", "b", "c")
    assert r.exists("h") == 0


def test_copy_and_watch_on_a_packed_hash(r: redis.Redis, server: ServerProcess) -> None:
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.copy("h", "h2")
    r.hset("h2", "a", "changed")
    r.hdel("h2", "b")
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert r.hgetall("h2") == {b"a": b"changed"}
    assert r.object("encoding", "h2") == b"listpack"
    p = r.pipeline()
    p.watch("h")
    p.multi()
    p.hget("h", "a")
    with server.client() as other:
        other.hincrby("h", "n", 1)  # an in-place change of the packed blob
    with pytest.raises(redis.WatchError):
        p.execute()
    assert r.hget("h", "n") == b"1"


def test_dump_restore_keeps_and_restores_encodings(r: redis.Redis) -> None:
    r.hset("small", mapping={"a": "1", "b": "2"})
    r.hset("big", mapping={f"f{i}": str(i) for i in range(600)})
    r.hdel("big", *(f"f{i}" for i in range(2, 600)))  # two fields left, still a hashtable
    for key in ("small", "big"):
        payload = r.dump(key)
        assert payload is not None
        r.restore(key + "-copy", 0, payload)
        # RESTORE gives a listpack to whatever fits, as Redis's rdbLoadObject does.
        assert r.object("encoding", key + "-copy") == b"listpack"
        assert r.hgetall(key + "-copy") == r.hgetall(key)
    assert r.object("encoding", "big") == b"hashtable"
    assert r.dump("small")[:1] == b"\x10"  # RDB_TYPE_HASH_LISTPACK
    assert r.dump("big")[:1] == b"\x04"  # RDB_TYPE_HASH


def test_dump_of_a_small_hash_is_redis_s_differential(differential: Differential) -> None:
    differential.check(
        ("HSET", "h", "a", "1", "b", "two", "n", "-12345678901"),
        ("DUMP", "h"),
    )


def test_snapshot_keeps_both_forms_across_restarts(tmp_path: Path) -> None:
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        r.hset("small", mapping={"a": "1", "b": "2"})
        r.expire("small", 1000)
        r.hset("big", mapping={f"f{i}": str(i) for i in range(600)})
        r.hset("long", mapping={"f": "v" * 100})
        r.execute_command("DEBUG", "RELOAD")
        assert r.object("encoding", "small") == b"listpack" and r.ttl("small") > 990
        assert r.hlen("big") == 600 and r.object("encoding", "big") == b"hashtable"
        r.save()
    with open(tmp_path / "dump.mkv", "rb") as f:
        unpacker = msgpack.Unpacker(f, strict_map_key=False)
        assert next(unpacker)["format"] == 5
        values: dict[bytes, Any] = {}
        for chunk in unpacker:
            if isinstance(chunk, list) and chunk[0] != "EOF":
                values.update(chunk[1])
    tag, blob = values[b"small"]
    assert tag == "hash" and list(msgpack.unpackb(blob).items()) == [(b"a", b"1"), (b"b", b"2")]
    assert isinstance(values[b"big"], dict) and isinstance(values[b"long"], dict)
    assert check_snapshot([str(tmp_path / "dump.mkv")]) == 0
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        assert r.hgetall("small") == {b"a": b"1", b"b": b"2"} and r.ttl("small") > 990
        assert r.object("encoding", "small") == b"listpack"
        assert r.hget("big", "f599") == b"599" and r.object("encoding", "big") == b"hashtable"
        assert r.object("encoding", "long") == b"hashtable"
    # Thresholds lowered since the save: what no longer fits loads as a hashtable.
    with ServerProcess("--hash-max-listpack-entries", "1", dir=str(tmp_path)) as s:
        r = s.client()
        assert r.object("encoding", "small") == b"hashtable"
        assert r.hgetall("small") == {b"a": b"1", b"b": b"2"}
    with ServerProcess("--hash-max-listpack-value", "0", dir=str(tmp_path)) as s:
        r = s.client()
        assert r.object("encoding", "small") == b"hashtable"
        assert r.hgetall("small") == {b"a": b"1", b"b": b"2"}


def test_format_4_hashes_load_packed_when_they_fit(tmp_path: Path) -> None:
    big = {b"f%d" % i: b"v" for i in range(600)}
    chunk = [0, {b"small": {b"f": b"v", b"g": b"w"}, b"big": big, b"k": b"v"}, {b"small": 2**60}]
    _write_snapshot(tmp_path / "dump.mkv", 4, [chunk])
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        assert r.hgetall("small") == {b"f": b"v", b"g": b"w"} and r.ttl("small") > 0
        assert r.object("encoding", "small") == b"listpack"
        assert r.hlen("big") == 600 and r.object("encoding", "big") == b"hashtable"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(["hash"], id="no-blob"),
        pytest.param(["hash", "text"], id="str-blob"),
        pytest.param(["hash", b"\xc1"], id="not-msgpack"),
        pytest.param(["hash", msgpack.packb({})], id="empty"),
        pytest.param(["hash", b"\x81\xc4\x01a"], id="truncated"),
        pytest.param(["hash", msgpack.packb({b"a": 1})], id="int-value"),
        pytest.param(["hash", msgpack.packb({"a": b"1"})], id="str-field"),
        pytest.param(["hash", msgpack.packb([b"a", b"1"])], id="array-blob"),
        pytest.param(["hash", msgpack.packb({b"a": b"1"}) + b"\xc0"], id="trailing-byte"),
        pytest.param(["hash", b"\x82\xc4\x01a\xc4\x011\xc4\x01a\xc4\x012"], id="repeated-field"),
        pytest.param(["hash", msgpack.packb({b"a": b"1"}), b"x"], id="extra-item"),
        pytest.param(["hsh", msgpack.packb({b"a": b"1"})], id="unknown-tag"),
    ],
)
def test_crafted_packed_hashes_refuse_to_start(tmp_path: Path, value: object) -> None:
    _write_snapshot(tmp_path / "dump.mkv", 5, [[0, {b"good": b"v", b"bad": value}, {}]])
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr


def test_a_packed_hash_loads_from_format_5_only(tmp_path: Path) -> None:
    value = ["hash", msgpack.packb({b"a": b"1"})]
    _write_snapshot(tmp_path / "dump.mkv", 4, [[0, {b"h": value}, {}]])
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr
    _write_snapshot(tmp_path / "dump.mkv", 5, [[0, {b"h": value, b"l": [[b"x"]]}, {}]])
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        assert r.hgetall("h") == {b"a": b"1"} and r.object("encoding", "h") == b"listpack"
        assert r.lrange("l", 0, -1) == [b"x"]


@pytest.mark.parametrize("n", [1, 7, 8, 40, 33_000])  # fixarray, array 16, array 32 headers
def test_packed_hash_length_and_lookups(n: int) -> None:
    h = {b"f%d" % i: b"%d" % i for i in range(n)}
    p = PackedHash.of(h)
    assert len(p) == n and p.to_dict() == h and p.keys() == list(h)
    assert p.get(b"f0") == b"0" and p.get(b"0") is None and b"f0" in p and b"0" not in p
    assert p.copy() == p and p.copy() is not p


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"\x80", id="empty"),
        pytest.param(b"\x81\xc4\x01a", id="truncated"),
        pytest.param(b"\x81\xc5\x00\x01a\xc4\x011", id="not-shortest"),
        pytest.param(b"\x82\xc4\x01a\xc4\x011\xc4\x01a\xc4\x012", id="repeated-field"),
        pytest.param(msgpack.packb({b"a": b"1"}) + b"\xc0", id="trailing-byte"),
    ],
)
def test_a_chunk_of_only_packed_hashes_with_a_crafted_one_refuses_to_start(
    tmp_path: Path, blob: bytes
) -> None:
    """The loader's path for a chunk of one packed kind (no selection by tag)."""
    good = ["hash", msgpack.packb({b"a": b"1"})]
    chunk = {b"g1": good, b"bad": ["hash", blob], b"g2": good}
    _write_snapshot(tmp_path / "dump.mkv", 5, [[0, chunk, {}]])
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr
