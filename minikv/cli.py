"""``minikv-server [config-file] [--name value ...]``: builds a Config and runs the server.

Flags are redis-server's: any config parameter can be given as ``--name value`` (``--save ""``
disables snapshots); a first argument that is not a flag is a redis.conf-style file, which the
flags override.
"""

from __future__ import annotations

import sys

from minikv import REDIS_VERSION, __version__
from minikv import log as log
from minikv.config import PARAMS, Config, ConfigError, parse_config_text

USAGE = """Usage: minikv-server [/path/to/minikv.conf] [options]
       minikv-server -v or --version
       minikv-server -h or --help

Options are redis-server's configuration directives given as flags, e.g.:
  --port 6379 --bind 127.0.0.1 --dir /data --dbfilename dump.mkv
  --save "3600 1 300 100 60 10000"   (--save "" disables snapshots)
  --requirepass secret --maxclients 10000 --databases 16
  --loglevel notice --logfile /var/log/minikv.log
  --protected-mode yes --stop-writes-on-bgsave-error yes --enable-debug-command no

Known directives: """


def build_config(argv: list[str]) -> Config:
    config = Config()
    args = list(argv)
    if args and not args[0].startswith("--"):
        path = args.pop(0)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ConfigError(
                f"Fatal error, can't open config file '{path}': {e.strerror}"
            ) from None
        parse_config_text(config, text, path)
        config.config_file = path
    # Flags: "--name v1 v2 ..." up to the next "--"; joined as one config line.
    lines = []
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--"):
            raise ConfigError(f"Invalid argument '{a}'")
        name = a[2:]
        vals = []
        i += 1
        while i < len(args) and not args[i].startswith("--"):
            vals.append(args[i])
            i += 1
        if name == "save" and vals in ([], [""]):
            lines.append('save ""')
        else:
            lines.append(name + " " + " ".join(_quote(v) for v in vals))
    parse_config_text(config, "\n".join(lines), "command line")
    return config


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE + ", ".join(sorted(PARAMS)))
        return 0
    if argv and argv[0] in ("-v", "--version"):
        print(f"minikv server v={__version__} redis-compat={REDIS_VERSION}")
        return 0
    try:
        config = build_config(argv)
    except ConfigError as e:
        print(f"\n*** FATAL CONFIG FILE ERROR ***\n{e}", file=sys.stderr)
        return 1
    log.setup(config.loglevel, config.logfile)
    from minikv.server import run

    return run(config)
