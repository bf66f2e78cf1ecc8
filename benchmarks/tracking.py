"""GET throughput of one RESP3 connection pipelining 16 requests, with CLIENT TRACKING off and
on (each read then enters the tracking table): what tracking costs the client that uses it.

    python benchmarks/tracking.py PORT [REQUESTS]
"""

from __future__ import annotations

import socket
import sys
import time


def enc(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


def run(port: int, track: bool, n: int, pipeline: int = 16) -> float:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(enc(b"HELLO", b"3"))
    s.recv(65536)
    if track:
        s.sendall(enc(b"CLIENT", b"TRACKING", b"on"))
        s.recv(100)
    batch = b"".join(enc(b"GET", b"k%d" % (i % 1000)) for i in range(pipeline))
    reply_len = len(b"_\r\n") * pipeline  # the keys do not exist: RESP3 nulls
    t = time.perf_counter()
    for _ in range(n // pipeline):
        s.sendall(batch)
        got = 0
        while got < reply_len:
            got += len(s.recv(65536))
    elapsed = time.perf_counter() - t
    s.close()
    return n / elapsed


def main() -> None:
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    for track in (False, True, False, True):
        print("tracking" if track else "off     ", f"{run(port, track, n):,.0f} GET/s")


if __name__ == "__main__":
    main()
