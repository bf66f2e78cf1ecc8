"""Keyspace notifications: which changes are published, and on which channels.

``notify-keyspace-events`` is a string of Redis's class letters, kept as bit flags. Every
change reported to the keyspace's change hook (``Db.changed``, ``Db.expired``) carries Redis's
event name ("set", "lpush", "expired"...); ``EVENT_CLASS`` gives its class, and when that
class is selected the event is published through the pub/sub hub on
``__keyspace@<db>__:<key>`` (message: the event) with ``K`` and on
``__keyevent@<db>__:<event>`` (message: the key) with ``E``, as Redis's notifyKeyspaceEvent.

With the setting empty (the default) the databases are plain ``Db``s that publish nothing and
never look at the setting (``minikv.keyspace.NotifyingDb`` does the publishing). ``n``
(``new``) is published when a key is created (``NotifyingDb.set``), before the command's own
event, as Redis's dbAdd.

``m`` (``keymiss``) is published for each key a command reads and does not find
(``NotifyingDb.read``, Redis's lookupKeyRead), not for the keys writes look up. ``e``
(``evicted``) comes from maxmemory's eviction (``minikv.eviction``); ``d`` (modules) is accepted
with no modules to produce it.
"""

from __future__ import annotations

from typing import Protocol

KEYSPACE = 1 << 0  # K
KEYEVENT = 1 << 1  # E
GENERIC = 1 << 2  # g
STRING = 1 << 3  # $
LIST = 1 << 4  # l
SET = 1 << 5  # s
HASH = 1 << 6  # h
ZSET = 1 << 7  # z
EXPIRED = 1 << 8  # x
EVICTED = 1 << 9  # e
STREAM = 1 << 10  # t
KEY_MISS = 1 << 11  # m
MODULE = 1 << 13  # d
NEW = 1 << 14  # n
#: "A": every class but key-miss and new-key events, as Redis's NOTIFY_ALL.
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_LETTERS = {
    "A": ALL,
    "g": GENERIC,
    "$": STRING,
    "l": LIST,
    "s": SET,
    "h": HASH,
    "z": ZSET,
    "x": EXPIRED,
    "e": EVICTED,
    "K": KEYSPACE,
    "E": KEYEVENT,
    "t": STREAM,
    "m": KEY_MISS,
    "d": MODULE,
    "n": NEW,
}


class NotifyConfigError(ValueError):
    pass


def parse_flags(text: str) -> int:
    """Redis's keyspaceEventsStringToFlags."""
    flags = 0
    for ch in text:
        bit = _LETTERS.get(ch)
        if bit is None:
            raise NotifyConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        flags |= bit
    return flags


def render_flags(flags: int) -> str:
    """Redis's keyspaceEventsFlagsToString: the canonical spelling CONFIG GET shows."""
    if flags & ALL == ALL:
        out = "A"
    else:
        out = "".join(
            ch
            for ch, bit in zip(
                "g$lshzxetdn",
                (GENERIC, STRING, LIST, SET, HASH, ZSET, EXPIRED, EVICTED, STREAM, MODULE, NEW),
                strict=True,
            )
            if flags & bit
        )
    if flags & KEYSPACE:
        out += "K"
    if flags & KEYEVENT:
        out += "E"
    if flags & KEY_MISS:
        out += "m"
    return out


def _classes(cls: int, names: str) -> dict[str, int]:
    return dict.fromkeys(names.split(), cls)


#: Every event name minikv reports, with its class (as Redis's calls to notifyKeyspaceEvent).
EVENT_CLASS: dict[str, int] = {
    "": 0,  # a change Redis publishes nothing for (XACK, XCLAIM, XREADGROUP's deliveries)
    "new": NEW,
    **_classes(
        GENERIC,
        "del expire persist rename_from rename_to move_from move_to copy_to restore",
    ),
    **_classes(STRING, "set setrange append incrby incrbyfloat setbit pfadd"),
    **_classes(LIST, "lpush rpush lpop rpop linsert lset lrem ltrim sortstore"),
    **_classes(SET, "sadd srem spop sinterstore sunionstore sdiffstore"),
    **_classes(HASH, "hset hdel hincrby hincrbyfloat"),
    **_classes(
        ZSET,
        "zadd zincr zrem zremrangebyscore zremrangebyrank zremrangebylex zunionstore "
        "zinterstore zdiffstore zrangestore zpopmin zpopmax georadiusstore geosearchstore",
    ),
    **_classes(
        STREAM,
        "xadd xtrim xdel xsetid xgroup-create xgroup-createconsumer xgroup-delconsumer "
        "xgroup-destroy xgroup-setid",
    ),
    "expired": EXPIRED,
    "evicted": EVICTED,
    "keymiss": KEY_MISS,
}


class Publisher(Protocol):
    def publish(self, channel: bytes, message: bytes, shard: bool = False) -> int: ...


def notify(hub: Publisher | None, flags: int, event: str, key: bytes, dbid: int) -> None:
    """Publish one event if its class is selected (Redis's notifyKeyspaceEvent)."""
    cls = EVENT_CLASS.get(event)
    if cls is None:
        raise ValueError(f"unknown keyspace event {event!r}: add it to EVENT_CLASS")
    if not flags & cls or hub is None:
        return
    ev = event.encode()
    if flags & KEYSPACE:
        hub.publish(b"__keyspace@%d__:%b" % (dbid, key), ev)
    if flags & KEYEVENT:
        hub.publish(b"__keyevent@%d__:%b" % (dbid, ev), key)
