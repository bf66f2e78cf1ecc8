"""Logging in Redis's format: ``pid:role dd Mon yyyy hh:mm:ss.mmm <level> message``.

Role is ``M`` in the server and ``C`` in a forked snapshot child, as in Redis; level marks are
Redis's (``.`` debug, ``-`` verbose, ``*`` notice, ``#`` warning).
"""

from __future__ import annotations

import logging
import os
import sys
import time

_LEVELS = {
    "debug": logging.DEBUG,
    "verbose": 15,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "nothing": logging.CRITICAL + 10,
}
_MARKS = {logging.DEBUG: ".", 15: "-", logging.INFO: "*", logging.WARNING: "#"}

logging.addLevelName(15, "VERBOSE")


class RedisFormatter(logging.Formatter):
    role = "M"

    def format(self, record: logging.LogRecord) -> str:
        t = record.created
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"
        mark = _MARKS.get(record.levelno, "#")
        return f"{os.getpid()}:{self.role} {stamp} {mark} {record.getMessage()}"


_formatter = RedisFormatter()
log = logging.getLogger("minikv")


def setup(level: str = "notice", logfile: str = "") -> None:
    log.handlers.clear()
    handler: logging.Handler
    handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stdout)
    handler.setFormatter(_formatter)
    log.addHandler(handler)
    log.setLevel(_LEVELS.get(level, logging.INFO))
    log.propagate = False


def set_level(level: str) -> None:
    log.setLevel(_LEVELS.get(level, logging.INFO))


def set_role(role: str) -> None:
    """``C`` in a forked child, ``M`` in the server."""
    RedisFormatter.role = role
