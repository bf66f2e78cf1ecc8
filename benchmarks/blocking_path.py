"""BLPOP on a non-empty list, pipelined 16 deep, through a real ``Client`` in-process (as
``profile_hotpath.py`` runs SET/GET): what a blocking command costs when it does not block.

Run under valgrind for instruction counts (deterministic), twice with different request
counts; the difference over the extra requests is the cost per request (see README.md):

    for n in 1600 6400; do PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \\
      --cachegrind-out-file=/dev/null .venv/bin/python benchmarks/blocking_path.py \\
      TREE $n blpop; done
"""

from __future__ import annotations

import sys
import time

PIPELINE = 16


def main() -> None:
    tree, n, test = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.path[:0] = [tree, tree + "/benchmarks"]
    import profile_hotpath as ph

    from minikv.protocol import encode_command

    _, client = ph.new_client()
    client.data_received(encode_command(b"RPUSH", b"q", *([b"xxx"] * (n + 10))))
    name = b"BLPOP" if test == "blpop" else b"LPOP"
    args = [b"q", b"0"] if test == "blpop" else [b"q"]
    chunk = encode_command(name, *args) * PIPELINE
    t0 = time.process_time()
    for _ in range(n // PIPELINE):
        client.data_received(chunk)
    print(f"{test}: {(time.process_time() - t0) / n * 1e9:.0f} ns/request (CPU)", file=sys.stderr)


if __name__ == "__main__":
    main()
