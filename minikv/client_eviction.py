"""maxmemory-clients: client eviction, as Redis 7.0's (networking.c ``evictClients``).

When the memory every normal and pub/sub client holds (each client's ``memory_usage``: what
CLIENT LIST shows as ``tot-mem``) reaches the limit, the biggest evictable clients are closed,
biggest first, until the total is under it again; each is logged ("Evicting client: ...") and
counted in INFO stats ``evicted_clients``. Replicas, the primary's link and clients that set
CLIENT NO-EVICT ON are never evicted (but still count towards the total, as in Redis).

The limit is ``maxmemory-clients`` bytes, or a percentage of ``maxmemory`` (stored negative;
no limit while maxmemory is 0), never under 128 KB (a limit so small that no client could talk
to the server would lock everyone out).

Redis checks before every command and before each event-loop sleep. minikv checks at the end
of an event-loop turn in which a client's unsent output passed the transport's high-water
mark or pub/sub messages were queued (``Server.check_client_memory``), and at every cron tick
(``hz``): the request path itself pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Redis's floor for the limit (getClientEvictionLimit).
MIN_LIMIT = 128 * 1024
#: getClientType: the client types client eviction applies to (MONITOR clients are normal).
EVICTABLE_KINDS = frozenset({"normal", "pubsub"})


def eviction_limit(maxmemory_clients: int, maxmemory: int) -> int:
    """The limit in bytes for the current settings (0: client eviction is off)."""
    if maxmemory_clients < 0:
        if maxmemory == 0:
            return 0
        limit = int(maxmemory * -maxmemory_clients / 100)
    else:
        limit = maxmemory_clients
    return max(limit, MIN_LIMIT) if limit else 0


def evict_clients(clients: Iterable[Any], limit: int, log: Any) -> int:
    """Close the biggest evictable clients while the normal and pub/sub clients together
    hold ``limit`` bytes or more; returns how many were closed (``Client.evict`` closes one)."""
    total = 0
    candidates: list[tuple[int, Any]] = []
    for c in clients:
        if c.kind not in EVICTABLE_KINDS or c.closed:
            continue
        used = c.memory_usage()[1]
        total += used
        if not c.no_evict:
            candidates.append((used, c))
    if total < limit:
        return 0
    candidates.sort(key=_first, reverse=True)
    evicted = 0
    for used, c in candidates:
        log.info("Evicting client: %s", c.info_line())
        c.evict()
        evicted += 1
        total -= used
        if total < limit:
            return evicted
    log.warning("Over client maxmemory after evicting all evictable clients")
    return evicted


def _first(entry: tuple[int, Any]) -> int:
    return entry[0]
