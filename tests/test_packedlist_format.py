"""Snapshot format 5's packed lists (minikv/persistence/format.py): written as they are kept,
loaded as one object each, a version 4 file's small one-node lists packed as they load, a
loaded list taking the current fill, crafted packed values refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import pytest
from helpers import ServerProcess
from test_packedlist import _ql
from test_snapshot import _start_on, _write_snapshot

from minikv.packedlist import MAX_ENTRIES

# --- snapshots ------------------------------------------------------------------------------


def test_snapshot_round_trip_both_forms(tmp_path: Path) -> None:
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        r.rpush("small", "a", "b", "300")
        r.rpush("big", *[b"v%d" % i for i in range(1000)])
        r.rpush("one", *[b"w%d" % i for i in range(MAX_ENTRIES + 1)])  # one node, not packed
        r.expire("small", 1000)
        before = {k: (r.lrange(k, 0, -1), _ql(r, k)) for k in ("small", "big", "one")}
        r.save()
    with open(tmp_path / "dump.mkv", "rb") as f:
        header, *chunks = list(msgpack.Unpacker(f, strict_map_key=False, raw=False))[:-1]
    assert header["format"] == 5
    small = next(c[1][b"small"] for c in chunks if b"small" in c[1])
    assert msgpack.unpackb(small[0]) == [b"a", b"b", b"300"] and small[1:] == [3, -2]
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        assert {k: (r.lrange(k, 0, -1), _ql(r, k)) for k in before} == before
        assert 0 < r.ttl("small") <= 1000
        assert r.memory_usage("small") + 150 < r.memory_usage("one")


def _write_one_chunk(path: Path, version: int, values: dict[bytes, Any]) -> None:
    _write_snapshot(path, version, [[0, values, {}]])


def test_format_4_lists_load_packed(tmp_path: Path) -> None:
    many = [b"m%d" % i for i in range(300)]
    values = {
        b"small": [[b"a", b"b"]],
        b"two_nodes": [[b"a"], [b"b"]],
        b"many": [many],
        b"s": b"string",
    }
    _write_one_chunk(tmp_path / "dump.mkv", 4, values)
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        assert r.lrange("small", 0, -1) == [b"a", b"b"]
        assert r.lrange("two_nodes", 0, -1) == [b"a", b"b"]
        assert _ql(r, "two_nodes").startswith("ql_nodes:2 ")
        assert r.lrange("many", 0, -1) == many and r.get("s") == b"string"
        # The one-node small list came in packed: much smaller than the same in a QuickList.
        r.rpush("q", *[b"x"] * (MAX_ENTRIES + 1))
        r.ltrim("q", 0, 1)
        assert r.memory_usage("small") + 150 < r.memory_usage("q")
        r.execute_command("DEBUG", "RELOAD")
        assert r.lrange("small", 0, -1) == [b"a", b"b"]
        assert r.lrange("two_nodes", 0, -1) == [b"a", b"b"]


def test_a_packed_list_loaded_under_a_smaller_fill(tmp_path: Path) -> None:
    """The loaded list gets the current fill; one that the fill no longer allows in one
    packed list is loaded as the QuickList of its node (``QuickList.from_blocks``: cut as
    pushes would cut it, as a saved QuickList node too big for the fill is)."""
    _write_one_chunk(
        tmp_path / "dump.mkv",
        5,
        {b"l": [msgpack.packb([b"a", b"b", b"c"]), 3, -2], b"m": [msgpack.packb([b"z"]), 1, 7]},
    )
    with ServerProcess("--list-max-listpack-size", "2", dir=str(tmp_path)) as s:
        r = s.client()
        assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]
        assert _ql(r, "l").startswith("ql_nodes:2 ql_avg_node:1.50 ql_listpack_max:2 ")
        assert _ql(r, "m").startswith("ql_nodes:1 ql_avg_node:1.00 ql_listpack_max:2 ")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([b"not msgpack \xc1", 1, -2], id="bad-blob"),
        pytest.param([msgpack.packb([b"a"]), 2, -2], id="count"),
        pytest.param([msgpack.packb([]), 0, -2], id="empty"),
        pytest.param([msgpack.packb([1, 2]), 2, -2], id="not-bin"),
        pytest.param([msgpack.packb([b"a"]), 1], id="short"),
        pytest.param([msgpack.packb({b"a": b"b"}), 1, -2], id="map"),
    ],
)
def test_crafted_packed_lists_refuse_to_start(tmp_path: Path, value: list[Any]) -> None:
    snap = tmp_path / "dump.mkv"
    _write_one_chunk(snap, 5, {b"l": value})
    data = snap.read_bytes()
    p = _start_on(tmp_path)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "dump.mkv" in out and "corrupt" in out
    assert snap.read_bytes() == data


def test_one_chunk_of_every_array_form(tmp_path: Path) -> None:
    """Format 5's arrays side by side in one chunk, as the loader sorts them by their first
    item: packed lists (a bin), packed sorted sets, packed hashes and streams (a str), lists
    of nodes (an array), beside a big hash (a map); then the same after DEBUG RELOAD and in
    RESP3. The values are the server's own, gathered from its shards' chunks into one."""
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        r.rpush("pl", "a", "b")
        r.rpush("ql", *[b"v%d" % i for i in range(300)])
        r.zadd("pz", {"m": 1, "n": 2})
        r.zadd("bz", {f"m{i}": i for i in range(200)})
        r.xadd("st", {"f": "v"}, id="1-1")
        r.hset("ph", mapping={"f": "v", "g": "w"})
        r.hset("bh", mapping={f"f{i}": i for i in range(600)})
        r.save()
    with open(tmp_path / "dump.mkv", "rb") as f:
        _, *chunks = list(msgpack.Unpacker(f, strict_map_key=False, raw=False))[:-1]
    values = {k: v for c in chunks for k, v in c[1].items()}
    assert type(values[b"pl"][0]) is bytes and values[b"pz"][0] == "zset"
    assert values[b"st"][0] == "stream" and type(values[b"ql"][0]) is list
    assert values[b"ph"][0] == "hash" and type(values[b"bh"]) is dict
    _write_one_chunk(tmp_path / "dump.mkv", 5, values)
    with ServerProcess(dir=str(tmp_path)) as s:
        for protocol in (2, 3):
            r = s.client(protocol=protocol)
            assert r.lrange("pl", 0, -1) == [b"a", b"b"]
            assert r.lrange("ql", 298, -1) == [b"v298", b"v299"]
            assert r.zrange("pz", 0, -1) == [b"m", b"n"]
            assert r.object("encoding", "pz") == b"listpack"
            assert r.zcard("bz") == 200 and r.object("encoding", "bz") == b"skiplist"
            assert r.xlen("st") == 1
            assert r.hgetall("ph") == {b"f": b"v", b"g": b"w"}
            assert r.object("encoding", "ph") == b"listpack"
            assert r.hget("bh", "f599") == b"599" and r.object("encoding", "bh") == b"hashtable"
            r.execute_command("DEBUG", "RELOAD")


@pytest.mark.parametrize("version", [2, 3, 4])
def test_the_packed_list_form_is_format_5_only(tmp_path: Path, version: int) -> None:
    snap = tmp_path / "dump.mkv"
    _write_one_chunk(snap, version, {b"l": [msgpack.packb([b"a"]), 1, -2]})
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr
