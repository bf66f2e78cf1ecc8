"""The slow log: the last ``slowlog-max-len`` calls that took ``slowlog-log-slower-than``
microseconds or more (negative: off; 0: every call), newest first, as Redis's slowlog.c.

An entry keeps what SLOWLOG GET shows: an id, the unix time, the duration in microseconds,
the arguments (at most 32, the last replaced by "... (N more arguments)"; each at most 128
bytes, the rest replaced by "... (N more bytes)"), the client's address and name. Arguments
Redis redacts (passwords of AUTH, HELLO AUTH, MIGRATE AUTH/AUTH2, every argument of ACL
SETUSER, the values of CONFIG SET requirepass/masterauth/masteruser) are "(redacted)" here too:
``redacted`` is the one rule, shared with MONITOR.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

MAX_ARGC = 32
MAX_STRING = 128
REDACTED = b"(redacted)"
#: Redis's SENSITIVE_CONFIG parameters: CONFIG SET shows their values redacted.
_SENSITIVE = frozenset({b"requirepass", b"masterauth", b"masteruser"})


def redacted(name: str, args: list[bytes]) -> list[bytes]:
    """``args`` with the secrets Redis hides (redactClientCommandArgument) replaced."""
    if name == "auth":
        return [args[0]] + [REDACTED] * (len(args) - 1)
    if name == "hello":
        out = list(args)
        i = 2
        while i < len(out):
            opt = out[i].lower()
            if opt == b"auth" and len(out) - i - 1 >= 2:
                out[i + 1] = out[i + 2] = REDACTED
                i += 3
            elif opt == b"setname" and len(out) - i - 1 >= 1:
                i += 2
            else:
                break
        return out
    if name == "acl|setuser":
        return args[:2] + [REDACTED] * (len(args) - 2)
    if name == "config|set":
        out = list(args)
        for i in range(2, len(out) - 1, 2):
            if out[i].lower() in _SENSITIVE:
                out[i + 1] = REDACTED
        return out
    if name == "migrate":
        out = list(args)
        for i in range(6, len(out)):
            opt = out[i].lower()
            if opt == b"auth" and i + 1 < len(out):
                out[i + 1] = REDACTED
            elif opt == b"auth2" and i + 2 < len(out):
                out[i + 1] = out[i + 2] = REDACTED
            elif opt == b"keys":
                break
        return out
    return args


class SlowLog:
    def __init__(self) -> None:
        self.entries: deque[list[Any]] = deque()
        self.next_id = 0

    def push(
        self, args: list[bytes], usec: int, addr: str, name: bytes, max_len: int, cmd_name: str
    ) -> None:
        argv = redacted(cmd_name, args)
        if len(argv) > MAX_ARGC:
            kept = argv[: MAX_ARGC - 1]
            kept.append(b"... (%d more arguments)" % (len(argv) - MAX_ARGC + 1))
            argv = kept
        argv = [
            a if len(a) <= MAX_STRING else a[:MAX_STRING] + b"... (%d more bytes)" % (len(a) - 128)
            for a in argv
        ]
        entry = [self.next_id, int(time.time()), usec, argv, addr.encode(), name]
        self.next_id += 1
        self.entries.appendleft(entry)
        self.trim(max_len)

    def trim(self, max_len: int) -> None:
        while len(self.entries) > max_len:
            self.entries.pop()

    def get(self, count: int) -> list[list[Any]]:
        if count < 0:
            count = len(self.entries)
        return [e for _, e in zip(range(count), self.entries, strict=False)]

    def reset(self) -> None:
        self.entries.clear()
