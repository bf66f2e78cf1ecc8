"""CLIENT TRACKING: the server side of client-side caching (Redis's tracking.c).

A tracking client (``Client.tracking`` holds its ``ClientTracking``) is told when a key it may
have cached changes:

* default mode: the keys it *reads* (a read-only command's keys, from the command table's key
  specs) enter the tracking table (key -> client ids, one table for every database, as in
  Redis); the first change of such a key sends an invalidation to every client in its entry
  and drops the entry (a client reads the key again to be told again);
* BCAST: no table; every change of a key under one of the client's prefixes ("" = every key)
  is collected and sent, one array of keys per prefix, once the event-loop turn is done;
* OPTIN / OPTOUT: only the reads after CLIENT CACHING yes (OPTIN), all but those after
  CLIENT CACHING no (OPTOUT), are remembered;
* NOLOOP: not for the client's own writes;
* REDIRECT id: the messages go to another connection: a RESP3 one as a push, a RESP2 one
  subscribed to ``__redis__:invalidate`` as a pub/sub message on that channel. Once it is
  gone, a RESP3 tracking client gets ``tracking-redir-broken`` pushes instead (lazily, when a
  message would be sent, as Redis).

Changes reach ``invalidate`` through the keyspace's change hooks (``Db.changed``, and
``Db.touched`` for expiry and eviction), which call it only while some client tracks (the
databases are then ``TrackingDb``s, ``Keyspace.use_tracking``): without tracking clients the
write path does not look at tracking at all. FLUSHDB,
FLUSHALL, SWAPDB and a replica's full sync send a null invalidation ("everything") to every
tracking client (``flushed``). ``tracking-table-max-keys`` bounds the table: past it the
oldest entries are dropped and their clients told, as if the keys had changed.

A client's own invalidations (it wrote a key it tracks) are held while its command runs and
sent after the command's reply (``pending``), as Redis 7 does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CHANNEL = b"__redis__:invalidate"
_PUSH_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
_MESSAGE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}


def _keys_array(keys: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%b\r\n" % (len(k), k) for k in keys)


class ClientTracking:
    """One client's tracking options (Redis keeps them as client flags)."""

    __slots__ = ("bcast", "broken", "caching", "noloop", "optin", "optout", "prefixes", "redirect")

    def __init__(self) -> None:
        self.bcast = False
        self.optin = False
        self.optout = False
        self.noloop = False
        self.redirect = 0
        # CLIENT CACHING yes/no given: it holds for the next command (or transaction) that is
        # not a CLIENT one, as Redis's CLIENT_TRACKING_CACHING (see Tracking.after_command).
        self.caching = False
        self.broken = False  # the redirect target was gone when a message was due
        self.prefixes: list[bytes] = []

    def list_flags(self) -> str:
        """CLIENT LIST's flags: t (tracking), R (redirect broken), B (BCAST)."""
        return "t" + ("R" if self.broken else "") + ("B" if self.bcast else "")

    def flag_names(self) -> list[bytes]:
        """CLIENT TRACKINGINFO's flags, in Redis's order."""
        flags = [b"on"]
        if self.bcast:
            flags.append(b"bcast")
        if self.optin:
            flags.append(b"optin")
            if self.caching:
                flags.append(b"caching-yes")
        if self.optout:
            flags.append(b"optout")
            if self.caching:
                flags.append(b"caching-no")
        if self.noloop:
            flags.append(b"noloop")
        if self.broken:
            flags.append(b"broken_redirect")
        return flags


