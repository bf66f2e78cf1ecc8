"""System checks that warn about settings which make fork snapshots fail or cost more.

At start-up, as Redis's ``linuxMemoryWarnings`` and ``checkTcpBacklogSettings`` do, the server logs
``WARNING <text>`` (Redis's texts) when:

* ``vm.overcommit_memory`` is not 1: with the heuristic (0) or strict (2) policy the kernel may
  refuse ``fork()`` for a large process although copy-on-write would need little memory;
* transparent huge pages are ``always``: each copy-on-write fault then copies 2 MiB instead of
  4 KiB. As Redis 7 (``disable-thp yes``), minikv first turns THP off for its own process with
  ``prctl(PR_SET_THP_DISABLE)`` and warns only if that fails;
* ``net.core.somaxconn`` is below the listen backlog (511).

Before each fork (and once at start-up, after the snapshot is loaded), ``fork_memory_warning``
compares the process's RSS with its cgroup's memory limit (a container's ``--memory``): a fork
may need up to twice the RSS while the data set is rewritten during a save, and past the limit
the kernel's OOM killer ends the child or the server. Redis has no such check; the text is ours.
``fork_headroom_warning`` does the same against the machine's ``MemAvailable``: if every page
the parent holds were copied while the child saves (the worst case: the whole data set
rewritten during the save), the copies must fit in the memory the system can still give.

Every function takes the paths it reads as parameters, so tests point them at temporary files.
A file that cannot be read skips its check, as in Redis.
"""

from __future__ import annotations

import logging
import os

from minikv.cow import bytes_to_human, rss_bytes

OVERCOMMIT_PATH = "/proc/sys/vm/overcommit_memory"
THP_PATH = "/sys/kernel/mm/transparent_hugepage/enabled"
SOMAXCONN_PATH = "/proc/sys/net/core/somaxconn"
CGROUP_ROOT = "/sys/fs/cgroup"
PROC_CGROUP = "/proc/self/cgroup"
MEMINFO_PATH = "/proc/meminfo"
#: The listen backlog the server asks for (Redis's tcp-backlog default).
TCP_BACKLOG = 511
#: cgroup v1 reports "no limit" as LONG_MAX rounded down to a page; anything this large is none.
_NO_LIMIT = 1 << 62
#: prctl option number from <linux/prctl.h> (Linux 3.5+).
PR_SET_THP_DISABLE = 41

# Redis's texts (syscheck.c), without the jemalloc sentence (minikv does not use jemalloc) and
# with the server's name in place of "Redis".
OVERCOMMIT_WARNING = (
    "Memory overcommit must be enabled! Without it, a background save or replication may fail "
    "under low memory condition. To fix this issue add 'vm.overcommit_memory = 1' to "
    "/etc/sysctl.conf and then reboot or run the command 'sysctl vm.overcommit_memory=1' for "
    "this to take effect."
)
THP_WARNING = (
    "You have Transparent Huge Pages (THP) support enabled in your kernel. This will create "
    "latency and memory usage issues with minikv. To fix this issue run the command 'echo "
    "madvise > /sys/kernel/mm/transparent_hugepage/enabled' as root, and add it to your "
    "/etc/rc.local in order to retain the setting after a reboot. minikv must be restarted "
    "after THP is disabled (set to 'madvise' or 'never')."
)


def _read_first_line(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None


def check_overcommit(path: str = OVERCOMMIT_PATH) -> str | None:
    """Redis's overcommit warning when ``vm.overcommit_memory`` is not 1, else None."""
    value = _read_first_line(path)
    if not value:
        return None
    try:
        mode = int(value.split()[0])
    except ValueError:
        return None
    return None if mode == 1 else OVERCOMMIT_WARNING


def thp_always(path: str = THP_PATH) -> bool:
    """True when transparent huge pages are ``[always]`` (the kernel marks the active mode)."""
    value = _read_first_line(path)
    return value is not None and "[always]" in value


def disable_thp_for_process() -> bool:
    """Turn THP off for this process and its future children (as Redis's ``THPDisable``)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def check_thp(path: str = THP_PATH, disable: bool = True) -> str | None:
    """Redis's THP warning when THP is ``always`` and could not be disabled for this process."""
    if not thp_always(path):
        return None
    if disable and disable_thp_for_process():
        return None
    return THP_WARNING


def check_somaxconn(path: str = SOMAXCONN_PATH, backlog: int = TCP_BACKLOG) -> str | None:
    """Redis's warning when the kernel caps the listen backlog below ours."""
    value = _read_first_line(path)
    try:
        somaxconn = int(value or "0")
    except ValueError:
        return None
    if 0 < somaxconn < backlog:
        return (
            f"The TCP backlog setting of {backlog} cannot be enforced because "
            f"/proc/sys/net/core/somaxconn is set to the lower value of {somaxconn}."
        )
    return None


def _cgroup_paths(proc_cgroup: str) -> tuple[str | None, str | None]:
    """This process's (v2 path, v1 memory-controller path) from /proc/self/cgroup."""
    v2 = v1 = None
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None, None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v2, v1


def _ancestors(path: str) -> list[str]:
    """ "/a/b" -> ["a/b", "a", ""]: the cgroup and every parent up to the mount's root."""
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]


