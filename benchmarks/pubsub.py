"""PUBLISH throughput of minikv against redis-server, with 1 and 50 subscribers.

For each server (minikv and redis-server started on free ports, alternately, ``--repeat``
times) and each subscriber count: N raw-socket subscribers SUBSCRIBE to one channel, each
read by its own thread that counts the message frames it gets; one publisher sends
``--messages`` PUBLISH commands pipelined ``--pipeline`` deep. Reported: publishes per second
(until the publisher has every reply), deliveries per second (until every subscriber has every
message), and minikv/redis ratios of the medians. Nothing here asserts anything.

    python benchmarks/pubsub.py                       # 1 and 50 subscribers, 3 repeats
    python benchmarks/pubsub.py --subscribers 1,10,50 --messages 50000 --payload 100
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Server, resp


def _count_frames(sock: socket.socket, want: int, marker: bytes, done: threading.Event) -> None:
    """Read until ``want`` message frames (each holding ``marker``) have arrived."""
    seen = 0
    tail = b""
    while seen < want:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data = tail + chunk
        seen += data.count(marker)
        tail = data[-(len(marker) - 1) :]
    done.set()


def run_once(port: int, subscribers: int, messages: int, payload: bytes, pipeline: int) -> dict:
    channel = b"bench-channel"
    marker = b"$%d\r\n%b\r\n" % (len(channel), channel)  # in every message frame
    subs = []
    for _ in range(subscribers):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(resp(b"SUBSCRIBE", channel))
        got = b""
        while not got.endswith(b":1\r\n"):
            got += s.recv(4096)
        subs.append(s)
    done = [threading.Event() for _ in subs]
    # A frame also holds the channel once; the subscription reply was read already.
    threads = [
        threading.Thread(target=_count_frames, args=(s, messages, marker, d), daemon=True)
        for s, d in zip(subs, done, strict=True)
    ]
    for t in threads:
        t.start()
    pub = socket.create_connection(("127.0.0.1", port))
    batch = resp(b"PUBLISH", channel, payload) * pipeline
    t0 = time.perf_counter()
    sent = 0
    replies = 0
    buf = b""
    while sent < messages:
        n = min(pipeline, messages - sent)
        pub.sendall(batch if n == pipeline else resp(b"PUBLISH", channel, payload) * n)
        sent += n
        while replies < sent:
            buf += pub.recv(1 << 16)
            replies = buf.count(b"\r\n")
    t_pub = time.perf_counter() - t0
    for d in done:
        d.wait(120)
    t_all = time.perf_counter() - t0
    for s in [*subs, pub]:
        s.close()
    return {
        "publish_per_s": messages / t_pub,
        "deliveries_per_s": messages * subscribers / t_all,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subscribers", default="1,50")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--payload", type=int, default=32, help="message size in bytes")
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write the samples here")
    args = ap.parse_args()
    payload = b"x" * args.payload
    counts = [int(x) for x in args.subscribers.split(",")]
    samples: dict[str, dict[int, list[dict]]] = {"minikv": {}, "redis": {}}
    with tempfile.TemporaryDirectory() as work:
        servers = {kind: Server(kind, work) for kind in ("minikv", "redis")}
        for srv in servers.values():
            srv.start()
        try:
            for n in counts:
                for _ in range(args.repeat):
                    for kind, srv in servers.items():  # alternately: load bursts hit both
                        got = run_once(srv.port, n, args.messages, payload, args.pipeline)
                        samples[kind].setdefault(n, []).append(got)
        finally:
            for srv in servers.values():
                srv.stop()
    print(f"PUBLISH, {args.messages} messages of {args.payload} B, pipeline {args.pipeline}")
    print(f"{'subs':>5} {'server':>7} {'publish/s':>11} {'deliveries/s':>13}")
    for n in counts:
        med = {}
        for kind in ("minikv", "redis"):
            pub = statistics.median(s["publish_per_s"] for s in samples[kind][n])
            dlv = statistics.median(s["deliveries_per_s"] for s in samples[kind][n])
            med[kind] = (pub, dlv)
            print(f"{n:>5} {kind:>7} {pub:>11.0f} {dlv:>13.0f}")
        ratio_pub = med["minikv"][0] / med["redis"][0]
        ratio_dlv = med["minikv"][1] / med["redis"][1]
        print(f"{n:>5} {'ratio':>7} {ratio_pub:>11.2f} {ratio_dlv:>13.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(samples, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