class Tracking:
    """The tracking table, the BCAST prefixes and the delivery of invalidation messages."""

    def __init__(
        self, clients: dict[int, Any], keyspace: Any, call_soon: Callable[[Any], Any]
    ) -> None:
        self.clients = clients  # id -> Client, the server's list
        self.keyspace = keyspace  # minikv.keyspace.Keyspace
        self.call_soon = call_soon  # run a callable once this event-loop turn is done
        self.max_keys = 1_000_000  # tracking-table-max-keys (0: no limit)
        self.table: dict[bytes, set[int]] = {}
        self.items = 0  # ids across the table's entries (INFO tracking_total_items)
        self.tracking_clients = 0
        #: prefix -> its BCAST clients, and the keys changed under it this turn -> the client
        #: that changed each last (for NOLOOP).
        self.prefix_clients: dict[bytes, dict[Any, None]] = {}
        self.prefix_keys: dict[bytes, dict[bytes, Any]] = {}
        self._broadcast_due = False
        #: The tracking client whose command is running (set by the dispatcher's slow path and
        #: when a blocked command is served), and the invalidations held for such clients
        #: until their replies are out: (client, key), key None for a flush.
        self.current: Any = None
        self.pending: list[tuple[Any, bytes | None]] = []

    # --- enabling ------------------------------------------------------------------------

    def enable(self, c: Any, st: ClientTracking, prefixes: list[bytes]) -> None:
        """CLIENT TRACKING on with options ``st`` (already checked against the old ones) and
        BCAST ``prefixes``."""
        old = c.tracking
        if old is None:
            self.tracking_clients += 1
            if self.tracking_clients == 1:
                self.keyspace.use_tracking(self)  # the change hooks start calling invalidate
        else:
            st.prefixes = old.prefixes  # BCAST prefixes add up, as in Redis
        if st.bcast:
            for p in prefixes or [b""]:
                clients = self.prefix_clients.setdefault(p, {})
                if c not in clients:
                    clients[c] = None
                    self.prefix_keys.setdefault(p, {})
                    st.prefixes.append(p)
        c.tracking = st

    def disable(self, c: Any) -> None:
        """CLIENT TRACKING off, RESET or a disconnection. Its ids stay in the table until the
        keys change (skipped then), as Redis removes them lazily."""
        st = c.tracking
        if st is None:
            return
        for p in st.prefixes:
            clients = self.prefix_clients.get(p)
            if clients is not None:
                clients.pop(c, None)
                if not clients:
                    del self.prefix_clients[p]
                    self.prefix_keys.pop(p, None)
        c.tracking = None
        self.tracking_clients -= 1
        if self.tracking_clients == 0:
            # Nobody left to tell: forget the table and take the hook off the write path.
            self.table.clear()
            self.items = 0
            self.keyspace.use_tracking(None)

    # --- reads ---------------------------------------------------------------------------

    def remember(self, c: Any, cmd: Any, args: list[bytes]) -> None:
        """After a read-only command of tracking client ``c``: its keys enter the table
        (Redis's trackingRememberKeys), unless OPTIN/OPTOUT and CLIENT CACHING say not."""
        st = c.tracking
        if st.bcast or (st.optin and not st.caching) or (st.optout and st.caching):
            return
        keys = getattr(c, "script_keys", None)  # a script's read: the caller's keys (Redis)
        if keys is None:
            keys = [args[pos] for pos, _flags in cmd.get_keys(args)]
        if not keys:
            return
        table = self.table
        cid = c.id
        for key in keys:
            ids = table.get(key)
            if ids is None:
                ids = table[key] = set()
            if cid not in ids:
                ids.add(cid)
                self.items += 1
        if self.max_keys and len(table) > self.max_keys:
            self.limit()

    def limit(self) -> None:
        """tracking-table-max-keys: drop the oldest entries over the limit, telling their
        clients as if the keys had changed (Redis drops random ones)."""
        table = self.table
        while self.max_keys and len(table) > self.max_keys:
            self.invalidate(next(iter(table)), bcast=False)

    # --- changes -------------------------------------------------------------------------

    def invalidate(self, key: bytes, bcast: bool = True) -> None:
        """``key`` changed (Redis's trackingInvalidateKey)."""
        current = self.current
        if bcast and self.prefix_keys:
            for p, keys in self.prefix_keys.items():
                if key.startswith(p):
                    keys[key] = current
                    if not self._broadcast_due:
                        self._broadcast_due = True
                        self.call_soon(self.broadcast)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        clients = self.clients
        for cid in ids:
            target = clients.get(cid)
            if target is None:
                continue
            st = target.tracking
            if st is None or st.bcast:
                continue
            if target is current:
                if not st.noloop:
                    self.pending.append((target, key))
                continue
            self.send(target, _keys_array([key]))

    def flushed(self) -> None:
        """Every key changed (FLUSHDB, FLUSHALL, SWAPDB, a full sync): a null invalidation
        to every tracking client, and the table is emptied."""
        current = self.current
        for c in list(self.clients.values()):
            if c.tracking is None:
                continue
            if c is current:
                self.pending.append((c, None))
            else:
                self.send(c, _NULL[c.resp])
        self.table.clear()
        self.items = 0

    def broadcast(self) -> None:
        """The end of an event-loop turn: each prefix's changed keys to its BCAST clients."""
        self._broadcast_due = False
        # In Redis's order: prefixes and keys sorted (its radix trees).
        for p in sorted(self.prefix_keys):
            keys = self.prefix_keys[p]
            if not keys:
                continue
            names = sorted(keys)
            common = _keys_array(names)
            for c in list(self.prefix_clients.get(p, ())):
                if c.tracking is not None and c.tracking.noloop:
                    own = [k for k in names if keys[k] is not c]
                    if own:
                        self.send(c, _keys_array(own))
                else:
                    self.send(c, common)
            keys.clear()

    def after_command(self, c: Any, value: bytes) -> bytes:
        """The dispatcher ran a command of tracking client ``c`` whose encoded reply is
        ``value``: returns it followed by the invalidations held for ``c`` meanwhile, and ends
        the effect of CLIENT CACHING on the command after it (not inside MULTI)."""
        st = c.tracking
        if (
            st is not None
            and st.caching
            and c.multi is None
            and not c.last_cmd.startswith("client|")
        ):
            st.caching = False
        if not self.pending:
            return value
        mine = [key for target, key in self.pending if target is c]
        self.pending = [p for p in self.pending if p[0] is not c]
        if st is None:
            return value
        own = b""
        for key in mine:
            target, frame = self._frame(c, _NULL[c.resp] if key is None else _keys_array([key]))
            if target is c:
                own += frame  # after this reply, in the same write
            elif frame:
                target.deliver(frame)
        return value + own

    # --- delivery ------------------------------------------------------------------------

    def send(self, c: Any, payload: bytes) -> None:
        target, frame = self._frame(c, payload)
        if frame:
            target.deliver(frame)

    def _frame(self, c: Any, payload: bytes) -> tuple[Any, bytes]:
        """Where the message for tracking client ``c`` goes and what it is (Redis's
        sendTrackingMessage): to ``c`` or its redirect target, in the target's protocol; b""
        when there is nowhere to send it."""
        st = c.tracking
        target = c
        if st.redirect:
            target = self.clients.get(st.redirect)
            if target is None:
                st.broken = True
                if c.resp == 3:
                    red = b"%d" % st.redirect
                    return c, b">2\r\n$21\r\ntracking-redir-broken\r\n:%b\r\n" % red
                return c, b""
        if target.resp == 3:
            return target, _PUSH_INVALIDATE + payload
        if st.redirect and target.pubsub is not None:
            return target, _MESSAGE + payload
        return c, b""  # RESP2 has no pushes on the same connection

    # --- INFO ----------------------------------------------------------------------------

    def total_prefixes(self) -> int:
        return len(self.prefix_clients)
