"""CPU seconds to load many small hashes from a snapshot, in process, for one tree::

    PYTHONPATH=TREE python benchmarks/hash_load.py [--keys 300000] [--fields 2] [--repeat 5]

TREE is the checkout to measure (this tree, or a ``git worktree add`` of another commit): the
script imports ``minikv`` from ``PYTHONPATH`` and prints which one ran and its snapshot format.
The hashes are built as that tree's HSET stores them (a ``PackedHash`` where the tree has
``minikv.packedhash``, else a ``dict``), so each tree loads what its own writer writes. Two
figures, the best of ``--repeat`` runs, with the garbage collector off as loading runs:

- ``load_values``: turning one chunk of every key into in-memory values (the chunk decoded
  beforehand, untimed, by ``msgpack.unpackb`` as ``read_snapshot`` decodes it);
- ``load_file``: ``save_to_file`` then ``load_file`` of the keyspace (decoding, checking, the
  CRC, placing the keys into their shards).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from typing import Any

import msgpack
import msgspec

import minikv
from minikv.keyspace import Keyspace
from minikv.persistence import format as fmt
from minikv.persistence.snapshot import load_file, save_to_file

try:
    from minikv.packedhash import compact
except ImportError:  # a tree from before packed hashes: every hash is a dict

    def compact(h: Any) -> Any:
        return h


def hashes(n: int, fields: int) -> dict[bytes, Any]:
    return {
        b"key:%d" % i: compact({b"f%d" % j: b"v%d-%d" % (j, i) for j in range(fields)})
        for i in range(n)
    }


def best(f: Any, repeat: int) -> float:
    """The least CPU time ``f`` reports over ``repeat`` runs (``f`` times its own work)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        times.append(f())
        gc.enable()
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=300_000)
    ap.add_argument("--fields", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    print(f"minikv: {minikv.__file__}  FORMAT_VERSION {fmt.FORMAT_VERSION}")
    values = hashes(a.keys, a.fields)
    print(f"value type: {type(next(iter(values.values()))).__name__}")
    chunk = msgspec.msgpack.Encoder(enc_hook=fmt._enc_hook).encode(values)

    def one_chunk() -> float:
        data = msgpack.unpackb(chunk, strict_map_key=False, raw=False, ext_hook=fmt._ext_hook)
        t = time.process_time()
        fmt.load_values(data, fmt.FORMAT_VERSION)
        return time.process_time() - t

    print(f"load_values, one {a.keys:,}-key chunk: {best(one_chunk, a.repeat):.3f} s CPU")
    ks = Keyspace(16)
    db = ks.dbs[0]
    for k, v in values.items():
        db.set(k, v)
    del values
    directory = tempfile.mkdtemp()
    save_to_file(ks, directory, "dump.mkv", dbs=[0])
    path = os.path.join(directory, "dump.mkv")
    print(f"snapshot: {os.path.getsize(path) / 2**20:.1f} MB")
    del ks, db

    def whole_file() -> float:
        ks = Keyspace(16)
        t = time.process_time()
        load_file(ks, path)
        return time.process_time() - t

    print(f"load_file: {best(whole_file, a.repeat):.3f} s CPU")
    os.unlink(path)
    os.rmdir(directory)


if __name__ == "__main__":
    main()
