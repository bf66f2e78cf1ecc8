"""One typed configuration, with Redis's parameter names.

``Config`` holds every setting. ``PARAMS`` describes each one once (its redis.conf name, how to
parse and render it, whether CONFIG SET may change it at run time) and is used by the config file
reader, the command line and CONFIG GET/SET alike.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    pass


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
    maxclients: int = 10000
    databases: int = 16
    loglevel: str = "notice"
    logfile: str = ""
    protected_mode: bool = True
    stop_writes_on_bgsave_error: bool = True
    rdbchecksum: bool = True
    appendonly: bool = False
    proto_max_bulk_len: int = 512 * 1024 * 1024
    client_query_buffer_limit: int = 1024 * 1024 * 1024
    hz: int = 10
    timeout: int = 0
    enable_debug_command: str = "no"
    daemonize: bool = False
    pidfile: str = ""
    config_file: str = ""


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
    parts = text.split()
    if len(parts) % 2:
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


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = parse_memory(text)
        except ValueError:
            raise ConfigError("argument couldn't be parsed into an integer") from None
        if not lo <= v <= hi:
            raise ConfigError(f"argument must be between {lo} and {hi} inclusive")
        return v

    return parse


@dataclass(frozen=True)
class Param:
    name: str  # redis.conf name
    attr: str  # Config attribute
    parse: Callable[[str], Any]
    render: Callable[[Any], str] = str
    mutable: bool = True
    # CONFIG SET of a multi-word value (save "900 1 300 10") is one argument.


def _yesno(v: bool) -> str:
    return "yes" if v else "no"


PARAMS: dict[str, Param] = {
    p.name: p
    for p in [
        Param("port", "port", _int_range(0, 65535), mutable=False),
        Param("bind", "bind", lambda s: s.split(), " ".join, mutable=False),
        Param("dir", "dir", str),
        Param("dbfilename", "dbfilename", str),
        Param("save", "save", parse_save, render_save),
        Param("requirepass", "requirepass", str),
        Param("maxclients", "maxclients", _int_range(1, 2**31 - 1)),
        Param("databases", "databases", _int_range(1, 2**31 - 1), mutable=False),
        Param("loglevel", "loglevel", _enum("debug", "verbose", "notice", "warning", "nothing")),
        Param("logfile", "logfile", str, mutable=False),
        Param("protected-mode", "protected_mode", parse_bool, _yesno),
        Param("stop-writes-on-bgsave-error", "stop_writes_on_bgsave_error", parse_bool, _yesno),
        Param("rdbchecksum", "rdbchecksum", parse_bool, _yesno),
        Param("appendonly", "appendonly", parse_bool, _yesno),
        Param("proto-max-bulk-len", "proto_max_bulk_len", _int_range(1024 * 1024, 2**63 - 1)),
        Param(
            "client-query-buffer-limit",
            "client_query_buffer_limit",
            _int_range(1024 * 1024, 2**63 - 1),
        ),
        Param("hz", "hz", _int_range(1, 500)),
        Param("timeout", "timeout", _int_range(0, 2**31 - 1)),
        Param(
            "enable-debug-command",
            "enable_debug_command",
            _enum("no", "yes", "local"),
            mutable=False,
        ),
        Param("daemonize", "daemonize", parse_bool, _yesno, mutable=False),
        Param("pidfile", "pidfile", str, mutable=False),
    ]
}


def set_param(config: Config, name: str, value: str) -> None:
    p = PARAMS.get(name.lower())
    if p is None:
        raise ConfigError(f"Bad directive or wrong number of arguments: {name}")
    setattr(config, p.attr, p.parse(value))


def get_params(config: Config, pattern: str) -> dict[str, str]:
    """CONFIG GET: every parameter whose name matches the glob ``pattern``."""
    pat = pattern.lower()
    out = {}
    for name, p in PARAMS.items():
        if fnmatch.fnmatchcase(name, pat):
            out[name] = p.render(getattr(config, p.attr))
    return out


def parse_config_text(config: Config, text: str, source: str = "config") -> None:
    """Apply redis.conf lines (``name value...``; ``#`` comments; quoted values allowed).

    As in redis.conf, the first ``save`` line replaces the default save points and later ones
    add to them.
    """
    saves: list[tuple[int, int]] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, posix=True)
        except ValueError as e:
            raise ConfigError(f"{source}:{lineno}: {e}") from None
        name, args = words[0].lower(), words[1:]
        if name == "save":
            if args in ([], [""]):
                saves = []
            else:
                try:
                    saves = (saves or []) + parse_save(" ".join(args))
                except ConfigError as e:
                    raise ConfigError(f"{source}:{lineno}: save: {e}") from None
            config.save = saves
            continue
        if name not in PARAMS:
            raise ConfigError(f"{source}:{lineno}: Bad directive or wrong number of arguments")
        try:
            set_param(config, name, " ".join(args))
        except (ConfigError, ValueError) as e:
            raise ConfigError(f"{source}:{lineno}: {name}: {e}") from None
