"""ACL: users, rules, permission checks, the ACL command family and its files.

Replies and errors are compared byte for byte with a real redis-server wherever minikv means
to answer as Redis does (rule errors, GETUSER, LIST, CAT, DRYRUN, the NOPERM texts, LOG
entries); the escape tests check that a user limited to ``~app:*`` (and to some channels)
reaches no other key or channel by any command that names keys indirectly: RENAME, COPY,
SORT BY/GET/STORE, scripts (declared keys and redis.call), MIGRATE, OBJECT, DUMP, RESTORE,
MULTI/EXEC, PUBLISH and SUBSCRIBE. These tests run their own servers: they change users.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from helpers import Raw, ServerProcess, encode, have_redis_server, run_raw
from test_config import ConfServer

HASH = "a" * 64


@pytest.fixture(scope="module")
def mk() -> Iterator[ServerProcess]:
    s = ServerProcess()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
def rd() -> Iterator[ServerProcess]:
    if not have_redis_server():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    s = ServerProcess(kind="redis")
    yield s
    s.cleanup()


def _reset(srv: ServerProcess) -> None:
    c = srv.client()
    try:
        for name in c.execute_command("ACL", "USERS"):
            if name != b"default":
                c.execute_command("ACL", "DELUSER", name)
        c.execute_command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
        c.execute_command("CONFIG", "SET", "requirepass", "", "acllog-max-len", "128")
        c.execute_command("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
        c.execute_command("ACL", "LOG", "RESET")
        c.flushall()
    finally:
        c.close()


@pytest.fixture(autouse=True)
def clean(mk: ServerProcess) -> Iterator[None]:
    _reset(mk)
    yield
    _reset(mk)


class Both:
    """The same raw commands on minikv and redis-server, one connection each, compared."""

    def __init__(self, mk: ServerProcess, rd: ServerProcess) -> None:
        self.mk, self.rd = mk, rd
        _reset(rd)

    def check(self, *commands: tuple[Any, ...], resp: tuple[int, ...] = (2, 3)) -> list[bytes]:
        got: list[bytes] = []
        for proto in resp:
            mine = run_raw(self.mk.port, list(commands), proto)
            theirs = run_raw(self.rd.port, list(commands), proto)
            for cmd, a, b in zip(commands, mine, theirs, strict=True):
                assert a == b, f"RESP{proto} {cmd!r}: minikv {a!r} != redis {b!r}"
            got = mine
        return got

    def each(self, *commands: tuple[Any, ...]) -> None:
        """Run setup commands on both, asserting nothing about their replies."""
        for srv in (self.mk, self.rd):
            run_raw(srv.port, list(commands))


@pytest.fixture
def both(mk: ServerProcess, rd: ServerProcess) -> Iterator[Both]:
    b = Both(mk, rd)
    yield b
    _reset(rd)


def setuser(name: str, *rules: str) -> tuple[str, ...]:
    return ("ACL", "SETUSER", name, *rules)


# --- rules, descriptions, categories ------------------------------------------------------------


def test_setuser_rule_errors_are_redis_s(both: Both) -> None:
    both.check(
        setuser("u", "+nosuchcommand"),
        setuser("u", "+@nosuchcategory"),
        setuser("u", "-@nosuchcategory"),
        setuser("u", "allkeys", "~foo"),
        setuser("u", "&*", "&foo"),
        setuser("u", "%X~foo"),
        setuser("u", "%~foo"),
        setuser("u", "%RR~foo"),
        setuser("u", "#abc"),
        setuser("u", "#" + "A" * 64),
        setuser("u", "<notapassword"),
        setuser("u", "!" + HASH),
        setuser("u", "+config|"),
        setuser("u", "+config|get|x"),
        setuser("u", "+config|nosuch"),
        setuser("u", "-select|0"),
        setuser("u", "(+get", "~x"),
        setuser("u", "(+nosuch)"),
        setuser("u", "whatever"),
        setuser("a b", "on"),
        ("ACL", "USERS"),  # none of the failed calls created the user
        ("ACL", "SETUSER"),
    )


def test_getuser_list_and_users_are_redis_s(both: Both) -> None:
    both.check(
        setuser(
            "app",
            "on",
            ">p1",
            "#" + HASH,
            "~app:*",
            "%R~ro:*",
            "%W~wo:*",
            "%RW~rw:*",
            "&chan:*",
            "+@all",
            "-@dangerous",
        ),
        setuser("blank"),
        setuser("wiped", "on", "nopass", "allkeys", "reset"),
        # One single command per user: Redis lists several in its hash table's order.
        setuser("few", "on", "nopass", "allkeys", "allchannels", "-@all", "+get"),
        setuser("sub", "-@all", "+config|get"),
        setuser("first", "-@all", "+select|0", "+select|1", "+select|0"),
        setuser("cat", "-@all", "+@string", "~s:*", "~s:*"),
        setuser("sel", "on", "~a", "(~sel:* +get)", "(", "%R~r", "+set", ")"),
        setuser("gone", "on", ">x", "<x", "(~a +get)", "clearselectors", "skip-sanitize-payload"),
        setuser("re", "(", "+get", "(", "~x", ")"),  # a second "(" starts the selector over
        setuser("app", "~more:*", ">p1"),  # a second SETUSER adds to the rules, no duplicates
        ("ACL", "GETUSER", "app"),
        ("ACL", "GETUSER", "blank"),
        ("ACL", "GETUSER", "few"),
        ("ACL", "GETUSER", "sub"),
        ("ACL", "GETUSER", "first"),
        ("ACL", "GETUSER", "sel"),
        ("ACL", "GETUSER", "gone"),
        ("ACL", "GETUSER", "default"),
        ("ACL", "GETUSER", "nosuchuser"),
        ("ACL", "LIST"),
        ("ACL", "USERS"),
    )


def test_pubsub_default_allchannels(both: Both) -> None:
    both.check(
        ("CONFIG", "SET", "acl-pubsub-default", "allchannels"),
        setuser("open"),
        setuser("open", "&more"),
        setuser("reset", "reset"),
        ("CONFIG", "SET", "acl-pubsub-default", "resetchannels"),
        setuser("closed"),
        ("ACL", "LIST"),
        ("CONFIG", "GET", "acl-pubsub-default"),
        ("CONFIG", "SET", "acl-pubsub-default", "some"),
    )


def test_cat_lists_the_same_categories_and_commands(
    both: Both, mk: ServerProcess, rd: ServerProcess
) -> None:
    both.check(("ACL", "CAT"), ("ACL", "CAT", "nosuch"), ("ACL", "CAT", "a", "b"))
    cats = [c.decode() for c in mk.client().execute_command("ACL", "CAT")]
    per: dict[str, dict[str, set[bytes]]] = {"mk": {}, "rd": {}}
    for tag, srv in (("mk", mk), ("rd", rd)):
        c = srv.client()
        for cat in cats:
            per[tag][cat] = set(c.execute_command("ACL", "CAT", cat))
        c.close()
    # Every command is @fast or @slow: their union is everything each server has.
    common = (per["mk"]["fast"] | per["mk"]["slow"]) & (per["rd"]["fast"] | per["rd"]["slow"])
    assert len(common) > 200
    for cat in cats:
        assert per["mk"][cat] & common == per["rd"][cat] & common, cat


def test_genpass_whoami_help(both: Both, mk: ServerProcess) -> None:
    both.check(
        ("ACL", "WHOAMI"),
        ("ACL", "HELP"),
        ("ACL", "GENPASS", "0"),
        ("ACL", "GENPASS", "4097"),
        ("ACL", "GENPASS", "x"),
        ("ACL", "GENPASS", "1", "2"),
        ("ACL", "NOSUCH"),
        ("ACL", "WHOAMI", "x"),
        ("ACL", "LOAD"),
        ("ACL", "SAVE"),
    )
    c = mk.client()
    for bits, chars in ((None, 64), ("1", 1), ("5", 2), ("4096", 1024)):
        args = ("ACL", "GENPASS") + ((bits,) if bits else ())
        p = c.execute_command(*args)
        assert len(p) == chars and all(ch in b"0123456789abcdef" for ch in p)
    assert c.execute_command("ACL", "GENPASS") != c.execute_command("ACL", "GENPASS")


# --- authentication -----------------------------------------------------------------------------


def test_auth_forms_and_wrongpass(both: Both) -> None:
    both.check(
        ("AUTH", "x"),  # no password configured for default
        setuser("alice", "on", ">secret", "+@all", "~*"),
        setuser("off", "off", ">secret", "+@all"),
        ("AUTH", "alice", "wrong"),
        ("AUTH", "nobody", "secret"),
        ("AUTH", "off", "secret"),
        ("AUTH", "a", "b", "c"),
        ("AUTH", "alice", "secret"),
        ("ACL", "WHOAMI"),
        ("HELLO", "2", "AUTH", "alice", "nope"),
        ("HELLO", "2", "AUTH", "nobody", "x"),
        ("ACL", "WHOAMI"),
    )


def test_hello_auth_and_the_log_entry(both: Both, mk: ServerProcess, rd: ServerProcess) -> None:
    both.each(setuser("alice", "on", ">secret", "+@all", "~*"), ("ACL", "LOG", "RESET"))
    for srv in (mk, rd):
        with Raw(srv.port) as conn:
            assert conn.request(encode("HELLO", "3", "AUTH", "alice", "nope")).startswith(
                b"-WRONGPASS"
            )
            assert conn.request(encode("HELLO", "3", "AUTH", "alice", "secret")).startswith(b"%7")
            assert conn.request(encode("ACL", "WHOAMI")) == b"$5\r\nalice\r\n"
    mine, theirs = _log(mk), _log(rd)
    for entries in (mine, theirs):
        (entry,) = entries
        assert entry[b"reason"] == b"auth"
        assert entry[b"username"] == b"alice"
        assert entry[b"object"] == b"HELLO"
        assert entry[b"context"] == b"toplevel"
        assert entry[b"count"] == 1


def test_requirepass_is_the_default_user_s_password(both: Both, mk: ServerProcess) -> None:
    both.check(
        ("CONFIG", "SET", "requirepass", "pw"),
        ("ACL", "LIST"),
        ("ACL", "GETUSER", "default"),
        ("CONFIG", "GET", "requirepass"),
        ("AUTH", "nope"),
        ("AUTH", "pw"),
        ("AUTH", "default", "pw"),
    )
    with Raw(mk.port) as conn:
        assert conn.request(encode("GET", "k")).startswith(b"-NOAUTH")
        assert conn.request(encode("AUTH", "pw")) == b"+OK\r\n"
        assert conn.request(encode("GET", "k")) == b"$-1\r\n"
    both.check(("AUTH", "pw"), ("CONFIG", "SET", "requirepass", ""), ("ACL", "LIST"))
    with Raw(mk.port) as conn:
        assert conn.request(encode("GET", "k")) == b"$-1\r\n"


# --- denials: texts, the log, DRYRUN -------------------------------------------------------------

APP = setuser("app", "on", ">pw", "~app:*", "&chan:*", "+@all", "-@dangerous")
AS_APP = ("AUTH", "app", "pw")


def test_noperm_texts_and_dryrun(both: Both) -> None:
    both.check(
        APP,
        AS_APP,
        ("GET", "other:1"),
        ("SET", "app:1", "v"),
        ("FLUSHALL",),
        ("CONFIG", "GET", "maxclients"),
        ("PUBLISH", "z", "m"),
        ("PUBLISH", "chan:1", "m"),
        ("MGET", "app:1", "other:1", "app:2"),
        ("ACL", "WHOAMI"),
        ("ACL", "LIST"),
    )
    both.check(
        APP,
        setuser("ro", "on", "nopass", "%R~r:*", "%W~w:*", "+@all"),
        ("ACL", "DRYRUN", "app", "get", "other"),
        ("ACL", "DRYRUN", "app", "get", "app:x"),
        ("ACL", "DRYRUN", "app", "flushall"),
        ("ACL", "DRYRUN", "app", "publish", "z", "m"),
        ("ACL", "DRYRUN", "app", "subscribe", "chan:1", "z"),
        ("ACL", "DRYRUN", "app", "psubscribe", "chan:*"),
        ("ACL", "DRYRUN", "app", "psubscribe", "chan:1*"),
        ("ACL", "DRYRUN", "app", "get"),
        ("ACL", "DRYRUN", "app", "nosuch"),
        ("ACL", "DRYRUN", "app", "config", "nosuch"),
        ("ACL", "DRYRUN", "nobody", "get", "x"),
        ("ACL", "DRYRUN", "ro", "get", "r:1"),
        ("ACL", "DRYRUN", "ro", "set", "r:1", "v"),
        ("ACL", "DRYRUN", "ro", "set", "w:1", "v"),
        ("ACL", "DRYRUN", "ro", "get", "w:1"),
        ("ACL", "DRYRUN", "ro", "copy", "r:1", "w:1"),
        ("ACL", "DRYRUN", "ro", "lmove", "r:1", "w:1", "left", "left"),
        ("ACL", "DRYRUN", "ro", "auth", "x"),
        setuser("first", "on", "nopass", "~*", "-@all", "+select|0", "+config|get"),
        ("ACL", "DRYRUN", "first", "select", "0"),
        ("ACL", "DRYRUN", "first", "select", "1"),
        ("ACL", "DRYRUN", "first", "config", "get", "x"),
        ("ACL", "DRYRUN", "first", "config", "set", "x", "y"),
        setuser("obj", "on", "nopass", "~*", "+@all", "-object|encoding", "-@hash", "+hget"),
        ("ACL", "DRYRUN", "obj", "object", "encoding", "k"),
        ("ACL", "DRYRUN", "obj", "object", "freq", "k"),
        ("ACL", "DRYRUN", "obj", "hset", "k", "f", "v"),
        ("ACL", "DRYRUN", "obj", "hget", "k", "f"),
        setuser("obj", "-object"),
        ("ACL", "DRYRUN", "obj", "object", "freq", "k"),
        ("ACL", "DRYRUN", "obj", "object", "help"),
    )


def _log(srv: ServerProcess) -> list[dict[bytes, Any]]:
    c = srv.client(protocol=3)
    entries = c.execute_command("ACL", "LOG")
    c.close()
    return [dict(e) for e in entries]


def test_log_entries_match_redis_s(both: Both, mk: ServerProcess, rd: ServerProcess) -> None:
    both.check(
        APP,
        AS_APP,
        ("GET", "other:1"),
        ("GET", "other:1"),  # the same denial again: one entry, counted twice
        ("FLUSHALL",),
        ("PUBLISH", "z", "m"),
        ("MULTI",),
        ("GET", "other:2"),
        ("DISCARD",),
        ("EVAL", "return redis.call('get', 'other:3')", "0"),
        ("AUTH", "app", "wrong"),
    )
    mine, theirs = _log(mk), _log(rd)
    assert len(mine) == 6
    for a, b in zip(mine, theirs, strict=True):
        assert set(a) == set(b)
        for field in (b"count", b"reason", b"context", b"object", b"username"):
            assert a[field] == b[field], field
        assert 0 <= a[b"age-seconds"] < 60
        assert b"user=app" in a[b"client-info"]
    assert [e[b"reason"] for e in mine] == [b"auth", b"key", b"key", b"channel", b"command", b"key"]
    assert [e[b"context"] for e in mine][1:3] == [b"lua", b"multi"]
    both.check(("ACL", "LOG", "x"), ("ACL", "LOG", "1", "2"), ("ACL", "LOG", "RESET"))
    assert _log(mk) == []


def test_log_is_bounded_by_acllog_max_len(mk: ServerProcess) -> None:
    c = mk.client()
    c.execute_command(*APP)
    c.config_set("acllog-max-len", 3)
    app = mk.client(username="app", password="pw")
    for i in range(5):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.get(f"other:{i}")
    objects = [e[b"object"] for e in _log(mk)]
    assert objects == [b"other:4", b"other:3", b"other:2"]
    assert len(c.execute_command("ACL", "LOG", "1")) == 1
    assert c.execute_command("ACL", "LOG", "-5") == []


# --- escapes: a user limited to app:* reaches no other key --------------------------------------

ESCAPES: list[tuple[Any, ...]] = [
    ("GET", "other:s"),
    ("SET", "other:s", "x"),
    ("RENAME", "app:s", "other:s"),
    ("RENAME", "other:s", "app:s"),
    ("RENAMENX", "app:s", "other:new"),
    ("COPY", "app:s", "other:new"),
    ("COPY", "other:s", "app:new"),
    ("SORT", "app:l", "BY", "other:*"),
    ("SORT", "app:l", "GET", "other:*"),
    ("SORT", "app:l", "BY", "nosort", "GET", "#"),
    ("SORT", "app:l", "STORE", "other:dst"),
    ("SORT_RO", "app:l", "GET", "other:*"),
    ("SORT", "other:l"),
    ("EVAL", "return redis.call('get', KEYS[1])", "1", "other:s"),
    ("EVAL", "return redis.call('get', 'other:s')", "1", "app:s"),
    ("EVAL", "return redis.call('set', 'other:s', 'pwned')", "0"),
    ("EVAL", "return redis.pcall('del', 'other:s')", "0"),
    ("EVAL_RO", "return redis.call('get', 'other:s')", "0"),
    ("EVAL", "return redis.call('rename', 'app:s', 'other:s')", "0"),
    ("EVAL", "return redis.call('sort', 'app:l', 'GET', 'other:*')", "0"),
    ("FCALL", "peek", "0"),
    ("FCALL", "peek", "1", "other:s"),
    ("FCALL_RO", "peek", "0"),
    ("MIGRATE", "127.0.0.1", "1", "other:s", "0", "1000"),
    ("MIGRATE", "127.0.0.1", "1", "", "0", "1000", "KEYS", "app:s", "other:s"),
    ("OBJECT", "ENCODING", "other:s"),
    ("DUMP", "other:s"),
    ("RESTORE", "other:new", "0", "x"),
    ("LMOVE", "app:l", "other:l", "LEFT", "LEFT"),
    ("SUNIONSTORE", "other:dst", "app:set"),
    ("ZUNIONSTORE", "app:dst", "2", "app:z", "other:z"),
    ("BITOP", "OR", "other:dst", "app:s"),
    ("PFMERGE", "other:dst", "app:s"),
    ("EXISTS", "app:s", "other:s"),
    ("DEL", "app:x", "other:s"),
    ("WATCH", "other:s"),
    ("SUBSCRIBE", "z"),
    ("SUBSCRIBE", "chan:1", "z"),
    ("PSUBSCRIBE", "*"),
    ("PSUBSCRIBE", "chan:1*"),
    ("SSUBSCRIBE", "z"),
    ("PUBLISH", "z", "m"),
    ("SPUBLISH", "z", "m"),
]
#: Denied to APP as commands (@dangerous); WIDE may run them (they name no key).
DANGEROUS: list[tuple[Any, ...]] = [("KEYS", "*"), ("FLUSHDB",), ("DEBUG", "RELOAD")]
#: Like APP with @dangerous too: SORT, MIGRATE and RESTORE then reach their key checks.
WIDE = setuser("app", "on", ">pw", "~app:*", "&chan:*", "+@all")


def _seed(srv: ServerProcess) -> None:
    c = srv.client()
    c.set("other:s", "secret")
    c.set("app:s", "mine")
    c.rpush("other:l", "1", "2")
    c.rpush("app:l", "2", "1")
    c.sadd("app:set", "a")
    c.zadd("app:z", {"a": 1})
    c.zadd("other:z", {"b": 2})
    c.set("other:1", "5")
    c.set("other:2", "3")
    c.function_load(PEEK, replace=True)
    c.close()


PEEK = """#!lua name=acltest
redis.register_function{function_name='peek', callback=function(keys, args)
  return redis.call('get', 'other:s') end, flags={'no-writes'}}
