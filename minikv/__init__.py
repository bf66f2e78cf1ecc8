"""minikv: a Redis-compatible key-value server in Python.

The package is laid out in layers: ``protocol`` (RESP framing, no I/O), ``connection``
(one asyncio.Protocol per client), ``commands`` (one table of commands and their handlers),
``keyspace`` (the data, knowing nothing of sockets) and ``server`` (listening, timers, shutdown).
"""

__version__ = "0.1.0"

#: The Redis release whose behaviour (replies, error texts, INFO fields) minikv follows.
REDIS_VERSION = "7.0.15"
