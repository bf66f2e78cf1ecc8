"""The encoding thresholds the value containers read: when a small value grows into the
representation Redis uses for big ones (listpack -> hashtable, intset -> hashtable, listpack
-> skiplist, the size of a quicklist node).

The values are CONFIG parameters (``hash-max-listpack-entries``...), so they belong to the
server's ``Config``; the containers are given that object (``use``) and read it whenever they
decide, so a CONFIG SET takes effect on the next insertion with nothing pushed around. Before
``use`` (tests, benchmarks, ``minikv-check-snapshot``) they read a default ``Config``.
"""

from __future__ import annotations

from typing import Protocol

from minikv.config import Config


class EncodingLimits(Protocol):
    hash_max_listpack_entries: int
    hash_max_listpack_value: int
    set_max_intset_entries: int
    zset_max_listpack_entries: int
    zset_max_listpack_value: int
    list_max_listpack_size: int
    list_compress_depth: int
    stream_node_max_bytes: int
    stream_node_max_entries: int
    rdbcompression: bool  # DUMP payloads (minikv.persistence.dump)


#: What the containers read. A module global, not an argument: a container decides its
#: encoding on insertions deep inside its own methods, where no config is at hand.
current: EncodingLimits = Config()


def use(config: EncodingLimits) -> None:
    """Make the containers read ``config`` from now on (the server does this at start)."""
    global current
    current = config