"""


@pytest.mark.parametrize("rules", [APP, WIDE], ids=["no-dangerous", "all-commands"])
def test_a_key_pattern_cannot_be_escaped(
    both: Both, mk: ServerProcess, rd: ServerProcess, rules: tuple[str, ...]
) -> None:
    both.each(("FLUSHALL",), rules)
    for srv in (mk, rd):
        _seed(srv)
    # Each attempt on a fresh connection (SUBSCRIBE changes the connection's mode).
    for cmd in ESCAPES + (DANGEROUS if rules is APP else []):
        mine = run_raw(mk.port, [AS_APP, cmd])[1]
        theirs = run_raw(rd.port, [AS_APP, cmd])[1]
        assert mine == theirs, f"{cmd!r}: minikv {mine!r} != redis {theirs!r}"
        assert (
            b"NOPERM" in mine
            or b"denied due to insufficient ACL" in mine
            or (b"The user executing the script" in mine)
        ), f"{cmd!r} was allowed: {mine!r}"
    # Nothing outside app:* changed, and nothing was created there.
    c = mk.client()
    assert c.get("other:s") == b"secret"
    assert c.lrange("other:l", 0, -1) == [b"1", b"2"]
    assert sorted(c.keys("other:*")) == [b"other:1", b"other:2", b"other:l", b"other:s", b"other:z"]
    assert c.get("app:s") == b"mine"


def test_allowed_calls_still_work_for_the_restricted_user(both: Both) -> None:
    both.each(APP)
    both.check(
        AS_APP,
        ("SET", "app:a", "1"),
        ("RPUSH", "app:l", "3", "1", "2"),
        ("SORT", "app:l"),
        ("SORT", "app:l", "BY", "nosort", "STORE", "app:dst"),
        ("RENAME", "app:a", "app:b"),
        ("COPY", "app:b", "app:c"),
        ("EVAL", "return redis.call('incr', KEYS[1])", "1", "app:c"),
        ("MGET", "app:a", "app:b", "app:c"),
        ("PUBLISH", "chan:x", "m"),
        ("OBJECT", "ENCODING", "app:c"),
    )


def test_read_and_write_patterns(both: Both) -> None:
    both.check(
        setuser("rw", "on", "nopass", "%R~r:*", "%W~w:*", "~both:*", "+@all"),
        ("SET", "r:1", "v"),
        ("SET", "w:1", "v"),
        ("AUTH", "rw", "x"),
        ("GET", "r:1"),
        ("SET", "r:1", "x"),
        ("SET", "w:1", "x"),
        ("GET", "w:1"),
        ("APPEND", "w:1", "x"),  # reads and writes
        ("COPY", "r:1", "w:2"),
        ("COPY", "w:1", "r:2"),
        ("LMOVE", "r:l", "w:l", "LEFT", "LEFT"),  # moving out of r: writes it
        ("GET", "both:1"),
        ("SORT", "r:l", "GET", "x:*"),  # GET needs read access to every key
    )


def test_selectors_grant_what_the_root_does_not(both: Both) -> None:
    both.check(
        setuser("s", "on", "nopass", "-@all", "+get", "~a:*", "(+set ~b:*)", "(+@read %R~c:*)"),
        ("AUTH", "s", "x"),
        ("GET", "a:1"),
        ("SET", "a:1", "v"),
        ("SET", "b:1", "v"),
        ("GET", "b:1"),
        ("STRLEN", "c:1"),
        ("MGET", "a:1", "c:1"),
        ("SET", "c:1", "v"),
        ("ACL", "WHOAMI"),
    )


def test_transactions_check_when_queued_and_at_exec(
    both: Both, mk: ServerProcess, rd: ServerProcess
) -> None:
    both.check(
        APP,
        AS_APP,
        ("MULTI",),
        ("GET", "other:1"),
        ("EXEC",),
        ("MULTI",),
        ("FLUSHALL",),
        ("SET", "app:1", "v"),
        ("EXEC",),
    )
    replies = {}
    for srv in (mk, rd):
        run_raw(srv.port, [APP])
        with Raw(srv.port) as a, Raw(srv.port) as admin:
            a.request(encode(*AS_APP))
            a.request(encode("MULTI"))
            a.request(encode("SET", "app:1", "v"))
            a.request(encode("GET", "app:1"))
            admin.request(encode("ACL", "SETUSER", "app", "resetkeys", "~app:2"))
            replies[srv.kind] = a.request(encode("EXEC"))
    assert replies["minikv"] == replies["redis"]
    assert replies["minikv"].count(b"-NOPERM ACLs rules changed") == 2
    assert run_raw(mk.port, [("EXISTS", "app:1")]) == [b":0\r\n"]


def test_a_change_applies_to_a_connected_fast_path_client(both: Both) -> None:
    # The default user is unrestricted: its client runs on the dispatcher's fast path until
    # its own ACL SETUSER (in the same pipeline) takes that away.
    both.check(
        ("SET", "k", "v"),
        ("ACL", "SETUSER", "default", "-get"),
        ("GET", "k"),
        ("SET", "k", "w"),
        ("ACL", "SETUSER", "default", "+get", "resetkeys", "~x"),
        ("GET", "k"),
        ("GET", "x"),
        ("ACL", "SETUSER", "default", "~*"),
        ("GET", "k"),
    )


# --- users going away ----------------------------------------------------------------------------


def test_deluser_disconnects_its_clients(both: Both, mk: ServerProcess, rd: ServerProcess) -> None:
    both.check(
        setuser("bob", "on", "nopass", "+@all", "~*"),
        ("ACL", "DELUSER", "default"),
        ("ACL", "DELUSER", "nobody", "bob", "default"),
        ("ACL", "USERS"),
        ("ACL", "DELUSER", "nobody", "bob"),
        ("ACL", "DELUSER", "bob"),
    )
    for srv in (mk, rd):
        run_raw(srv.port, [setuser("bob", "on", "nopass", "+@all", "~*")])
        with Raw(srv.port) as bob, Raw(srv.port) as other:
            assert bob.request(encode("AUTH", "bob", "x")) == b"+OK\r\n"
            assert other.request(encode("PING")) == b"+PONG\r\n"
            assert b"user=bob" in run_raw(srv.port, [("CLIENT", "LIST")])[0]
            assert run_raw(srv.port, [("ACL", "DELUSER", "bob")]) == [b":1\r\n"]
            assert bob.read_until_closed() == b""
            assert other.request(encode("PING")) == b"+PONG\r\n"
        with Raw(srv.port) as me:  # deleting one's own user: the reply, then the close
            run_raw(srv.port, [setuser("carol", "on", "nopass", "+@all")])
            me.request(encode("AUTH", "carol", "x"))
            assert me.request(encode("ACL", "DELUSER", "carol")) == b":1\r\n"
            assert me.read_until_closed() == b""


def test_revoked_channels_disconnect_subscribers(mk: ServerProcess) -> None:
    mk.client().execute_command(*setuser("sub", "on", "nopass", "+@all", "&news:*", "&sport"))
    with Raw(mk.port) as keep, Raw(mk.port) as lose:
        for conn, chan in ((keep, "sport"), (lose, "news:1")):
            conn.request(encode("AUTH", "sub", "x"))
            assert b"subscribe" in conn.request(encode("SUBSCRIBE", chan))
        # Adding a pattern keeps every subscription: nobody is disconnected.
        mk.client().execute_command(*setuser("sub", "&more"))
        mk.client().execute_command(*setuser("sub", "resetchannels", "&sport"))
        assert lose.read_until_closed() == b""
        assert keep.request(encode("PING")).startswith(b"*2\r\n$4\r\npong")


def test_client_list_and_kill_by_user(mk: ServerProcess) -> None:
    c = mk.client()
    c.execute_command(*setuser("dave", "on", "nopass", "+@all"))
    with Raw(mk.port) as dave:
        dave.request(encode("AUTH", "dave", "x"))
        assert b"user=dave" in c.execute_command("CLIENT", "LIST")
        with pytest.raises(redis.ResponseError, match="No such user 'nobody'"):
            c.execute_command("CLIENT", "KILL", "USER", "nobody")
        assert c.execute_command("CLIENT", "KILL", "USER", "dave") == 1
        assert dave.read_until_closed() == b""
    assert b"user=default" in c.execute_command("CLIENT", "INFO")


def test_reset_returns_to_the_default_user(mk: ServerProcess) -> None:
    mk.client().execute_command(*APP)
    with Raw(mk.port) as conn:
        conn.request(encode(*AS_APP))
        assert conn.request(encode("ACL", "WHOAMI")) == b"$3\r\napp\r\n"
        assert conn.request(encode("RESET")) == b"+RESET\r\n"
        assert conn.request(encode("ACL", "WHOAMI")) == b"$7\r\ndefault\r\n"


# --- files: aclfile and config user lines --------------------------------------------------------


def test_aclfile_load_and_save(tmp_path: Any) -> None:
    path = tmp_path / "users.acl"
    path.write_text("user alice on #" + HASH + " ~a:* +get\n\nuser default on nopass ~* &* +@all\n")
    with ServerProcess("--aclfile", str(path)) as srv:
        c = srv.client()
        assert c.execute_command("ACL", "LIST") == [
            b"user alice on #" + HASH.encode() + b" ~a:* resetchannels -@all +get",
            b"user default on nopass ~* &* +@all",
        ]
        c.execute_command(*setuser("bob", "on", ">pw", "+@read"))
        assert c.execute_command("ACL", "SAVE") == b"OK"
        saved = path.read_text().splitlines()
        assert saved[1].startswith("user bob on #") and saved[1].endswith("-@all +@read")
        # A file with errors changes nothing.
        good = path.read_text()
        path.write_text("user x on +nosuch\nuser x\nnotuser y\nuser z %Q~x\n")
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("ACL", "LOAD")
        assert "no change to the previously active ACL rules was performed" in str(e.value)
        assert "Duplicate user 'x' found on line 2" in str(e.value)
        assert "Unknown command or category name in ACL" in str(e.value)
        assert len(c.execute_command("ACL", "USERS")) == 3
        # A good one replaces the users, and disconnects the clients of the old ones.
        path.write_text(good.replace("user bob", "user carol"))
        with Raw(srv.port) as bob:
            assert bob.request(encode("AUTH", "bob", "pw")) == b"+OK\r\n"
            assert c.execute_command("ACL", "LOAD") == b"OK"
            assert bob.read_until_closed() == b""
        assert c.execute_command("ACL", "USERS") == [b"alice", b"carol", b"default"]
        assert c.config_get("aclfile") == {"aclfile": str(path)}


def test_aclfile_errors_match_redis(tmp_path: Any) -> None:
    if not have_redis_server():
        pytest.skip("redis-server is not installed")
    path = tmp_path / "users.acl"
    path.write_text("user default on nopass ~* &* +@all\n")
    bad = "user x on +nosuch\nuser x\nnotuser y\nuser z %Q~x\nuser w (+get\nuser v\n"
    replies = []
    for kind in ("minikv", "redis"):
        with ServerProcess("--aclfile", str(path), kind=kind) as srv:
            path.write_text(bad)
            replies.append(run_raw(srv.port, [("ACL", "LOAD"), ("ACL", "USERS")]))
            path.write_text("user default on nopass ~* &* +@all\n")
    assert replies[0] == replies[1]


def test_config_user_lines_and_rewrite(tmp_path: Any) -> None:
    conf = tmp_path / "minikv.conf"
    conf.write_text("user alice on >pw ~a:* +get\nuser default on nopass ~* &* +@all\n")
    with ConfServer(conf) as srv:
        c = srv.client()
        assert c.execute_command("ACL", "USERS") == [b"alice", b"default"]
        alice = srv.client(username="alice", password="pw")
        assert alice.get("a:1") is None
        with pytest.raises(redis.exceptions.NoPermissionError):
            alice.set("a:1", "v")
        c.execute_command(*setuser("bob", "on", "nopass"))
        assert c.execute_command("CONFIG", "REWRITE") == b"OK"
        lines = conf.read_text().splitlines()
        users = [ln for ln in lines if ln.startswith("user ")]
        assert users == [ln.decode() for ln in c.execute_command("ACL", "LIST")]
        assert lines[0].startswith("user alice on #")  # rewritten where the first one was
    # Users in the config and an aclfile: refused, as by Redis.
    acl = tmp_path / "users.acl"
    acl.write_text("")
    with pytest.raises(RuntimeError, match="exited"):
        ConfServer(conf, "--aclfile", str(acl))
    # Redis's fatal reports: a bad rule or a second line for a user while reading the file,
    # an unknown command when the users are loaded.
    for text, report in (
        (
            "user alice on %Q~x\n",
            "at line 1\n>>> 'user alice on %Q~x'\nError in user declaration 'alice': Syntax error",
        ),
        (
            "port 1\nuser alice on\nuser alice off\n",
            "at line 3\n>>> 'user alice off'\nError in "
            "user declaration 'alice': Duplicate user found",
        ),
        (
            "user alice on +nosuch\n",
            "Error loading ACL rule '+nosuch' for the user named 'alice': "
            "Unknown command or category name in ACL",
        ),
    ):
        conf.write_text(text)
        with pytest.raises(RuntimeError, match="exited") as e:
            ConfServer(conf)
        assert report in str(e.value)


def test_a_missing_aclfile_stops_the_start(tmp_path: Any) -> None:
    with pytest.raises(RuntimeError, match="exited"):
        ServerProcess("--aclfile", os.path.join(str(tmp_path), "none.acl"))


def test_passwords_are_stored_hashed(mk: ServerProcess) -> None:
    c = mk.client()
    c.execute_command(*setuser("h", "on", ">plain-secret"))
    listing = b" ".join(c.execute_command("ACL", "LIST"))
    assert b"plain-secret" not in listing
    import hashlib

    assert hashlib.sha256(b"plain-secret").hexdigest().encode() in listing
    user = c.execute_command("ACL", "GETUSER", "h")
    assert user[user.index(b"passwords") + 1] == [
        hashlib.sha256(b"plain-secret").hexdigest().encode()
    ]


def test_a_replica_authenticates_as_a_restricted_user() -> None:
    """masteruser/masterauth: the replica's link runs as a user allowed only what
    replication needs; what the primary then streams is applied without ACL checks (the
    master's client has no user, as in Redis)."""
    from helpers import wait_for

    with ServerProcess("--requirepass", "adminpw", "--repl-diskless-sync-delay", "0") as p:
        admin = p.client(password="adminpw")
        admin.execute_command(
            *setuser("repl", "on", ">rpw", "-@all", "+psync", "+replconf", "+ping")
        )
        admin.set("k", "v")
        with ServerProcess(
            "--replicaof", f"127.0.0.1 {p.port}", "--masteruser", "repl", "--masterauth", "rpw"
        ) as r:
            replica = r.client()
            wait_for(lambda: replica.get("k") == b"v", 30, "the replica's first sync")
            admin.set("k", "w")  # streamed, and applied whatever the user may run
            wait_for(lambda: replica.get("k") == b"w", 30, "the streamed write")
            assert b"user=repl" in admin.execute_command("CLIENT", "LIST")
