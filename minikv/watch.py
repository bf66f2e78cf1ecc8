"""Watching the server: what each call's duration feeds, and who sees every command.

``Watch`` (one per server, ``server.watch``) owns the slow log (``minikv.slowlog``), the
latency monitor and the per-command histograms' settings (``minikv.latency``), the MONITOR
clients, and CLIENT PAUSE. It turns the settings into the few numbers the dispatcher reads
once per batch (``Client._run``), so that a call costs, when timing is on, one clock read, one
histogram increment and one comparison:

* ``timing`` = (timed, tracking, alert_ns), one tuple (one attribute read per batch):
  ``timed``: some feature needs each call's duration (latency-tracking, the slow log or the
  latency monitor is on); off, the dispatcher keeps its one clock read per run of calls.
  ``tracking``: record the duration in the command's histogram. ``alert_ns``: the smallest
  duration the slow log or the latency monitor wants to hear of; a call at least that long
  goes to ``slow_call``, which applies both rules.
* ``divert``: somebody MONITORs or CLIENT PAUSE is in force: every request takes the
  dispatcher's slow path (``commands.call`` feeds the monitors, ``Client.execute`` holds
  paused requests), so neither costs anything while nobody uses it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minikv.latency import LatencyMonitor, new_histogram, record_clamped
from minikv.slowlog import SlowLog, redacted

if TYPE_CHECKING:
    from minikv.commands import Command
    from minikv.config import Config
    from minikv.keyspace import Keyspace

NEVER = 2**63  # a duration no call reaches: the feature is off

#: Client.reply_mode (CLIENT REPLY): replies on, off, off for the next command (set by SKIP,
#: it becomes REPLY_SKIP once SKIP's own command is done), off for this command.
REPLY_ON, REPLY_OFF, REPLY_SKIP_NEXT, REPLY_SKIP = 0, 1, 2, 3


class MonitorOut:
    """A MONITOR client's lines not written yet, and its output-limit state (the same fields
    as ``minikv.pubsub.Subscriptions``: the connection queues and limits both alike)."""

    __slots__ = ("pending", "pending_bytes", "soft_limit_since")

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.soft_limit_since = 0.0


class Watch:
    def __init__(self, config: Config, keyspace: Keyspace, loading: Callable[[], bool]) -> None:
        self.config = config
        self.keyspace = keyspace
        #: Whether a snapshot or append-only file is being loaded (MONITOR shows nothing then).
        self.loading = loading
        self._pause_timer: asyncio.TimerHandle | None = None
        self.slowlog = SlowLog()
        self.latency = LatencyMonitor()
        self.monitors: list[Any] = []
        #: CLIENT PAUSE: "" (none), "write" or "all", until ``pause_end`` (time.monotonic()).
        self.pause_type = ""
        self.pause_end = 0.0
        #: FAILOVER pauses writes too, apart from CLIENT PAUSE (Redis's PAUSE_DURING_FAILOVER:
        #: CLIENT UNPAUSE does not end it, the failover's end does).
        self.failover_pause = False
        #: Clients whose requests wait for the pause to end, in the order they were paused.
        self.paused_clients: list[Any] = []
        #: Whether a script request declares writes (``Scripting.declared_writes``, set by
        #: the server: scripting sits above this layer); None: nothing declared.
        self.declared_writes: Callable[[str, list[bytes]], bool | None] = _nothing_declared
        self.timed = True
        self.tracking = True
        self.alert_ns = NEVER
        self.timing = (True, True, NEVER)
        self.divert = False
        self.slow_ns = NEVER
        self.latency_ms = 0
        self.configure()

    def configure(self) -> None:
        """Derive what the dispatcher reads from the config (at start and after CONFIG SET)."""
        cfg = self.config
        slower = cfg.slowlog_log_slower_than
        self.slow_ns = slower * 1000 if slower >= 0 else NEVER
        self.latency_ms = cfg.latency_monitor_threshold
        latency_ns = self.latency_ms * 1_000_000 if self.latency_ms > 0 else NEVER
        self.alert_ns = min(self.slow_ns, latency_ns)
        self.tracking = cfg.latency_tracking
        self.timed = self.tracking or self.alert_ns < NEVER
        self.timing = (self.timed, self.tracking, self.alert_ns)
        self.slowlog.trim(cfg.slowlog_max_len)

    def _update_divert(self) -> None:
        self.divert = bool(self.monitors) or bool(self.pause_type) or self.failover_pause

    # --- per call -----------------------------------------------------------------------------

    def slow_call(self, c: Any, cmd: Command, args: list[bytes], ns: int) -> None:
        """A call that took ``ns`` >= ``alert_ns``: Redis's latency sample (``command`` or
        ``fast-command``) and slow log entry, each by its own threshold."""
        self.latency_event(cmd, ns)
        self.slow_entry(c, cmd, args, ns)

    def latency_event(self, cmd: Command, ns: int) -> None:
        """The latency monitor's ``command`` / ``fast-command`` sample for a call of ``ns``."""
        self.sample("fast-command" if "fast" in cmd.flags else "command", ns // 1_000_000)

    def served(self, c: Any, cmd: Command, args: list[bytes], ns: int, reply_ns: int) -> None:
        """A blocked call served (Redis's updateStatsOnUnblock): its histogram and slow log
        entry for ``ns`` (the blocking call plus the serving, not the wait), and the
        ``command-unblocking`` sample for the serving alone (``reply_ns``)."""
        if self.tracking:
            self.record_duration(cmd, ns)
        self.slow_entry(c, cmd, args, ns)
        self.sample("command-unblocking", reply_ns // 1_000_000)

    def slow_entry(self, c: Any, cmd: Command, args: list[bytes], ns: int) -> None:
        """The slow log's entry for a call of ``ns``, if over its threshold."""
        if ns >= self.slow_ns and "skip_slowlog" not in cmd.flags:
            # A script's commands come from Redis's fake Lua client: no address, no name.
            script = getattr(c, "is_script", False)
            self.slowlog.push(
                args,
                ns // 1000,
                "?:0" if script else c.addr,
                b"" if script else c.name,
                self.config.slowlog_max_len,
                cmd.name,
            )

    def record_duration(self, cmd: Command, ns: int) -> None:
        """The dispatcher's histogram update when the inline one cannot: the command's
        first tracked call (no histogram yet) or a duration outside 1 ns .. 1 s."""
        if cmd.hist is None:
            cmd.hist = new_histogram()
        record_clamped(cmd.hist, ns)

    def sample(self, event: str, ms: int) -> None:
        """A latency event (fork, expire-cycle, command...), if over the threshold."""
        if self.latency_ms and ms >= self.latency_ms:
            self.latency.add(event, ms)

    # --- MONITOR ------------------------------------------------------------------------------

    def feed_monitors(self, c: Any, name: str, args: list[bytes]) -> None:
        """Show a call to every MONITOR client, in Redis's line format (nothing while data
        is loaded, as Redis)."""
        if self.loading():
            return
        label = "lua" if getattr(c, "is_script", False) else c.addr
        line = monitor_line(time.time_ns() // 1000, c.db.id, label, redacted(name, args))
        for m in list(self.monitors):
            m.deliver_monitor(line)

    def add_monitor(self, c: Any) -> None:
        c.monitor = MonitorOut()
        self.monitors.append(c)
        self._update_divert()

    def forget(self, c: Any) -> None:
        """A client is gone (or RESET): it monitors nothing and waits for no pause."""
        if c.monitor is not None:
            if c in self.monitors:
                self.monitors.remove(c)
            c.monitor = None
            self._update_divert()
        if c.pause_wait:
            c.pause_wait = False
            if c in self.paused_clients:
                self.paused_clients.remove(c)

    # --- CLIENT PAUSE -------------------------------------------------------------------------

    def pause(self, ms: int, kind: str) -> None:
        """CLIENT PAUSE: as Redis, a second pause keeps the later end and the stricter kind."""
        end = time.monotonic() + ms / 1000
        if self.pause_type and time.monotonic() < self.pause_end:
            if self.pause_type == "all":
                kind = "all"
            end = max(end, self.pause_end)
        loosened = self.pause_type == "all" and kind == "write"
        self.pause_type = kind
        self.pause_end = end
        self._update_divert()
        self.keyspace.expire_paused = True  # no key expires while paused (Redis 7)
        if self._pause_timer is not None:
            self._pause_timer.cancel()
        loop = asyncio.get_running_loop()
        self._pause_timer = loop.call_later(max(end - time.monotonic(), 0), self._pause_over)
        if loosened:
            self._release()  # they run again, and wait again if the new kind says so

    def unpause(self) -> None:
        self._pause_over()

    def pause_for_failover(self, on: bool) -> None:
        """FAILOVER's write pause, begun or ended."""
        self.failover_pause = on
        self._update_divert()
        self.keyspace.expire_paused = on or bool(self.pause_type)
        if not on:
            self._release()

    def _pause_over(self) -> None:
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        self.pause_type = ""
        self._update_divert()
        self.keyspace.expire_paused = self.failover_pause
        self._release()

    def _release(self) -> None:
        """The held clients run their requests again, each in its turn of the loop, in the
        order they were held (Redis's unblockPostponedClients)."""
        waiting, self.paused_clients = self.paused_clients, []
        loop = asyncio.get_running_loop()
        for c in waiting:
            c.pause_wait = False
            loop.call_soon(c.resume_after_block)

    def hold(self, c: Any) -> None:
        """``c``'s request waits for the pause to end."""
        c.pause_wait = True
        self.paused_clients.append(c)

    def pause_blocks(
        self, cmd: Command, args: list[bytes], queued: list[tuple[Command, list[bytes]]] | None
    ) -> bool:
        """Whether ``cmd`` must wait for the pause to end (Redis's processCommand rule):
        everything under PAUSE ALL; under PAUSE WRITE, writes and commands that may
        replicate (PUBLISH, PFCOUNT, EVAL and FCALL...), and an EXEC with any of those
        queued. A script that declares its flags is a write unless it says no-writes, else
        not even one that may replicate, whatever its command (Redis's getCommandFlags)."""
        kind = self.pause_type
        if kind and time.monotonic() >= self.pause_end:
            self._pause_over()
            kind = ""
        if not kind:
            if not self.failover_pause:
                return False
            kind = "write"
        if kind == "all":
            return True
        if self._may_replicate(cmd, args):
            return True
        return cmd.name == "exec" and any(self._may_replicate(q, a) for q, a in queued or ())

    def _may_replicate(self, cmd: Command, args: list[bytes]) -> bool:
        declared = self.declared_writes(cmd.name, args)
        if declared is not None:
            return declared
        return cmd.is_write or "may_replicate" in cmd.flags


def _nothing_declared(name: str, args: list[bytes]) -> bool | None:
    return None


def _repr(arg: bytes) -> str:
    """sdscatrepr: a double-quoted C-style literal."""
    out = ['"']
    for ch in arg:
        if ch == 0x5C:
            out.append("\\\\")
        elif ch == 0x22:
            out.append('\\"')
        elif ch == 0x0A:
            out.append("\\n")
        elif ch == 0x0D:
            out.append("\\r")
        elif ch == 0x09:
            out.append("\\t")
        elif ch == 0x07:
            out.append("\\a")
        elif ch == 0x08:
            out.append("\\b")
        elif 0x20 <= ch <= 0x7E:
            out.append(chr(ch))
        else:
            out.append(f"\\x{ch:02x}")
    out.append('"')
    return "".join(out)


def monitor_line(usec: int, db: int, label: str, args: list[bytes]) -> bytes:
    """``+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`` as a RESP simple string."""
    body = " ".join(_repr(a) for a in args)
    return f"+{usec // 1_000_000}.{usec % 1_000_000:06d} [{db} {label}] {body}\r\n".encode()
