"""The command table's key specs against a real redis-server 7.0: COMMAND INFO (legacy key
triple, ``movablekeys``, key specs, flags, tips, ACL categories) of every implemented command,
COMMAND GETKEYS / GETKEYSANDFLAGS on valid and invalid argument lists, and the
``key_spec_index`` of COMMAND DOCS. The derivations in ``minikv.commands`` (legacy triple,
``movablekeys``, keyword and limited-range searches) are also checked on the key specs of
every Redis command, implemented or not, as ``COMMAND INFO`` of the real server reports them.
"""

from __future__ import annotations

from typing import Any

import hiredis
import pytest
from conftest import Differential
from helpers import ServerProcess, run_raw

from minikv.commands import ALL, Command, KeySpec, command, legacy_range
from minikv.commands.catalog import load_all

load_all()

#: Every command and subcommand minikv implements, by full name ("config|get").
NAMES = sorted(ALL)
#: Those Redis 7.0 has too (CLIENT SETINFO came in 7.2).
NAMES_70 = [n for n in NAMES if tuple(map(int, ALL[n].since.split("."))) <= (7, 0, 15)]


def decode(raw: bytes) -> Any:
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


def info(port: int, name: str, resp: int = 3) -> Any:
    [entry] = decode(run_raw(port, [("COMMAND", "INFO", name)], resp)[0])
    return entry


# --- COMMAND INFO ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_command_info_matches_redis(name: str, server: ServerProcess, redis_server: ServerProcess):
    """The whole COMMAND INFO entry, byte for byte in RESP2 and RESP3. A container is compared
    field by field instead: Redis lists its subcommands in hash order, and has some minikv
    lacks (each subcommand minikv has is compared on its own)."""
    theirs = info(redis_server.port, name)
    if theirs is None:
        pytest.skip(f"{name} is newer than Redis 7.0")
    if ALL[name].subcommands:
        mine = info(server.port, name)
        assert mine[:9] == theirs[:9]
        mine_70 = {s[0] for s in mine[9] if s[0].decode() in NAMES_70}
        assert mine_70 <= {s[0] for s in theirs[9]}
        return
    for resp in (2, 3):
        cmd = ("COMMAND", "INFO", name)
        [a] = run_raw(server.port, [cmd], resp)
        [b] = run_raw(redis_server.port, [cmd], resp)
        assert a == b, f"RESP{resp}\nminikv {decode(a)}\nredis  {decode(b)}"


def test_multi_key_commands_key_specs(server: ServerProcess):
    """What the brief of the table asks for, spelled out for a few commands: several specs,
    numkeys specs, the legacy triple and movablekeys."""
    rename = info(server.port, "rename")
    assert rename[3:6] == [1, 2, 1] and b"movablekeys" not in rename[2]
    assert [s[b"flags"] for s in rename[8]] == [[b"RW", b"access", b"delete"], [b"OW", b"update"]]
    zunionstore = info(server.port, "zunionstore")
    assert zunionstore[3:6] == [1, 1, 1] and b"movablekeys" in zunionstore[2]
    assert zunionstore[8][1][b"find_keys"] == {
        b"type": b"keynum",
        b"spec": {b"keynumidx": 0, b"firstkey": 1, b"keystep": 1},
    }
    zunion = info(server.port, "zunion")
    assert zunion[3:6] == [0, 0, 0] and b"movablekeys" in zunion[2]
    sinterstore = info(server.port, "sinterstore")
    assert sinterstore[3:6] == [1, -1, 1] and b"movablekeys" not in sinterstore[2]


# --- COMMAND GETKEYS / GETKEYSANDFLAGS ---------------------------------------------------------


def _generated_calls(names: list[str]) -> list[tuple[str, ...]]:
    """For every command: too few, exactly enough and more arguments than its arity asks for,
    filled with key-like words and with numbers (so numkeys arguments parse)."""
    calls = []
    for name in names:
        words = name.split("|")
        need = abs(ALL[name].arity)
        for n in range(max(len(words), need - 1), need + 3):
            extra = n - len(words)
            calls.append((*words, *(f"k{i}" for i in range(extra))))
            calls.append((*words, *("1" for _ in range(extra))))
    return calls


