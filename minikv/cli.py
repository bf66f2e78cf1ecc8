"""``minikv-server [config-file] [--name value ...]``: builds a Config and runs the server.

Flags are redis-server's: any config parameter can be given as ``--name value`` (``--save ""``
disables snapshots); a first argument that is not a flag is a redis.conf-style file, which the
flags override (they are applied after it, as extra config lines, exactly as redis-server does).
A bad file or flag is a fatal error reported in Redis's format, with exit status 1.
"""

from __future__ import annotations

import os
import sys

from minikv import REDIS_VERSION, __version__, fastpath
from minikv import log as log
from minikv.config import PARAMS, Config, ConfigError, parse_config_text

USAGE = """Usage: minikv-server [/path/to/minikv.conf] [options]
       minikv-server -v or --version
       minikv-server -h or --help

Examples:
       minikv-server (run the server with default config)
       minikv-server /etc/minikv/6379.conf
       minikv-server --port 7777
       minikv-server /etc/minikv.conf --loglevel verbose --save "60 1000"

Options are redis-server's configuration directives given as flags, e.g.:
  --port 6379 --bind 127.0.0.1 --dir /data --dbfilename dump.mkv
  --save "3600 1 300 100 60 10000"   (--save "" disables snapshots)
  --requirepass secret --maxclients 10000 --databases 16
  --loglevel notice --logfile /var/log/minikv.log
  --protected-mode yes --stop-writes-on-bgsave-error yes --enable-debug-command no

Known directives: """


class FatalError(Exception):
    """A startup error that is not about one config line (e.g. an unreadable file)."""


def build_config(argv: list[str]) -> Config:
    """The Config for a command line. Raises ConfigError (bad line) or FatalError."""
    config = Config()
    args = list(argv)
    text = ""
    if args and not args[0].startswith("--"):
        path = args.pop(0)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise FatalError(
                f"Fatal error, can't open config file '{path}': {e.strerror}"
            ) from None
        # Absolute, because the server changes directory to `dir` and CONFIG REWRITE needs it.
        config.config_file = os.path.abspath(path)
    # Flags: "--name v1 v2 ..." up to the next "--"; each becomes one config line after the file.
    lines = []
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--") or a == "--":
            raise FatalError(f"Invalid argument '{a}': options must be given as --name value")
        name = a[2:]
        vals = []
        i += 1
        while i < len(args) and not args[i].startswith("--"):
            vals.append(args[i])
            i += 1
        if name.lower() == "save" and not vals:
            vals = [""]  # a bare --save means `save ""`, as redis-server 7 reads it
        lines.append(name + " " + " ".join(_quote(v) for v in vals))
    parse_config_text(config, text + "\n" + "\n".join(lines), _check_user)
    return config


def _check_user(words: list[str], earlier: list[list[str]]) -> None:
    """A config ``user`` line, checked as Redis checks it while reading the file."""
    from minikv.acl import RuleError, check_config_user
    from minikv.commands.catalog import load_all

    load_all()  # the rules name commands and categories of the table
    try:
        check_config_user(words, earlier)
    except RuleError as e:
        raise ConfigError(e.message) from None


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fatal_config_report(e: ConfigError) -> str:
    """Redis's report for a bad config line (file or flag)."""
    return (
        f"\n*** FATAL CONFIG FILE ERROR (minikv {__version__}, Redis {REDIS_VERSION}) ***\n"
        f"Reading the configuration file, at line {e.lineno}\n"
        f">>> '{e.line}'\n"
        f"{e.message}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE + ", ".join(sorted(PARAMS)))
        return 0
    if argv and argv[0] in ("-v", "--version"):
        print(
            f"minikv server v={__version__} redis-compat={REDIS_VERSION} "
            f"hot-path={fastpath.describe()}"
        )
        return 0
    try:
        config = build_config(argv)
    except ConfigError as e:
        print(fatal_config_report(e), file=sys.stderr)
        return 1
    except FatalError as e:
        print(str(e), file=sys.stderr)
        return 1
    try:
        os.chdir(config.dir)
    except OSError as e:
        print(f"Can't chdir to '{config.dir}': {e.strerror}", file=sys.stderr)
        return 1
    config.dir = os.getcwd()
    try:
        log.setup(config.loglevel, config.logfile)
    except OSError as e:
        print(f"Can't open the log file: {e.strerror}", file=sys.stderr)
        return 1
    if config.config_file:
        log.log.info("Configuration loaded")
    else:
        log.log.warning(
            "Warning: no config file specified, using the default config. In order to "
            "specify a config file use minikv-server /path/to/minikv.conf"
        )
    from minikv.server import run

    return run(config)