def _limit_in(path: str) -> int | None:
    value = _read_first_line(path)
    if not value or value == "max":
        return None
    try:
        limit = int(value)
    except ValueError:
        return None
    return limit if 0 < limit < _NO_LIMIT else None


def cgroup_memory_limit(root: str = CGROUP_ROOT, proc_cgroup: str = PROC_CGROUP) -> int | None:
    """The memory limit in bytes that applies to this process, or None if there is none.

    The kernel enforces the limit of the cgroup and of each of its parents, so this is the
    lowest one found on the way up: cgroup v2 ``memory.max`` under ``root``, cgroup v1
    ``memory.limit_in_bytes`` under ``root/memory``. In a container the process's cgroup is
    usually the root of what is mounted (cgroup namespace, or a v1 mount of the container's own
    cgroup while /proc/self/cgroup still shows the host's path); the walk up covers both.
    """
    v2, v1 = _cgroup_paths(proc_cgroup)
    candidates: list[str] = []
    if v2 is not None:
        candidates += [os.path.join(root, p, "memory.max") for p in _ancestors(v2)]
    if v1 is not None:
        candidates += [
            os.path.join(root, "memory", p, "memory.limit_in_bytes") for p in _ancestors(v1)
        ]
    if not candidates:  # no /proc/self/cgroup: look at the mount roots only
        candidates = [
            os.path.join(root, "memory.max"),
            os.path.join(root, "memory", "memory.limit_in_bytes"),
        ]
    limits = [n for n in map(_limit_in, candidates) if n is not None]
    return min(limits) if limits else None


def fork_memory_warning(
    rss: int, root: str = CGROUP_ROOT, proc_cgroup: str = PROC_CGROUP
) -> str | None:
    """A warning when a fork could take this process past its cgroup's memory limit.

    In the worst case (the whole data set rewritten while the child saves) parent and child
    together hold twice the RSS, so the check is ``2 * rss > limit``."""
    limit = cgroup_memory_limit(root, proc_cgroup)
    if limit is None or rss <= 0 or 2 * rss <= limit:
        return None

    return (
        f"This process uses {bytes_to_human(rss)} of RSS and its cgroup's memory limit is "
        f"{bytes_to_human(limit)}. A background save forks, and if the data set is rewritten "
        f"while the child saves, copy-on-write can take up to twice the RSS "
        f"({bytes_to_human(2 * rss)}): past the limit the kernel's OOM killer ends the child or "
        f"the server. Raise the memory limit (docker run --memory, compose mem_limit) to at "
        f"least twice the RSS, or keep the data set smaller."
    )


def mem_available(meminfo: str = MEMINFO_PATH) -> int | None:
    """MemAvailable from /proc/meminfo in bytes (None if unreadable)."""
    try:
        with open(meminfo, "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def fork_headroom_warning(anon: int, meminfo: str = MEMINFO_PATH) -> str | None:
    """A warning when the system's available memory cannot absorb a fork's worst case: the
    child copying every anonymous page of the parent (``anon`` bytes) while it saves."""
    available = mem_available(meminfo)
    if available is None or anon <= 0 or anon <= available:
        return None
    return (
        f"This process holds {bytes_to_human(anon)} of anonymous memory and the system has "
        f"{bytes_to_human(available)} available (MemAvailable). If the data set is rewritten "
        f"while the child saves, copy-on-write can copy up to {bytes_to_human(anon)}, more "
        f"than the system can give: the kernel's OOM killer may end the child or the server. "
        f"Add memory or swap, lower maxmemory, or save when fewer writes arrive."
    )


def startup_warnings(
    rss: int = 0,
    overcommit_path: str = OVERCOMMIT_PATH,
    thp_path: str = THP_PATH,
    somaxconn_path: str = SOMAXCONN_PATH,
    cgroup_root: str = CGROUP_ROOT,
    proc_cgroup: str = PROC_CGROUP,
    disable_thp: bool = True,
) -> list[str]:
    """The lines to log at start-up, in Redis's order and with its prefixes ("WARNING:" for the
    backlog, "WARNING " for the memory checks)."""
    lines = []
    backlog = check_somaxconn(somaxconn_path)
    if backlog:
        lines.append("WARNING: " + backlog)
    for text in (
        check_overcommit(overcommit_path),
        check_thp(thp_path, disable_thp),
        fork_memory_warning(rss, cgroup_root, proc_cgroup),
    ):
        if text:
            lines.append("WARNING " + text)
    return lines


def log_startup_warnings(log: logging.Logger) -> None:
    """Log the start-up warnings at warning level (``#`` in the log), as Redis does."""

    for line in startup_warnings(rss_bytes()):
        log.warning("%s", line)
