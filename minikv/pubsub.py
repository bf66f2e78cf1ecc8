"""Who listens to which channel, and handing a published message to each of them.

Three namespaces, as in Redis 7 outside cluster mode: channels (SUBSCRIBE / PUBLISH), patterns
(PSUBSCRIBE: every published channel is matched against each pattern with the KEYS glob), and
shard channels (SSUBSCRIBE / SPUBLISH, a separate set of names that patterns never see).

The hub knows a subscriber only as a ``Subscriber``: its protocol version, its subscription
state (``pubsub``, None while it has none) and a ``deliver(frame)`` method. It encodes each
message once per protocol and hands the bytes over; buffering, output limits and sockets are
the connection's business. Subscribers of a channel are kept in subscription order, and
messages leave in publish order, so a subscriber sees them as Redis would send them.
Keyspace notifications and (later) Sentinel's hello messages publish through the same hub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from minikv.parsing import compile_pattern


class Subscriptions:
    """One client's subscriptions (Redis's ``c->pubsub_channels`` and friends), in the order
    they were made: UNSUBSCRIBE without arguments answers in that order."""

    __slots__ = ("channels", "patterns", "pending", "pending_bytes", "shard", "soft_limit_since")

    def __init__(self) -> None:
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard: dict[bytes, None] = {}
        #: When the output buffer first passed the soft limit (0: it is under it).
        self.soft_limit_since = 0.0
        #: Messages delivered but not written yet: the server writes each subscriber's in one
        #: go once the current event-loop turn is done (as Redis writes before sleeping).
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def count(self) -> int:
        """Channels and patterns: the count SUBSCRIBE / PSUBSCRIBE replies carry."""
        return len(self.channels) + len(self.patterns)

    def total(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard)


class Subscriber(Protocol):
    resp: int
    pubsub: Subscriptions | None

    def deliver(self, frame: bytes) -> None: ...


def frame(resp: int, *items: bytes | int | None) -> bytes:
    """One pub/sub frame: an array in RESP2, a push (``>``) in RESP3, of bulk strings,
    integers and nulls (the channel of an UNSUBSCRIBE that had nothing to undo)."""
    parts = [b"%c%d\r\n" % (62 if resp == 3 else 42, len(items))]
    for item in items:
        if item is None:
            parts.append(b"_\r\n" if resp == 3 else b"$-1\r\n")
        elif type(item) is int:
            parts.append(b":%d\r\n" % item)
        else:
            parts.append(b"$%d\r\n%b\r\n" % (len(item), item))
    return b"".join(parts)


# (kind of subscription, confirmation word, unsubscription word, message word)
CHANNEL = ("channels", b"subscribe", b"unsubscribe", b"message")
SHARD = ("shard", b"ssubscribe", b"sunsubscribe", b"smessage")
Kind = tuple[str, bytes, bytes, bytes]


class Hub:
    """Every subscription of the server, by channel, pattern and shard channel."""

    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Subscriber, None]] = {}
        self.shard: dict[bytes, dict[Subscriber, None]] = {}
        #: pattern -> (its matcher, its subscribers)
        self.patterns: dict[bytes, tuple[Callable[[bytes], bool], dict[Subscriber, None]]] = {}

    def _state(self, c: Subscriber) -> Subscriptions:
        s = c.pubsub
        if s is None:
            s = c.pubsub = Subscriptions()
        return s

    def _released(self, c: Subscriber) -> None:
        s = c.pubsub
        if s is not None and not s.total():
            c.pubsub = None

    # --- SUBSCRIBE / UNSUBSCRIBE and their shard twins --------------------------------------

    def subscribe(self, c: Subscriber, names: list[bytes], kind: Kind = CHANNEL) -> bytes:
        """Subscribe ``c`` to each of ``names``; the confirmations, one frame per name."""
        s = self._state(c)
        mine: dict[bytes, None] = getattr(s, kind[0])
        table = self.shard if kind is SHARD else self.channels
        out = []
        for name in names:
            if name not in mine:
                mine[name] = None
                table.setdefault(name, {})[c] = None
            n = len(mine) if kind is SHARD else s.count()
            out.append(frame(c.resp, kind[1], name, n))
        return b"".join(out)

    def unsubscribe(self, c: Subscriber, names: list[bytes], kind: Kind = CHANNEL) -> bytes:
        """Unsubscribe ``c`` from ``names`` (all its channels of that kind when empty)."""
        s = c.pubsub
        mine: dict[bytes, None] = getattr(s, kind[0]) if s is not None else {}
        table = self.shard if kind is SHARD else self.channels
        out = []
        for name in names or list(mine):
            if name in mine:
                del mine[name]
                _remove(table, name, c)
            out.append(frame(c.resp, kind[2], name, self._count(c, kind)))
        if not out:  # subscribed to nothing: still one reply
            out.append(frame(c.resp, kind[2], None, self._count(c, kind)))
        self._released(c)
        return b"".join(out)

    def _count(self, c: Subscriber, kind: Kind) -> int:
        s = c.pubsub
        if s is None:
            return 0
        return len(s.shard) if kind is SHARD else s.count()

    # --- PSUBSCRIBE / PUNSUBSCRIBE ----------------------------------------------------------

    def psubscribe(self, c: Subscriber, patterns: list[bytes]) -> bytes:
        s = self._state(c)
        out = []
        for pat in patterns:
            if pat not in s.patterns:
                s.patterns[pat] = None
                entry = self.patterns.get(pat)
                if entry is None:
                    entry = self.patterns[pat] = (compile_pattern(pat), {})
                entry[1][c] = None
            out.append(frame(c.resp, b"psubscribe", pat, s.count()))
        return b"".join(out)

    def punsubscribe(self, c: Subscriber, patterns: list[bytes]) -> bytes:
        s = c.pubsub
        mine = s.patterns if s is not None else {}
        out = []
        for pat in patterns or list(mine):
            if pat in mine:
                del mine[pat]
                subs = self.patterns[pat][1]
                del subs[c]
                if not subs:
                    del self.patterns[pat]
            out.append(frame(c.resp, b"punsubscribe", pat, self._count(c, CHANNEL)))
        if not out:
            out.append(frame(c.resp, b"punsubscribe", None, self._count(c, CHANNEL)))
        self._released(c)
        return b"".join(out)

    def drop(self, c: Subscriber) -> None:
        """Forget every subscription of ``c`` without telling it (disconnect, RESET)."""
        s = c.pubsub
        if s is None:
            return
        for name in s.channels:
            _remove(self.channels, name, c)
        for name in s.shard:
            _remove(self.shard, name, c)
        for pat in s.patterns:
            subs = self.patterns[pat][1]
            del subs[c]
            if not subs:
                del self.patterns[pat]
        c.pubsub = None

    # --- PUBLISH ------------------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes, shard: bool = False) -> int:
        """Deliver ``message``; the number of receivers (a client subscribed to the channel
        and to a matching pattern counts twice, as in Redis)."""
        receivers = 0
        subs = (self.shard if shard else self.channels).get(channel)
        if subs:
            word = b"smessage" if shard else b"message"
            body = b"3\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
                len(word),
                word,
                len(channel),
                channel,
                len(message),
                message,
            )
            resp2, resp3 = b"*" + body, b">" + body
            # A copy: a subscriber whose output overflows is dropped while we iterate.
            for c in list(subs):
                c.deliver(resp3 if c.resp == 3 else resp2)
                receivers += 1
        if shard or not self.patterns:
            return receivers
        tail = b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(channel), channel, len(message), message)
        for pat, (match, psubs) in list(self.patterns.items()):
            if not match(channel):
                continue
            body = b"4\r\n$8\r\npmessage\r\n$%d\r\n%b\r\n%b" % (len(pat), pat, tail)
            resp2, resp3 = b"*" + body, b">" + body
            for c in list(psubs):
                c.deliver(resp3 if c.resp == 3 else resp2)
                receivers += 1
        return receivers

    # --- PUBSUB introspection -------------------------------------------------------------

    def numsub(self, channel: bytes, shard: bool = False) -> int:
        return len((self.shard if shard else self.channels).get(channel, ()))


def _remove(table: dict[bytes, dict[Subscriber, None]], name: bytes, c: Subscriber) -> None:
    subs = table[name]
    del subs[c]
    if not subs:
        del table[name]
