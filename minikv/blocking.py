"""Blocking commands (BLPOP, BLMOVE, BZPOPMIN...): parking a client on keys and waking it.

A blocking command that finds nothing to pop calls ``block``, which parks the client on its keys
and returns ``BLOCKED``: the dispatcher then sends nothing and holds the client's later
(pipelined) requests until it is unblocked. The parked client is listed in its database's
``blocking_keys`` (key -> clients in arrival order).

Any change to a key goes through ``Db.touched``; when somebody is blocked on that key, the key
is queued in ``Keyspace.ready_keys``. After each top-level command (a whole MULTI/EXEC counts as
one) the dispatcher calls ``handle_ready_keys``, which offers each ready key to its clients in
FIFO order (Redis's handleClientsBlockedOnKeys). A client's ``serve`` callback decides whether it
can be served (type and contents right); if so it pops, and its reply is sent at once. Serving
may make more keys ready (BLMOVE pushes), so the loop runs until nothing is ready.

A command can only block when it is the command the client sent: run inside EXEC it replies as
if the timeout had passed at once (null), as Redis does for clients that may not block.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minikv.commands import ALL, Command
from minikv.keyspace import now_ms
from minikv.parsing import Infinite, parse_long_double, round_long_double
from minikv.protocol import Raw, ReplyError

if TYPE_CHECKING:
    from minikv.connection import Client
    from minikv.keyspace import Db, Keyspace

#: The reply value of a command that blocked: the dispatcher sends nothing for it now.
BLOCKED: Any = Raw(b"")

Serve = Callable[["Client", bytes], Any]

TIMEOUT_NOT_FLOAT = ReplyError("ERR timeout is not a float or out of range")
TIMEOUT_NEGATIVE = ReplyError("ERR timeout is negative")

_LLONG_MAX = 2**63 - 1


@dataclass(eq=False, slots=True)
class BlockState:
    """Why and where a client waits (``Client.blocked`` while it does)."""

    db: Db
    keys: list[bytes]
    #: The blocking command and its arguments: a served pop is propagated by its rule.
    cmd: Command
    args: list[bytes]
    serve: Serve
    timeout_reply: Any
    timer: asyncio.TimerHandle | None
    #: ``serve`` is also called when the key is gone (XREADGROUP answers an error then).
    serve_missing: bool = False
    #: How long the call that blocked took (set by the blocking command's handler, wrapped by
    #: ``commands.command``): counted again when the client is served, as Redis's
    #: updateStatsOnUnblock does (``served_stats``).
    call_ns: int = 0


def _blocking_command(c: Client) -> Command | None:
    """The command being run if it is the client's own top-level request and a blocking one.
    ``last_cmd`` is set by the dispatcher for that request only, so inside EXEC it names "exec"
    (and inside a script would name the script command): none of those is a blocking command."""
    cmd = ALL.get(c.last_cmd)
    return cmd if cmd is not None and "blocking" in cmd.flags else None


def may_block(c: Client) -> bool:
    return _blocking_command(c) is not None


def block(
    c: Client,
    args: list[bytes],
    keys: list[bytes],
    timeout: float,
    serve: Serve,
    timeout_reply: Any,
    serve_missing: bool = False,
) -> Any:
    """Park client ``c`` on ``keys`` (in ``c.db``) and return ``BLOCKED``.

    ``timeout`` is in seconds, 0 meaning forever. When one of the keys becomes ready,
    ``serve(c, key)`` is called: it returns the reply if it could serve (having popped), or None
    to keep waiting. On timeout the client gets ``timeout_reply`` (e.g. ``NULL_ARRAY``). A client
    that may not block (inside EXEC) gets ``timeout_reply`` right away instead. With
    ``serve_missing``, ``serve`` is called for a key that was deleted too.
    """
    cmd = _blocking_command(c)
    if cmd is None:
        return timeout_reply
    db = c.db
    keys = list(dict.fromkeys(keys))  # BLPOP k k 0 waits once on k
    timer = None
    if timeout > 0:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout, _timed_out, c)
    c.blocked = BlockState(db, keys, cmd, args, serve, timeout_reply, timer, serve_missing)
    bk = db.blocking_keys
    for key in keys:
        waiters = bk.get(key)
        if waiters is None:
            bk[key] = {c: None}
        else:
            waiters[c] = None
    return BLOCKED


def parse_timeout(arg: bytes) -> float:
    """A blocking command's timeout in seconds (0 = forever), checked as Redis 7.0's
    getTimeoutFromObjectOrReply does: a long double, times 1000 rounded up to whole ms, then
    converted to a 64-bit integer (values past its range wrap to negative, as on x86)."""
    try:
        m, q = parse_long_double(arg)
        # The product is rounded to a long double too before ceill().
        m, q = round_long_double(m * 1000 << q) if q >= 0 else round_long_double(m * 1000, 1 << -q)
    except ReplyError:
        raise TIMEOUT_NOT_FLOAT from None
    except Infinite:  # "inf", or past the long double range: converts to LLONG_MIN
        raise TIMEOUT_NEGATIVE from None
    ms = m << q if q >= 0 else -((-m) >> -q)  # ceil
    if ms < 0 or ms > _LLONG_MAX:
        raise TIMEOUT_NEGATIVE
    if ms == 0:
        return 0.0
    if ms > _LLONG_MAX - now_ms():
        return 0.001  # the deadline wraps past LLONG_MAX: Redis times out at once
    return ms / 1000.0


# --- waking ---------------------------------------------------------------------------------


def handle_ready_keys(ks: Keyspace) -> None:
    """Serve clients blocked on keys that changed (Redis's handleClientsBlockedOnKeys)."""
    ready_keys = ks.ready_keys  # emptied, never rebound: the dispatcher holds it
    while ready_keys:
        ready = list(ready_keys)
        ready_keys.clear()
        for db, key in ready:
            waiters = db.blocking_keys.get(key)
            if not waiters:
                continue
            for c in list(waiters):  # arrival order; served clients leave the dict
                st = c.blocked
                if st is None or c.closed:
                    continue
                if not st.serve_missing and db.get(key) is None:
                    continue  # nothing to serve this one
                dirty = ks.dirty
                memory = ks.memory
                sized = memory.measure(c, st.cmd, st.args) if memory.tracking else None
                # A tracking client's own invalidations follow the reply (minikv.tracking).
                keys_tracked = c.server.tracking if c.tracking is not None else None
                if keys_tracked is not None:
                    before, keys_tracked.current = keys_tracked.current, c
                t0 = time.perf_counter_ns()
                reply = st.serve(c, key)
                if reply is not None:
                    served_stats(c, st, time.perf_counter_ns() - t0, isinstance(reply, ReplyError))
                if sized:
                    memory.account(sized)
                if reply is not None:
                    if ks.dirty != dirty and not isinstance(reply, ReplyError):
                        # Propagated as the plain command it did, on its own (Redis's order:
                        # after the command that made the key ready).
                        ks.propagation.command(st.cmd.propagate, st.args, reply, db)
                        ks.propagation.flush()
                    unblock(c, reply)
                if keys_tracked is not None:
                    keys_tracked.current = before
        ks.propagation.flush()  # keys that expired while being looked at: DEL on their own


def unblock(c: Client, reply: Any) -> None:
    """End ``c``'s wait: send ``reply`` now, then let its held requests run."""
    _forget(c)
    if c.closed:
        return
    if isinstance(reply, ReplyError):
        c.server.stats.count_error(reply)
    data = c.encode(reply)
    if c.tracking is not None:
        data = c.server.tracking.after_command(c, data)
    c.server.stats.total_net_output_bytes += len(data)
    c.write_async(data)
    asyncio.get_running_loop().call_soon(c.resume_after_block)


def served_stats(
    c: Client, st: BlockState, reply_ns: int, failed: bool, args: list[bytes] | None = None
) -> None:
    """Redis 7.0's updateStatsOnUnblock for a client served (or woken by CLIENT UNBLOCK):
    commandstats' time gets the blocking call's time again plus the serving's (``calls`` was
    counted when it blocked), the histogram and the slow log that sum; the wait is not counted.
    A client that times out records nothing more, as in Redis. ``args``: what the slow log
    shows (default: the blocking command's)."""
    cmd = st.cmd
    ns = st.call_ns + reply_ns
    cmd.usec_ns += ns
    if failed:
        cmd.failed_calls += 1
    c.server.watch.served(c, cmd, st.args if args is None else args, ns, reply_ns)


def unblock_client(c: Client, reply: Any | None = None) -> bool:
    """CLIENT UNBLOCK: wake ``c`` with ``reply`` (default: its timeout reply). False if it was
    not blocked. Counted as a failed call either way, as Redis does; its slow log entry has
    no arguments, as Redis's (which has reset the client's argument vector by then)."""
    st = c.blocked
    if st is None:
        return False
    served_stats(c, st, 0, True, [])
    unblock(c, st.timeout_reply if reply is None else reply)
    return True


def disconnected(c: Client) -> None:
    """The connection of a blocked client is gone: drop it from the wait lists."""
    _forget(c)


def _timed_out(c: Client) -> None:
    st = c.blocked
    if st is not None:
        unblock(c, st.timeout_reply)


def _forget(c: Client) -> None:
    st = c.blocked
    if st is None:
        return
    c.blocked = None
    if st.timer is not None:
        st.timer.cancel()
    bk = st.db.blocking_keys
    for key in st.keys:
        waiters = bk.get(key)
        if waiters is not None:
            waiters.pop(c, None)
            if not waiters:
                del bk[key]
