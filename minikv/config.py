"""One typed configuration, with Redis's parameter names.

``Config`` holds every setting. ``PARAMS`` describes each one once (its redis.conf name, how to
parse and render it, whether CONFIG SET may change it at run time, and the live effect of a
change) and is used by the config file reader, the command line and CONFIG GET/SET/REWRITE
alike, so the three can never disagree about a name or a value's syntax.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from minikv.latency import format_percentile_name
from minikv.notify import NotifyConfigError, parse_flags, render_flags
from minikv.parsing import glob_match


class ConfigError(ValueError):
    """A bad directive or value. ``line``/``lineno`` say where, for the fatal startup report."""

    def __init__(self, message: str, line: str = "", lineno: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.lineno = lineno


@dataclass
class Config:
    port: int = 6379
    bind: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    dir: str = "."
    dbfilename: str = "dump.mkv"
    save: list[tuple[int, int]] = field(
        default_factory=lambda: [(3600, 1), (300, 100), (60, 10000)]
    )
    requirepass: str = ""
    #: ACL (minikv.acl): the users file, the ACL LOG's length, whether new users may use
    #: every channel ("allchannels") or none ("resetchannels", Redis 7's default).
    aclfile: str = ""
    acllog_max_len: int = 128
    acl_pubsub_default: str = "resetchannels"
    #: The config file's ``user`` lines, as words after ``user`` (loaded by minikv.acl at start).
    users: list[list[str]] = field(default_factory=list)
    maxclients: int = 10000
    #: tracking-table-max-keys: CLIENT TRACKING's table size bound (0: none).
    tracking_table_max_keys: int = 1_000_000
    #: busy-reply-threshold (lua-time-limit), ms: a script running longer makes the server
    #: answer other clients BUSY and accept SCRIPT KILL / SHUTDOWN NOSAVE (0: never).
    busy_reply_threshold: int = 5000
    databases: int = 16
    loglevel: str = "notice"
    logfile: str = ""
    protected_mode: bool = True
    stop_writes_on_bgsave_error: bool = True
    rdbchecksum: bool = True
    #: DUMP / MIGRATE / FUNCTION DUMP payloads LZF-compress strings of more than 20 bytes, as
    #: Redis's RDB does (snapshots are minikv's own format, which this does not touch).
    rdbcompression: bool = True
    appendonly: bool = False
    appendfilename: str = "appendonly.aof"
    appenddirname: str = "appendonlydir"
    appendfsync: str = "everysec"
    no_appendfsync_on_rewrite: bool = False
    auto_aof_rewrite_percentage: int = 100
    auto_aof_rewrite_min_size: int = 64 * 1024 * 1024
    aof_load_truncated: bool = True
    aof_rewrite_incremental_fsync: bool = True
    #: Only "yes": the base file is always a snapshot (minikv has no RESP-only base).
    aof_use_rdb_preamble: bool = True
    #: Only "no": minikv writes no timestamp annotations.
    aof_timestamp_enabled: bool = False
    proto_max_bulk_len: int = 512 * 1024 * 1024
    client_query_buffer_limit: int = 1024 * 1024 * 1024
    hz: int = 10
    timeout: int = 0
    # Replication (minikv.replication). replicaof: "host port", or "" for a primary.
    replicaof: str = ""
    masterauth: str = ""
    masteruser: str = ""
    replica_read_only: bool = True
    replica_serve_stale_data: bool = True
    replica_priority: int = 100
    replica_announce_ip: str = ""
    replica_announce_port: int = 0
    replica_announced: bool = True
    repl_diskless_sync: bool = True
    repl_diskless_sync_delay: int = 5
    repl_diskless_sync_max_replicas: int = 0
    repl_diskless_load: str = "disabled"
    repl_backlog_size: int = 1024 * 1024
    repl_backlog_ttl: int = 3600
    repl_timeout: int = 60
    repl_ping_replica_period: int = 10
    min_replicas_to_write: int = 0
    min_replicas_max_lag: int = 10
    enable_debug_command: str = "no"
    #: Microseconds the snapshot child sleeps per key written (Redis's test knob).
    rdb_key_save_delay: int = 0
    enable_protected_configs: str = "no"
    daemonize: bool = False
    pidfile: str = ""
    #: Absolute path of the config file given at startup ("" if none): CONFIG REWRITE's target.
    config_file: str = ""
    # Encoding thresholds (Redis 7.0's built-in defaults). minikv's containers do not change
    # with them; they decide what OBJECT ENCODING / DEBUG OBJECT report, as Redis would.
    hash_max_listpack_entries: int = 512
    hash_max_listpack_value: int = 64
    set_max_intset_entries: int = 512
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    list_max_listpack_size: int = -2
    list_compress_depth: int = 0
    # A stream node (Redis's listpack in the stream's radix tree) is closed at this many bytes
    # or entries; approximate trimming (MAXLEN ~) removes whole nodes only.
    stream_node_max_bytes: int = 4096
    stream_node_max_entries: int = 100
    #: A sparse HyperLogLog longer than this (header included) becomes dense (minikv.hll).
    hll_sparse_max_bytes: int = 3000
    #: notify-keyspace-events as minikv.notify's bit flags (0: no notifications).
    notify_keyspace_events: int = 0
    # Watching (minikv.watch): the slow log (microseconds, negative: off), the latency monitor
    # (milliseconds, 0: off), per-command latency histograms and the INFO percentiles.
    slowlog_log_slower_than: int = 10000
    slowlog_max_len: int = 128
    latency_monitor_threshold: int = 0
    latency_tracking: bool = True
    latency_tracking_info_percentiles: list[float] = field(
        default_factory=lambda: [50.0, 99.0, 99.9]
    )
    #: maxmemory and eviction (minikv.eviction): 0 is no limit.
    maxmemory: int = 0
    maxmemory_policy: str = "noeviction"
    maxmemory_samples: int = 5
    maxmemory_eviction_tenacity: int = 10
    lfu_log_factor: int = 10
    lfu_decay_time: int = 1
    #: Client eviction's limit: bytes, or (negative) a percentage of maxmemory; 0 = off
    #: (minikv.client_eviction).
    maxmemory_clients: int = 0
    #: 1-10: how hard the active expire cycle works (Redis 7's keys per round, stale share).
    active_expire_effort: int = 1
    #: client class ("normal", "slave", "pubsub") -> (hard bytes, soft bytes, soft seconds).
    client_output_buffer_limit: dict[str, tuple[int, int, int]] = field(
        default_factory=lambda: dict(OBUF_DEFAULTS)
    )


#: maxmemory-policy's values, in Redis's order (minikv.eviction implements them).
MAXMEMORY_POLICIES = (
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
)

OBUF_DEFAULTS = {
    "normal": (0, 0, 0),
    "slave": (256 * 1024 * 1024, 64 * 1024 * 1024, 60),
    "pubsub": (32 * 1024 * 1024, 8 * 1024 * 1024, 60),
}


class SoftLimited(Protocol):
    """What tracks how long a client has been over its soft output limit."""

    soft_limit_since: float


def over_output_limit(
    holder: SoftLimited, used: int, limit: tuple[int, int, int], now: float
) -> bool:
    """Redis's checkClientOutputBufferLimits for one ``client-output-buffer-limit`` class
    (hard bytes, soft bytes, soft seconds): over the hard limit, or over the soft one for
    longer than its seconds (``holder.soft_limit_since`` keeps when that began)."""
    hard, soft, seconds = limit
    over = bool(hard) and used >= hard
    if soft and used >= soft:
        if not holder.soft_limit_since:
            holder.soft_limit_since = now
        elif now - holder.soft_limit_since > seconds:
            over = True
    else:
        holder.soft_limit_since = 0.0
    return over


# --- value codecs --------------------------------------------------------------------------------

_UNITS = {"k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def parse_memory(text: str) -> int:
    t = text.strip().lower()
    for suffix in ("kb", "mb", "gb", "k", "m", "g"):
        if t.endswith(suffix):
            return int(t[: -len(suffix)]) * _UNITS[suffix]
    return int(t)


def parse_bool(text: str) -> bool:
    t = text.lower()
    if t == "yes":
        return True
    if t == "no":
        return False
    raise ConfigError("argument must be 'yes' or 'no'")


def parse_save(text: str) -> list[tuple[int, int]]:
    """``"<seconds> <changes> ..."``; exactly ``""`` disables snapshots (as in Redis, a value of
    only spaces is an error, not "disable")."""
    if text == "":
        return []
    parts = text.split()
    if not parts or len(parts) % 2:
        raise ConfigError("Invalid save parameters")
    out = []
    for i in range(0, len(parts), 2):
        try:
            secs, changes = int(parts[i]), int(parts[i + 1])
        except ValueError:
            raise ConfigError("Invalid save parameters") from None
        if secs < 1 or changes < 0:
            raise ConfigError("Invalid save parameters")
        out.append((secs, changes))
    return out


def render_save(v: list[tuple[int, int]]) -> str:
    return " ".join(f"{s} {c}" for s, c in v)


def _enum(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        t = text.lower()
        if t not in choices:
            raise ConfigError("argument(s) must be one of the following: " + ", ".join(choices))
        return t

    return parse


def _int_range(
    lo: int, hi: int, clamp: tuple[int, int] | None = None, memory: bool = False
) -> Callable[[str], int]:
    """An integer in [lo, hi] (with ``memory``, units such as ``64mb`` allowed: Redis's
    MEMORY_CONFIG); ``clamp`` then narrows it silently, as Redis does for ``hz`` (accepts
    0..INT_MAX, runs at 1..500)."""

    def parse(text: str) -> int:
        try:
            if not memory and not re.fullmatch(r"-?[0-9]+", text):  # string2ll, strictly
                raise ValueError
            v = parse_memory(text) if memory else int(text)
        except ValueError:
            raise ConfigError(
                "argument must be a memory value"
                if memory
                else "argument couldn't be parsed into an integer"
            ) from None
        if not lo <= v <= hi:
            raise ConfigError(f"argument must be between {lo} and {hi} inclusive")
        if clamp is not None:
            v = min(max(v, clamp[0]), clamp[1])
        return v

    return parse


_SIZE = _int_range(0, 2**63 - 1)  # size_t configs: 0..LONG_MAX
_SIZE_MEMORY = _int_range(0, 2**63 - 1, memory=True)


def parse_obuf_limits(text: str) -> dict[str, tuple[int, int, int]]:
    """``<class> <hard> <soft> <soft seconds>`` groups, as Redis's updateClientOutputBufferLimit
    checks them (all or nothing). The classes given replace those limits; the others stay.

    minikv enforces the pubsub class. Normal clients need no limit (their replies are not
    produced while the unsent ones pass the high-water mark: the client is not read), so a
    limit other than ``0 0 0`` for them is refused rather than accepted and ignored. The
    replica class is stored for replication, which has no replicas to apply it to yet.
    """
    words = text.split()
    if len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(words), 4):
        cls = words[i].lower()
        cls = {"replica": "slave"}.get(cls, cls)
        if cls not in OBUF_DEFAULTS:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
            if not re.fullmatch(r"[+-]?[0-9]+", words[i + 3]):
                raise ValueError
            secs = int(words[i + 3])
            if hard < 0 or soft < 0 or secs < 0:
                raise ValueError
        except ValueError:
            raise ConfigError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            ) from None
        out[cls] = (hard, soft, secs)
    if out.get("normal", (0, 0, 0)) != (0, 0, 0):
        raise ConfigError(
            "minikv does not limit the output buffer of normal clients: it stops reading a "
            "client whose unsent replies pass 1mb instead (use normal 0 0 0)"
        )
    return out


def render_obuf_limits(v: dict[str, tuple[int, int, int]]) -> str:
    return " ".join(f"{cls} {h} {s} {secs}" for cls, (h, s, secs) in v.items())


def _basename(setting: str, what: str) -> Callable[[str], str]:
    """appendfilename / appenddirname: a bare name inside ``dir``, as Redis checks them."""

    def parse(text: str) -> str:
        if not text:
            raise ConfigError(f"{setting} can't be empty")
        if os.path.basename(text) != text or text in (".", ".."):
            raise ConfigError(f"{setting} can't be a path, just a {what}")
        return text

    return parse


def _only(value: bool, why: str) -> Callable[[str], bool]:
    """A yes/no setting minikv supports one way only: the other is refused, never ignored."""

    def parse(text: str) -> bool:
        v = parse_bool(text)
        if v != value:
            raise ConfigError(why)
        return v

    return parse


def _parse_replicaof(text: str) -> str:
    """``replicaof <host> <port>`` (or ``no one``): normalised to "host port", "" for none."""
    words = text.split()
    if len(words) != 2:
        raise ConfigError("wrong number of arguments")
    if words[0].lower() == "no" and words[1].lower() == "one":
        return ""
    try:
        port = int(words[1])
    except ValueError:
        raise ConfigError("Invalid master port") from None
    if not 0 <= port <= 65535:
        raise ConfigError("Invalid master port")
    return f"{words[0]} {port}"


def _memtoull(text: str) -> int | None:
    """Redis's memtoull: digits then an optional unit (b, k, kb, m, mb, g, gb, any case); no
    sign, no spaces. None when it is not one. Digits alone may be empty (then 0), as Redis."""
    m = re.fullmatch(r"([0-9]*)(|b|kb?|mb?|gb?)", text, re.IGNORECASE | re.ASCII)
    if m is None or len(m[1]) >= 128:
        return None
    mul = 1 if m[2].lower() in ("", "b") else _UNITS[m[2].lower()]
    return (min(int(m[1] or 0), 2**64 - 1) * mul) % 2**64  # strtoull clamps, the product wraps


def parse_memory_or_percent(text: str) -> int:
    """maxmemory-clients (Redis's MEMORY_CONFIG | PERCENT_CONFIG ssize_t): bytes with units,
    or ``N%`` of maxmemory, stored negative (-N) as Redis stores it; range -100..SSIZE_MAX."""
    v = _memtoull(text)
    if v is not None:
        v = (v ^ 2**63) - 2**63  # the unsigned value read as Redis's long long
    elif len(text) > 1 and text[-1] == "%" and re.fullmatch(r"0|[1-9][0-9]*", text[:-1]):
        v = -int(text[:-1])  # string2ll's syntax (no sign wanted: a negative one fails here)
    else:
        raise ConfigError("argument must be a memory or percent value")
    if v < -100:
        raise ConfigError("percentage argument must be less or equal to 100")
    return v


def render_memory_or_percent(v: int) -> str:
    return f"{-v}%" if v < 0 else str(v)


def _parse_notify(text: str) -> int:
    try:
        return parse_flags(text)
    except NotifyConfigError as e:
        raise ConfigError(str(e)) from None


def _parse_percentiles(text: str) -> list[float]:
    """latency-tracking-info-percentiles: space-separated doubles in [0, 100] ("" for none)."""
    out = []
    for word in text.split():
        try:
            v = float(word)
        except ValueError:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters") from None
        if v != v or word.lower().lstrip("+-") in ("inf", "infinity", "nan"):
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
        if not 0.0 <= v <= 100.0:
            raise ConfigError(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
            )
        out.append(v)
    return out


def _render_percentiles(values: list[float]) -> str:
    return " ".join(format_percentile_name(v) for v in values)


def _filename(text: str) -> str:
    if "/" in text:
        raise ConfigError("dbfilename can't be a path, just a filename")
    return text


def _yesno(v: bool) -> str:
    return "yes" if v else "no"


# --- live effects of CONFIG SET -------------------------------------------------------------------


def _apply_dir(config: Config) -> None:
    """Redis changes the working directory to ``dir`` (snapshots are written there); minikv
    then stores the absolute path so joining it with a file name never applies it twice."""
    try:
        os.chdir(config.dir)
    except OSError as e:
        raise ConfigError(e.strerror or str(e)) from None
    config.dir = os.getcwd()


def _apply_loglevel(config: Config) -> None:
    from minikv import log

    log.set_level(config.loglevel)


@dataclass(frozen=True)
class Param:
    name: str  # redis.conf name
    attr: str  # Config attribute
    parse: Callable[[str], Any]
    render: Callable[[Any], str] = str
    mutable: bool = True
    #: Redis 7's PROTECTED_CONFIG: CONFIG SET refused unless enable-protected-configs allows it.
    protected: bool = False
    #: Live effect after a successful CONFIG SET; raises ConfigError to roll the change back.
    apply: Callable[[Config], None] | None = None
    #: Redis's older name for it (e.g. hash-max-ziplist-entries), accepted everywhere.
    alias: str = ""
    #: The parsed value is a dict that updates the current one (client-output-buffer-limit
    #: names only the classes it changes).
    merge: bool = False
    #: CONFIG REWRITE writes no line at all for the default value, even where the file had
    #: one (``replicaof``: a promoted replica's file loses its line, as Redis rewrites it).
    omit_default: bool = False

    def value(self, config: Config, text: str) -> Any:
        """``text`` parsed, as the new value of the setting in ``config``."""
        v = self.parse(text)
        return {**getattr(config, self.attr), **v} if self.merge else v


PARAMS: dict[str, Param] = {
    p.name: p
    for p in [
        # port/bind are CONFIG SET-able in Redis 7; minikv cannot re-listen at run time.
        Param("port", "port", _int_range(0, 65535), mutable=False),
        Param("bind", "bind", lambda s: s.split(), " ".join, mutable=False),
        Param("dir", "dir", str, lambda _: os.getcwd(), protected=True, apply=_apply_dir),
        Param("dbfilename", "dbfilename", _filename, protected=True),
        Param("save", "save", parse_save, render_save),
        Param("requirepass", "requirepass", str),
        Param("aclfile", "aclfile", str, mutable=False),
        Param("acllog-max-len", "acllog_max_len", _int_range(0, 2**63 - 1)),
        Param("acl-pubsub-default", "acl_pubsub_default", _enum("allchannels", "resetchannels")),
        Param("maxclients", "maxclients", _int_range(1, 2**32 - 1)),
        Param("tracking-table-max-keys", "tracking_table_max_keys", _int_range(0, 2**63 - 1)),
        Param(
            "busy-reply-threshold",
            "busy_reply_threshold",
            _int_range(0, 2**63 - 1),
            alias="lua-time-limit",
        ),
        Param("databases", "databases", _int_range(1, 2**31 - 1), mutable=False),
        Param(
            "loglevel",
            "loglevel",
            _enum("debug", "verbose", "notice", "warning"),
            apply=_apply_loglevel,
        ),
        Param("logfile", "logfile", str, mutable=False),
        Param("protected-mode", "protected_mode", parse_bool, _yesno),
        Param("stop-writes-on-bgsave-error", "stop_writes_on_bgsave_error", parse_bool, _yesno),
        Param("rdbchecksum", "rdbchecksum", parse_bool, _yesno),
        Param("rdbcompression", "rdbcompression", parse_bool, _yesno),
        # Turning it on or off at run time is the server's business (Server.config_changed).
        Param("appendonly", "appendonly", parse_bool, _yesno),
        Param(
            "appendfilename",
            "appendfilename",
            _basename("appendfilename", "filename"),
            mutable=False,
        ),
        Param(
            "appenddirname", "appenddirname", _basename("appenddirname", "dirname"), mutable=False
        ),
        Param("appendfsync", "appendfsync", _enum("always", "everysec", "no")),
        Param("no-appendfsync-on-rewrite", "no_appendfsync_on_rewrite", parse_bool, _yesno),
        Param(
            "auto-aof-rewrite-percentage", "auto_aof_rewrite_percentage", _int_range(0, 2**31 - 1)
        ),
        Param(
            "auto-aof-rewrite-min-size",
            "auto_aof_rewrite_min_size",
            _int_range(0, 2**63 - 1, memory=True),
        ),
        Param("aof-load-truncated", "aof_load_truncated", parse_bool, _yesno),
        Param("aof-rewrite-incremental-fsync", "aof_rewrite_incremental_fsync", parse_bool, _yesno),
        Param(
            "aof-use-rdb-preamble",
            "aof_use_rdb_preamble",
            _only(
                True,
                "minikv always writes the AOF base as a snapshot: aof-use-rdb-preamble must be "
                "'yes'",
            ),
            _yesno,
        ),
        Param(
            "aof-timestamp-enabled",
            "aof_timestamp_enabled",
            _only(False, "minikv writes no AOF timestamps: aof-timestamp-enabled must be 'no'"),
            _yesno,
        ),
        Param(
            "proto-max-bulk-len",
            "proto_max_bulk_len",
            _int_range(1024 * 1024, 2**63 - 1, memory=True),
        ),
        Param(
            "client-query-buffer-limit",
            "client_query_buffer_limit",
            _int_range(1024 * 1024, 2**63 - 1, memory=True),
        ),
        Param("hz", "hz", _int_range(0, 2**31 - 1, clamp=(1, 500))),
        Param("timeout", "timeout", _int_range(0, 2**31 - 1)),
        # Replication. replicaof changes at run time only through REPLICAOF (as Redis).
        Param(
            "replicaof",
            "replicaof",
            _parse_replicaof,
            mutable=False,
            alias="slaveof",
            omit_default=True,
        ),
        Param("masterauth", "masterauth", str),
        Param("masteruser", "masteruser", str),
        Param(
            "replica-read-only",
            "replica_read_only",
            _only(True, "minikv replicas are read-only: replica-read-only must be 'yes'"),
            _yesno,
            alias="slave-read-only",
        ),
        Param(
            "replica-serve-stale-data",
            "replica_serve_stale_data",
            parse_bool,
            _yesno,
            alias="slave-serve-stale-data",
        ),
        Param(
            "replica-priority",
            "replica_priority",
            _int_range(0, 2**31 - 1),
            alias="slave-priority",
        ),
        Param("replica-announce-ip", "replica_announce_ip", str, alias="slave-announce-ip"),
        Param(
            "replica-announce-port",
            "replica_announce_port",
            _int_range(0, 65535),
            alias="slave-announce-port",
        ),
        Param("replica-announced", "replica_announced", parse_bool, _yesno),
        Param("repl-diskless-sync", "repl_diskless_sync", parse_bool, _yesno),
        Param("repl-diskless-sync-delay", "repl_diskless_sync_delay", _int_range(0, 2**31 - 1)),
        Param(
            "repl-diskless-sync-max-replicas",
            "repl_diskless_sync_max_replicas",
            _int_range(0, 2**31 - 1),
        ),
        Param(
            "repl-diskless-load",
            "repl_diskless_load",
            _enum("disabled", "on-empty-db", "swapdb"),
        ),
        Param(
            "repl-backlog-size",
            "repl_backlog_size",
            _int_range(1, 2**63 - 1, memory=True),
        ),
        Param("repl-backlog-ttl", "repl_backlog_ttl", _int_range(0, 2**63 - 1)),
        Param("repl-timeout", "repl_timeout", _int_range(1, 2**31 - 1)),
        Param(
            "repl-ping-replica-period",
            "repl_ping_replica_period",
            _int_range(1, 2**31 - 1),
            alias="repl-ping-slave-period",
        ),
        Param(
            "min-replicas-to-write",
            "min_replicas_to_write",
            _int_range(0, 2**31 - 1),
            alias="min-slaves-to-write",
        ),
        Param(
            "min-replicas-max-lag",
            "min_replicas_max_lag",
            _int_range(0, 2**31 - 1),
            alias="min-slaves-max-lag",
        ),
        Param(
            "enable-debug-command",
            "enable_debug_command",
            _enum("no", "yes", "local"),
            mutable=False,
        ),
        Param(
            "enable-protected-configs",
            "enable_protected_configs",
            _enum("no", "yes", "local"),
            mutable=False,
        ),
        Param("rdb-key-save-delay", "rdb_key_save_delay", _int_range(-(2**31), 2**31 - 1)),
        Param("daemonize", "daemonize", parse_bool, _yesno, mutable=False),
        Param("pidfile", "pidfile", str, mutable=False),
        Param("notify-keyspace-events", "notify_keyspace_events", _parse_notify, render_flags),
        Param("slowlog-log-slower-than", "slowlog_log_slower_than", _int_range(-1, 2**63 - 1)),
        Param("slowlog-max-len", "slowlog_max_len", _int_range(0, 2**63 - 1)),
        Param("latency-monitor-threshold", "latency_monitor_threshold", _int_range(0, 2**63 - 1)),
        Param("latency-tracking", "latency_tracking", parse_bool, _yesno),
        Param(
            "latency-tracking-info-percentiles",
            "latency_tracking_info_percentiles",
            _parse_percentiles,
            _render_percentiles,
        ),
        Param("maxmemory", "maxmemory", _int_range(0, 2**64 - 1, memory=True)),
        Param(
            "maxmemory-policy",
            "maxmemory_policy",
            _enum(*MAXMEMORY_POLICIES),
        ),
        Param("maxmemory-samples", "maxmemory_samples", _int_range(1, 2**31 - 1)),
        Param("maxmemory-eviction-tenacity", "maxmemory_eviction_tenacity", _int_range(0, 100)),
        Param("lfu-log-factor", "lfu_log_factor", _int_range(0, 2**31 - 1)),
        Param("lfu-decay-time", "lfu_decay_time", _int_range(0, 2**31 - 1)),
        Param(
            "maxmemory-clients",
            "maxmemory_clients",
            parse_memory_or_percent,
            render_memory_or_percent,
        ),
        Param("active-expire-effort", "active_expire_effort", _int_range(1, 10)),
        Param(
            "client-output-buffer-limit",
            "client_output_buffer_limit",
            parse_obuf_limits,
            render_obuf_limits,
            merge=True,
        ),
        *(
            Param(name, name.replace("-", "_"), parse, alias=alias)
            for name, alias, parse in [
                ("hash-max-listpack-entries", "hash-max-ziplist-entries", _SIZE),
                ("hash-max-listpack-value", "hash-max-ziplist-value", _SIZE_MEMORY),
                ("set-max-intset-entries", "", _SIZE),
                ("zset-max-listpack-entries", "zset-max-ziplist-entries", _SIZE),
                ("zset-max-listpack-value", "zset-max-ziplist-value", _SIZE_MEMORY),
                (
                    "list-max-listpack-size",
                    "list-max-ziplist-size",
                    _int_range(-(2**31), 2**31 - 1),
                ),
                ("list-compress-depth", "", _int_range(0, 2**31 - 1)),
                ("stream-node-max-bytes", "", _SIZE_MEMORY),
                ("stream-node-max-entries", "", _int_range(0, 2**63 - 1)),
                ("hll-sparse-max-bytes", "", _SIZE_MEMORY),
            ]
        ),
    ]
}
#: Every name CONFIG GET lists and CONFIG SET takes: primary names and aliases.
ALL_NAMES: dict[str, Param] = PARAMS | {p.alias: p for p in PARAMS.values() if p.alias}


def lookup_param(name: str) -> Param | None:
    return ALL_NAMES.get(name.lower())


def set_param(config: Config, name: str, value: str) -> None:
    p = lookup_param(name)
    if p is None:
        raise ConfigError("Bad directive or wrong number of arguments")
    setattr(config, p.attr, p.value(config, value))


def render_param(config: Config, p: Param) -> str:
    return p.render(getattr(config, p.attr))


# --- glob matching ------------------------------------------------------------------------------


# --- CONFIG GET / SET ---------------------------------------------------------------------------


def get_params(config: Config, pattern: str) -> dict[str, str]:
    """CONFIG GET of one argument: an exact name (reported as typed, as Redis does) or a glob
    matched case-insensitively against every name."""
    if not any(ch in pattern for ch in "[*?"):
        p = lookup_param(pattern)
        return {pattern: render_param(config, p)} if p is not None else {}
    return {
        name: render_param(config, p)
        for name, p in ALL_NAMES.items()
        if glob_match(pattern, name, nocase=True)
    }


def _allowed(setting: str, is_local: bool) -> bool:
    return setting == "yes" or (setting == "local" and is_local)


def config_set(config: Config, pairs: list[tuple[str, str]], is_local: bool = True) -> None:
    """CONFIG SET of several ``(name, value)`` pairs, all or nothing, as Redis 7.

    Raises ConfigError whose message is the complete Redis error text (without "ERR "). Order
    of checks as Redis: the first bad name (unknown, immutable, protected, duplicate) wins; then
    values are parsed in order; then live effects are applied; any failure restores every
    old value.
    """
    params: list[Param] = []
    names: list[str] = []  # as Redis names them in errors: an alias stays the alias
    for name, _ in pairs:
        p = lookup_param(name)
        if p is None:
            raise ConfigError(f"Unknown option or number of arguments for CONFIG SET - '{name}'")
        if not p.mutable:
            raise _set_failed(name, "can't set immutable config")
        if p.protected and not _allowed(config.enable_protected_configs, is_local):
            raise _set_failed(name, "can't set protected config")
        if p in params:
            raise _set_failed(name, "duplicate parameter")
        params.append(p)
        names.append(p.alias if name.lower() == p.alias else p.name)
    old = [getattr(config, p.attr) for p in params]

    def restore() -> None:
        for p, v in zip(params, old, strict=True):
            setattr(config, p.attr, v)

    for p, shown, (_, value) in zip(params, names, pairs, strict=True):
        try:
            setattr(config, p.attr, p.value(config, value))
        except ConfigError as e:
            restore()
            raise _set_failed(shown, e.message) from None
    applied: list[Callable[[Config], None]] = []
    for p in params:
        if p.apply is not None and p.apply not in applied:
            try:
                p.apply(config)
            except ConfigError as e:
                restore()
                for fn in applied:  # undo the effects already applied
                    fn(config)
                raise _set_failed(p.name, e.message) from None
            applied.append(p.apply)


def _set_failed(name: str, why: str) -> ConfigError:
    return ConfigError(f"CONFIG SET failed (possibly related to argument '{name}') - {why}")


# --- config files -------------------------------------------------------------------------------


def parse_config_text(
    config: Config,
    text: str,
    check_user: Callable[[list[str], list[list[str]]], None] | None = None,
) -> None:
    """Apply redis.conf lines (``name value...``; ``#`` comments; quoted values allowed).

    As in redis.conf, the first ``save`` line replaces the default save points and later ones
    add to them (``save ""`` clears them). ``check_user`` (minikv.acl's, given by the command
    line, which sits above the ACL) checks each ``user`` line against the earlier ones and
    raises ConfigError, so a bad one is reported with its line as Redis reports it.
    """
    saves: list[tuple[int, int]] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, posix=True)
        except ValueError:
            raise ConfigError("Unbalanced quotes in configuration line", line, lineno) from None
        name, args = words[0].lower(), words[1:]
        try:
            if name == "save":
                if args == [""]:
                    saves = []
                elif not args:
                    raise ConfigError("Invalid save parameters")
                else:
                    saves = (saves or []) + parse_save(" ".join(args))
                config.save = saves
                continue
            if name == "user" and args:
                # Loaded by minikv.acl when the server starts.
                if check_user is not None:
                    check_user(args, config.users)
                config.users.append(args)
                continue
            if lookup_param(name) is None or not args:
                raise ConfigError("Bad directive or wrong number of arguments")
            set_param(config, name, " ".join(args))
        except ConfigError as e:
            raise ConfigError(e.message, line, lineno) from None


def render_config_line(config: Config, p: Param) -> str:
    value = render_param(config, p)
    if p.name == "save":
        if not config.save:
            return 'save ""'
        return "\n".join(f"save {s} {c}" for s, c in config.save)
    if p.name == "bind":
        return "bind " + value
    if p.name == "client-output-buffer-limit":
        return "\n".join(
            f"{p.name} {'replica' if cls == 'slave' else cls} {h} {s} {secs}"
            for cls, (h, s, secs) in config.client_output_buffer_limit.items()
        )
    return f"{p.name} {_quote_conf(value)}"


def _quote_conf(v: str) -> str:
    if v and all(ch.isalnum() or ch in "-_./:@,+" for ch in v):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite_config_file(config: Config, users: list[str] | None = None) -> None:
    """CONFIG REWRITE: keep the file's comments and unknown lines, replace each parameter's
    lines with its current value, and append parameters that differ from the defaults, as
    Redis's rewriteConfig does. ``users`` are the ``user`` lines (minikv.acl renders them):
    they replace the file's, where the first one was (None: drop them, as with an aclfile).
    Raises OSError."""
    path = config.config_file
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    defaults = Config()
    written: set[str] = set()
    out: list[str] = []
    for raw in lines:
        stripped = raw.strip()
        if stripped.startswith("# Generated by CONFIG REWRITE"):
            continue
        if not stripped or stripped.startswith("#"):
            out.append(raw)
            continue
        word = stripped.split(None, 1)[0]
        if word.lower() == "user":
            if "user" not in written:
                out.extend(users or ())
                written.add("user")
            continue
        p = lookup_param(word)
        if p is None:
            out.append(raw)
        elif p.name not in written:  # an alias's line is rewritten under the primary name
            written.add(p.name)
            if p.omit_default and render_param(config, p) == render_param(defaults, p):
                continue
            out.append(render_config_line(config, p))
        # later duplicate lines of a parameter already written are dropped
    extra = [
        render_config_line(config, p)
        for name, p in PARAMS.items()
        if name not in written
        and p.attr != "dir"
        and render_param(config, p) != render_param(defaults, p)
    ]
    if "dir" not in written and os.path.abspath(defaults.dir) != config.dir:
        extra.append(render_config_line(config, PARAMS["dir"]))
    if "user" not in written:
        extra.extend(users or ())
    if extra:
        out.append("# Generated by CONFIG REWRITE")
        out.extend(extra)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