def _getkeys_both(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [("COMMAND", sub, *call) for call in calls for sub in ("GETKEYS", "GETKEYSANDFLAGS")]


def test_getkeys_generated_differential(differential: Differential):
    differential.check(*_getkeys_both(_generated_calls(NAMES_70)))


# Hand-picked calls: several specs, numkeys (valid, zero, negative, too big, not a number, with
# a numeric prefix that Redis's fallback atoi accepts, overflowing a C int), the errors.
GETKEYS_CALLS = [
    "RENAME a b",
    "RENAMENX a b",
    "COPY a b DB 1 REPLACE",
    "SMOVE s d m",
    "LMOVE a b LEFT RIGHT",
    "BLMOVE a b LEFT RIGHT 0",
    "RPOPLPUSH a b",
    "BRPOPLPUSH a b 0",
    "SINTERSTORE d a b c",
    "SUNIONSTORE d a",
    "SDIFFSTORE d a b",
    "ZRANGESTORE d s 0 -1",
    "ZUNIONSTORE d 2 a b WEIGHTS 1 2",
    "ZINTERSTORE d 1 a AGGREGATE MAX",
    "ZDIFFSTORE d 1 a",
    "ZUNIONSTORE d 2x a b",
    "ZUNIONSTORE d 5 a b",
    "ZUNIONSTORE d 0 a",
    "ZUNIONSTORE d -1 a",
    "ZUNION 2 a b",
    "ZUNION 2 a b WITHSCORES",
    "ZUNION 0 a",
    "ZUNION -1 a",
    "ZUNION 3 a b",
    "ZUNION 2x a b",
    "ZUNION 1x a b",
    "ZUNION +2 a b",
    "ZUNION 02 a b",
    "ZUNION 4294967297 a",
    "ZUNION 4294967296 a",
    "ZUNION 99999999999999999999 a",
    "ZINTER 2 a b",
    "ZDIFF 1 a",
    "ZINTERCARD 2 a b LIMIT 1",
    "ZINTERCARD x a",
    "SINTERCARD 2 a b",
    "SINTERCARD 3 a b",
    "LMPOP 1 a LEFT",
    "LMPOP 2 a b RIGHT COUNT 2",
    "LMPOP 3 a b LEFT",
    "BLMPOP 0 2 a b LEFT",
    "BLMPOP 0 x a b LEFT",
    "BLMPOP 0 2x a b LEFT",
    "ZMPOP 1 a MIN",
    "ZMPOP 0 a MIN",
    "BLPOP a b 0",
    "BZPOPMIN a b 0",
    "WATCH a b",
    "DEL a b c",
    "OBJECT ENCODING k",
    "OBJECT HELP",
    "OBJECT",
    "OBJECT NOSUCH k",
    "CONFIG GET x",
    "CLIENT LIST",
    "PING",
    "NOSUCH a",
    "GET",
    "GET a b",
    "LCS a b",
    "RENAME a",
]


def test_getkeys_differential(differential: Differential):
    calls = [tuple(c.split()) for c in GETKEYS_CALLS]
    differential.check(*_getkeys_both(calls), ("COMMAND", "GETKEYS"), ("COMMAND", "GETKEYS", "a"))


def test_getkeys_strings_differential(differential: Differential):
    calls = [
        ("SET", "a", "b"),
        ("SET", "a", "b", "GET"),
        ("SET", "a", "b", "EX", "1", "get"),
        ("MSET", "a", "1", "b", "2"),
        ("MSET", "a", "1", "b"),
        ("MSETNX", "a", "1"),
        ("GETEX", "a", "PERSIST"),
        ("GETDEL", "a"),
        ("APPEND", "a", "b"),
    ]
    differential.check(*_getkeys_both(calls))


# --- COMMAND DOCS: key_spec_index ---------------------------------------------------------------


def _key_args(args: list[dict[bytes, Any]] | None, out: list[Any]) -> list[Any]:
    for a in args or []:
        if a[b"type"] == b"key":
            out.append(a.get(b"key_spec_index"))
        _key_args(a.get(b"arguments"), out)
    return out


def test_docs_key_spec_index_matches_redis(server: ServerProcess, redis_server: ServerProcess):
    """Each key argument names the key spec that finds it (RENAME key newkey: 0 and 1)."""
    compared = []
    for name in NAMES:
        [mine] = decode(run_raw(server.port, [("COMMAND", "DOCS", name)], 3)[0]).values()
        theirs = decode(run_raw(redis_server.port, [("COMMAND", "DOCS", name)], 3)[0])
        if not theirs or b"arguments" not in mine:
            continue  # newer than Redis 7.0, or minikv does not document its arguments
        [theirs] = theirs.values()
        ours = _key_args(mine[b"arguments"], [])
        assert ours == _key_args(theirs.get(b"arguments"), []), name
        if ours:
            compared.append(name)
    assert {"rename", "zunionstore", "lmove", "sinterstore", "watch"} <= set(compared)


# --- the derivations, on the key specs of every Redis command ---------------------------------


def _spec_from_reply(spec: dict[bytes, Any]) -> KeySpec | None:
    """A ``KeySpec`` from one key spec of Redis's COMMAND INFO; None for an "unknown" one."""
    begin, find = spec[b"begin_search"], spec[b"find_keys"]
    flags = " ".join(f.decode() for f in spec[b"flags"])
    kw: dict[str, Any] = {}
    if begin[b"type"] == b"index":
        kw["index"] = begin[b"spec"][b"index"]
    elif begin[b"type"] == b"keyword":
        kw["keyword"] = begin[b"spec"][b"keyword"].decode()
        kw["startfrom"] = begin[b"spec"][b"startfrom"]
    else:
        return None
    if find[b"type"] == b"range":
        s = find[b"spec"]
        kw.update(lastkey=s[b"lastkey"], keystep=s[b"keystep"], limit=s[b"limit"])
    elif find[b"type"] == b"keynum":
        s = find[b"spec"]
        kw.update(keynum=s[b"keynumidx"], firstkey=s[b"firstkey"], keystep=s[b"keystep"])
    else:
        return None
    return KeySpec(flags, **kw)


def _redis_commands(port: int) -> dict[str, Any]:
    out = {}
    for entry in decode(run_raw(port, [("COMMAND",)], 3)[0]):
        for e in (entry, *entry[9]):
            out[e[0].decode()] = e
    return out


def _as_command(entry: Any) -> Command | None:
    specs = [_spec_from_reply(s) for s in entry[8]]
    if None in specs:
        return None
    return Command(
        name=entry[0].decode(),
        arity=entry[1],
        flags=frozenset(),
        handler=lambda c, a: None,
        group="",
        summary="",
        since="",
        key_specs=tuple(s for s in specs if s is not None),
    )


def test_legacy_range_and_movablekeys_of_every_redis_command(redis_server: ServerProcess):
    """populateCommandLegacyRangeSpec's result, for every command Redis 7.0 has."""
    checked = 0
    for name, entry in _redis_commands(redis_server.port).items():
        cmd = _as_command(entry)
        if cmd is None:
            continue  # a spec of unknown type (SORT's BY/GET): always movable, nothing to derive
        first, last, step, movable = legacy_range(cmd.key_specs)
        assert [first, last, step] == entry[3:6], name
        assert movable == (b"movablekeys" in entry[2]), name
        checked += 1
    assert checked > 200


@pytest.mark.parametrize(
    "call",
    [
        "XREAD COUNT 2 STREAMS a b 0 0",
        "XREAD STREAMS a 0",
        "XREAD STREAMS a b 0",
        "XREAD STREAMS streams 0",
        "XREADGROUP GROUP g c COUNT 1 STREAMS a b > >",
        "GEORADIUS k 0 0 1 m STORE d",
        "GEORADIUS k 0 0 1 m STOREDIST d",
        "GEORADIUS k 0 0 1 m",
        "GEORADIUSBYMEMBER k m 1 km WITHDIST STORE d",
        "EVAL s 2 a b c",
        "FCALL f 1 a",
    ],
)
def test_keyword_and_limit_specs_match_redis(call: str, redis_server: ServerProcess):
    """Key specs minikv's own commands do not use (a keyword begin_search, a range with a
    limit), read from Redis's COMMAND INFO and applied here, find the keys Redis finds."""
    words = call.split()
    entry = _redis_commands(redis_server.port)[words[0].lower()]
    cmd = _as_command(entry)
    assert cmd is not None
    [expected] = [
        decode(raw)
        for raw in run_raw(redis_server.port, [("COMMAND", "GETKEYSANDFLAGS", *words)], 3)
    ]
    args = [w.encode() for w in words]
    got = [[args[p], [f.encode() for f in flags]] for p, flags in cmd.get_keys(args)]
    assert got == expected


# --- declaring keys ------------------------------------------------------------------------------


def test_declaration_errors():
    with pytest.raises(ValueError, match="unknown key-spec flags"):
        KeySpec("RW acces", 1)
    with pytest.raises(ValueError, match="index or after a keyword"):
        KeySpec("RO", 1, keyword="STORE", startfrom=1)
    with pytest.raises(ValueError, match="index or after a keyword"):
        KeySpec("RO")
    with pytest.raises(ValueError, match="movablekeys is derived"):
        command("x-test", 2, "readonly movablekeys", key_specs=(KeySpec("RO", 1, keynum=0),))
    with pytest.raises(ValueError, match="not both"):
        command("x-test", 2, "readonly", (1, 1, 1), key_specs=(KeySpec("RO", 1),))
    with pytest.raises(ValueError, match="key_flags without keys"):
        command("x-test", 2, "readonly", key_flags="RO")
    assert "x-test" not in ALL


def test_one_range_shorthand():
    """``keys=(first, last, step)`` is one range spec, flags defaulting by read/write."""
    mget, mset = ALL["mget"], ALL["mset"]
    assert mget.key_specs == (KeySpec("RO access", 1, lastkey=-1),)
    assert (mset.first_key, mset.last_key, mset.step) == (1, -1, 2)
    assert [p for p, _ in mset.get_keys([b"mset", b"a", b"1", b"b", b"2"])] == [1, 3]
    assert ALL["lcs"].key_specs[0].lastkey == 1  # (1, 2, 1): lastkey relative to the first


def _hint_shape(args: list[dict[bytes, Any]] | None) -> list[Any]:
    """What redis-cli's hints are built from: per argument its type, token, flags and nested
    arguments; the names of groups (Redis: "condition", minikv: "nx-xx") and "since" left out."""
    return [
        (
            a[b"type"],
            a.get(b"token"),
            sorted(a.get(b"flags", [])),
            a[b"name"] if a[b"type"] not in (b"oneof", b"block") else None,
            _hint_shape(a.get(b"arguments")),
        )
        for a in args or []
    ]


STRING_COMMANDS = sorted(n for n in NAMES_70 if ALL[n].group in ("string", "bitmap"))


@pytest.mark.parametrize("name", STRING_COMMANDS)
def test_string_command_arguments_match_redis(
    name: str, server: ServerProcess, redis_server: ServerProcess
):
    """COMMAND DOCS arguments of the string commands, as redis-cli reads them for its hints."""
    [mine] = decode(run_raw(server.port, [("COMMAND", "DOCS", name)], 3)[0]).values()
    [theirs] = decode(run_raw(redis_server.port, [("COMMAND", "DOCS", name)], 3)[0]).values()
    assert _hint_shape(mine.get(b"arguments")) == _hint_shape(theirs.get(b"arguments"))
