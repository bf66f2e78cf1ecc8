"""What ACL costs per request, in-process: ``Client._run`` over batches of 16 pipelined SET,
GET and INCR (what ``redis-benchmark -P 16`` sends), for a client of the default user (every
command, key and channel: the dispatcher's fast path) and for one of a user limited to
``~key:* ~counter`` (the slow path with the permission check), plus the check alone.

    PYTHONPATH=. python benchmarks/acl.py [--rounds 15]

No sockets: the transport is a stub that drops the replies, so the figures are the
dispatcher's and the handlers' time, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from minikv.commands import lookup
from minikv.config import Config
from minikv.connection import Client
from minikv.server import Server


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def get_extra_info(self, key: str) -> Any:
        return ("127.0.0.1", 1)

    def set_write_buffer_limits(self, **kw: int) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def best_ns(fn: Any, calls: int, per: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls / per * 1e9)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    opts = ap.parse_args()
    cfg = Config()
    cfg.save = []
    srv = Server(cfg)
    client = Client(srv)
    client.connection_made(_Transport())  # type: ignore[arg-type]
    batches = {
        "SET": [[b"SET", b"key:%d" % i, b"xxx"] for i in range(16)],
        "GET": [[b"GET", b"key:%d" % i] for i in range(16)],
        "INCR": [[b"INCR", b"counter"] for _ in range(16)],
    }
    limited, _ = srv.acl.set_user(b"app", [b"on", b"nopass", b"~key:*", b"~counter", b"+@all"])
    for label, user in (("default user", srv.acl.default), ("~key:* user", limited)):
        client.user = user
        for name, batch in batches.items():
            ns = best_ns(lambda b=batch: client._run(b), 3000, 16, opts.rounds)
            print(f"{label:14} {name:5} {ns:7.0f} ns/request")
    args = [b"SET", b"key:1", b"xxx"]
    cmd = lookup(args)
    assert cmd is not None
    ns = best_ns(lambda: limited.check(cmd, args), 100_000, 1, opts.rounds)
    print(f"User.check of SET key:1 for the ~key:* user: {ns:.0f} ns")


if __name__ == "__main__":
    main()
