"""Where a snapshot child's copied pages come from: an account by page, mapping and object.

Runs a real minikv server (``python -m minikv``, started through this file with two hooks),
fills it with ``DEBUG POPULATE <keys> key <size>`` (or ``--types``: the ``cow_by_type.py``
datasets through ``populate_typed``), and sends BGSAVE with no writes. The hooks, in the
server process only:

* ``os.fork`` forks twice: first a *witness* that stops itself at once (SIGSTOP) and so keeps
  the memory as it was at the fork, then the real saving child;
* ``childinfo.send`` stops the saving child (SIGSTOP) just before it sends its final report,
  so its memory can be read as it was when ``rdb_last_cow_size`` was sampled.

With both stopped, this script reads ``/proc/<pid>/pagemap`` (page-frame numbers; needs root)
of the server (P), the witness (W) and the child (C) for every mapping of C, and sorts each
of C's resident pages:

* **child wrote**: C's frame differs from W's (C took a copy, or faulted in a new page);
* **parent wrote**: C and W share a frame that P no longer has (P copied it: C's old page
  became private to C, so ``Private_Dirty`` counts it in the child, as Redis's does);
* **shared**: all three have the same frame.

For the pages the child wrote, the words that differ between W and C are attributed: inside a
pymalloc pool (a 16 KiB-aligned block of an arena, recognised by its header) to the pool header
or to the object in the block (its type read from the block's ``ob_type``, with or without the
16-byte GC header), in libpython's data to the nearest ELF symbol, elsewhere to the mapping.
Then both children are resumed. (The server's own ``rdb_last_cow_size`` of this run is lower
than usual: with the witness alive, the pages the parent copied are shared by two processes and
no longer count as private to the child. Without the witness they do: the table's "private"
total is the figure ``snapshot.py`` reads.)

    sudo python benchmarks/cow_pages.py                       # 1M x 100 B strings
    sudo python benchmarks/cow_pages.py --types mix --keys 1000000
    sudo python benchmarks/cow_pages.py --keys 300000 --top 40
    sudo python benchmarks/cow_pages.py --faults              # + write faults by C function
    sudo COW_PAGES_NO_SAVE=1 python benchmarks/cow_pages.py   # the floor: no snapshot written
    sudo COW_PAGES_STRINGS=1 python benchmarks/cow_pages.py   # name each str whose count moved
    sudo COW_PAGES_INFO=1 python benchmarks/cow_pages.py      # one INFO during the save

Linux only, as root (page-frame numbers in pagemap need CAP_SYS_ADMIN). ``--faults`` needs
perf and tracefs (``mount -t tracefs nodev /sys/kernel/tracing``); it kills the stopped child
after the account, so that BGSAVE fails.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PAGE = 4096
POOL = 16 * 1024  # pymalloc's POOL_SIZE in 3.11 (4 pages); pools are POOL-aligned in arenas
POOL_HEADER = 48  # sizeof(struct pool_header) on 64-bit
HOOK_ENV = "MINIKV_COW_PAGES_PIDS"


# --- the hooks, run inside the server ----------------------------------------------------------


def serve(argv: list[str]) -> None:
    """Run minikv with the witness fork and the stop-before-exit hook."""
    import runpy

    real_fork, real_exit, kill, getpid = os.fork, os._exit, os.kill, os.getpid
    pidfile = os.environ.pop(HOOK_ENV)
    saving = [False]

    def fork() -> int:
        witness = real_fork()
        if witness == 0:
            kill(getpid(), signal.SIGSTOP)
            real_exit(0)
        pid = real_fork()
        if pid == 0:
            saving[0] = True
            return 0
        with open(pidfile, "w") as f:
            f.write(f"{witness} {pid}\n")
        return pid

    from minikv.persistence import childinfo

    real_send = childinfo.send

    def send(fd: int, kind: int, *rest: Any) -> None:
        if saving[0] and kind == childinfo.FINAL:
            kill(getpid(), signal.SIGSTOP)  # just after the final COW sample
        real_send(fd, kind, *rest)

    os.fork = fork
    childinfo.send = send  # type: ignore[assignment]
    if os.environ.get("COW_PAGES_NO_SAVE"):  # the floor: a child that forks and reports only
        from minikv.persistence import snapshot

        snapshot.save_to_file = lambda *a, **k: 0  # type: ignore[assignment]
    sys.argv = ["minikv", *argv]
    runpy.run_module("minikv", run_name="__main__", alter_sys=True)


# --- reading another process ---------------------------------------------------------------------


class Proc:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pagemap = open(f"/proc/{pid}/pagemap", "rb")  # noqa: SIM115
        self.flags = open("/proc/kpageflags", "rb")  # noqa: SIM115
        self.mem = open(f"/proc/{pid}/mem", "rb")  # noqa: SIM115

    def frames(self, start: int, end: int) -> list[int]:
        """Frame number per page of [start, end), -1 where not resident."""
        self.pagemap.seek(start // PAGE * 8)
        raw = self.pagemap.read((end - start) // PAGE * 8)
        out = []
        for (v,) in struct.iter_unpack("<Q", raw):
            out.append(v & ((1 << 55) - 1) if v >> 63 else -1)
        return out

    def anon(self, frame: int) -> bool:
        """Whether the page frame is anonymous memory (KPF_ANON): a file page that was only
        read is shared with the page cache and never Private_Dirty."""
        self.flags.seek(frame * 8)
        (v,) = struct.unpack("<Q", self.flags.read(8))
        return bool(v >> 12 & 1)

    def read(self, addr: int, n: int) -> bytes:
        try:
            self.mem.seek(addr)
            return self.mem.read(n)
        except (OSError, ValueError, OverflowError):
            return b""

    def word(self, addr: int) -> int:
        b = self.read(addr, 8)
        return struct.unpack("<Q", b)[0] if len(b) == 8 else 0


def mappings(pid: int) -> list[tuple[int, int, str, str, int]]:
    """(start, end, perms, name, file offset) of each mapping."""
    out = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(None, 5)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        name = parts[5] if len(parts) > 5 else "[anon]"
        out.append((lo, hi, parts[1], name, int(parts[2], 16)))
    return out


class Symbols:
    """libpython's ELF symbols (nm), to name words written in its data and bss."""

    def __init__(self, path: str, base: int, kinds: str = "dDbBrR") -> None:
        self.addrs: list[int] = []
        self.names: list[str] = []
        rows = []
        for dynamic in ([], ["-D"]):  # the static table where present, else the dynamic one
            out = subprocess.run(
                ["nm", *dynamic, "--defined-only", path],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] in kinds:
                    rows.append((int(parts[0], 16) + base, parts[2]))
        rows.sort()
        self.addrs = [a for a, _ in rows]
        self.names = [n for _, n in rows]

    def name(self, addr: int) -> str:
        i = bisect.bisect_right(self.addrs, addr) - 1
        return self.names[i] if i >= 0 else "?"


class TypeNames:
    """Type of the object at an address in the witness (whose memory is the fork's)."""

    def __init__(self, w: Proc, type_type: int) -> None:
        self.w = w
        self.type_type = type_type
        self.cache: dict[int, str | None] = {}
        self.free: dict[tuple[int, int], set[int]] = {}

    def is_free(self, proc: Proc, pool: int, size: int, block: int) -> bool:
        key = (proc.pid, pool)
        if key not in self.free:
            self.free[key] = free_blocks(proc, pool, size)
        return block in self.free[key]

    def text(self, obj: int) -> str:
        """A compact ASCII str's text (3.11: data after the 48-byte PyASCIIObject)."""
        n = self.w.word(obj + 16)
        if not 0 < n < 200:
            return "?"
        return self.w.read(obj + 48, n).decode("ascii", "replace")

    def type_name(self, tp: int) -> str | None:
        if tp in self.cache:
            return self.cache[tp]
        name = None
        if tp and tp % 8 == 0:
            meta = self.w.word(tp + 8)
            # A type's type is ``type`` or a metatype whose own type is ``type``.
            if meta == self.type_type or (meta and self.w.word(meta + 8) == self.type_type):
                p = self.w.word(tp + 24)  # tp_name
                raw = self.w.read(p, 80) if p else b""
                name = raw.split(b"\0", 1)[0].decode("ascii", "replace") or None
        self.cache[tp] = name
        return name

    def object_at(self, block: int) -> tuple[str, int] | None:
        """(type name, offset of the PyObject in the block) for a block holding an object."""
        for head in (0, 16):  # no GC header, or PyGC_Head (2 words) first
            name = self.type_name(self.w.word(block + head + 8))
            if name is not None:
                return name, head
        return None


def free_blocks(proc: Proc, pool: int, size: int) -> set[int]:
    """Addresses of the blocks of a pool that are free in ``proc`` (its free list, and the
    blocks past ``nextoffset`` never handed out)."""
    hdr = proc.read(pool, POOL_HEADER)
    if len(hdr) < POOL_HEADER:
        return set()
    free = struct.unpack_from("<Q", hdr, 8)[0]
    nextoffset = struct.unpack_from("<I", hdr, 40)[0]
    out = set(range(pool + nextoffset, pool + POOL - size + 1, size))
    while free and pool <= free < pool + POOL and free not in out and len(out) < POOL:
        out.add(free)
        free = proc.word(free)
    return out


def pool_info(w: Proc, pool: int) -> int | None:
    """The block size of the pymalloc pool at ``pool`` (as the witness saw it), or None."""
    hdr = w.read(pool, POOL_HEADER)
    if len(hdr) < POOL_HEADER:
        return None
    count, _free, _next, _prev, arenaindex, szidx, nextoffset, maxnextoffset = struct.unpack(
        "<IxxxxQQQIIII", hdr
    )
    size = (szidx + 1) * 16
    if szidx >= 32 or arenaindex > 1 << 20 or maxnextoffset != POOL - size:
        return None
    if not POOL_HEADER <= nextoffset <= POOL or count > (POOL - POOL_HEADER) // size:
        return None
    return size


# --- the account ---------------------------------------------------------------------------------


def classify(
    p: Proc,
    w: Proc,
    c: Proc,
    cmaps: list[Any],
    libpython: str,
    syms: Symbols | None,
    types: TypeNames,
    top: int,
) -> None:
    by_map: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    # (writer, what) -> words changed, pages holding them
    words: collections.Counter[tuple[str, str]] = collections.Counter()
    pages_of: collections.Counter[tuple[str, str]] = collections.Counter()
    code_names: collections.Counter[str] = collections.Counter()
    # (writer, what the page holds) for the pages written with no net change
    held: collections.Counter[tuple[str, str]] = collections.Counter()
    for lo, hi, perms, name, _off in cmaps:
        label = name
        if name.startswith("/"):
            label = os.path.basename(name) + (" (rw)" if "w" in perms else " (ro)")
        elif name == "[anon]":
            label = "anon (arenas, large mallocs)"
        cf, wf, pf = c.frames(lo, hi), w.frames(lo, hi), p.frames(lo, hi)
        for i, (cv, wv, pv) in enumerate(zip(cf, wf, pf, strict=True)):
            if cv < 0:
                continue
            if cv == wv and cv == pv:
                by_map[label]["shared"] += 1
                continue
            if not c.anon(cv):  # a file page faulted in by the child: clean, shared
                by_map[label]["file page"] += 1
                continue
            addr = lo + i * PAGE
            if wv < 0:
                by_map[label]["child new page"] += 1
                continue
            if cv != wv:
                writer, other = "child", c
            else:  # C and W still share the fork's page: the parent copied it
                writer, other = "parent", p
            by_map[label][f"{writer} wrote"] += 1
            before, after = w.read(addr, PAGE), other.read(addr, PAGE)
            if len(before) != PAGE or len(after) != PAGE:
                continue
            seen: set[str] = set()
            for off in range(0, PAGE, 8):
                if before[off : off + 8] != after[off : off + 8]:
                    what = attribute(
                        w, other, addr + off, label, name == libpython, syms, types, code_names
                    )
                    words[writer, what] += 1
                    seen.add(what)
            if not seen:
                seen.add("no net change (a write undone, e.g. a refcount up and down)")
                held[writer, page_objects(w, addr, label, types)] += 1
            for what in seen:
                pages_of[writer, what] += 1
    print("\n## Pages of the child by mapping (4 KiB pages)\n")
    print("| mapping | child wrote | child new page | parent wrote | shared |")
    print("|---|---|---|---|---|")
    tot: collections.Counter[str] = collections.Counter()
    for label, cnt in sorted(by_map.items(), key=lambda kv: -kv[1]["child wrote"]):
        tot.update(cnt)
        if cnt["child wrote"] or cnt["parent wrote"] or cnt["child new page"]:
            print(
                f"| {label} | {cnt['child wrote']} | {cnt['child new page']} | "
                f"{cnt['parent wrote']} | {cnt['shared']} |"
            )
    print(
        f"| **total** | {tot['child wrote']} | {tot['child new page']} | {tot['parent wrote']} "
        f"| {tot['shared']} |"
    )
    private = tot["child wrote"] + tot["child new page"] + tot["parent wrote"]
    print(f"\nprivate to the child: {private} pages = {private * PAGE / 2**20:.2f} MB")
    for writer in ("child", "parent"):
        rows = sorted(
            ((what, n) for (wr, what), n in pages_of.items() if wr == writer),
            key=lambda kv: -kv[1],
        )
        print(f"\n## What the {writer} wrote (top {top}: pages holding a change, words)\n")
        print("| written | pages | words |")
        print("|---|---|---|")
        for what, n in rows[:top]:
            print(f"| {what} | {n} | {words[writer, what]} |")
        rest = rows[top:]
        if rest:
            print(f"| {len(rest)} more | {sum(n for _, n in rest)} | |")
    print("\n## Pages written with no net change, by what they hold at the fork\n")
    print("| writer | the page holds | pages |")
    print("|---|---|---|")
    for (writer, what), n in held.most_common(top):
        print(f"| {writer} | {what} | {n} |")
    print(
        "\ncode objects written (words):",
        ", ".join(f"{n} {k}" for k, n in code_names.most_common()),
    )


def page_objects(w: Proc, addr: int, label: str, types: TypeNames) -> str:
    """The live objects of a page at the fork, by type (most common first)."""
    if not (label.startswith("anon") or label == "[heap]"):
        return label
    pool = addr & ~(POOL - 1)
    size = pool_info(w, pool)
    if size is None:
        return f"{label}: malloc'd memory"
    counts: collections.Counter[str] = collections.Counter()
    first = pool + POOL_HEADER
    for block in range(first, pool + POOL - size + 1, size):
        if block + size <= addr or block >= addr + PAGE or types.is_free(w, pool, size, block):
            continue
        obj = types.object_at(block)
        counts[obj[0] if obj else "?"] += 1
    return f"{size} B blocks: " + ", ".join(f"{n} {t}" for t, n in counts.most_common(3))


def attribute(
    w: Proc,
    other: Proc,
    addr: int,
    label: str,
    in_lib: bool,
    syms: Symbols | None,
    types: TypeNames,
    code_names: collections.Counter[str],
) -> str:
    if label.startswith("anon") or label == "[heap]":
        pool = addr & ~(POOL - 1)
        size = pool_info(w, pool)
        if size is None:
            return f"{label}: malloc'd memory"
        off = addr - pool
        if off < POOL_HEADER:
            return "pymalloc pool header"
        block = pool + POOL_HEADER + (off - POOL_HEADER) // size * size
        free_before = types.is_free(w, pool, size, block)
        free_after = types.is_free(other, pool, size, block)
        if free_before and not free_after:
            return f"a new object in a block free at the fork ({size} B)"
        if free_after and not free_before:
            obj = types.object_at(block)
            return f"freed: {obj[0] if obj else '?'} ({size} B)"
        if free_before:
            return f"a free block ({size} B)"
        obj = types.object_at(block)
        if obj is None:
            return f"pymalloc block, no object ({size} B)"
        name, head = obj
        field = addr - block - head
        if name == "code":  # 3.11's PyCodeObject: which function, which part
            code_names[types.text(w.word(block + head + 128))] += 1
            return (
                "code: co_warmup"
                if field == 48
                else "code: bytecode"
                if field >= 184
                else (f"code +{field}")
            )
        part = {-16: "gc next", -8: "gc prev", 0: "refcount"}.get(field, f"+{field}")
        if name == "str" and field == 0 and os.environ.get("COW_PAGES_STRINGS"):
            return f"str (refcount) {types.text(block + head)!r}"
        return f"{name} ({part})"
    if in_lib and syms is not None:
        tname = types.type_name(w.word(addr + 8))
        if tname is not None:  # a static object's refcount (small ints, static strings)
            return f"libpython {syms.name(addr)}: {tname} refcount"
        return f"libpython {syms.name(addr)}"
    return label


def run(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import Server, populate, populate_typed

    work = tempfile.mkdtemp(prefix="cow-pages-")
    pidfile = os.path.join(work, "pids")
    srv = Server("minikv", work)
    srv.cmd = [sys.executable, __file__, "--serve", *srv.cmd[3:]]
    srv.env[HOOK_ENV] = pidfile
    srv.start()
    try:
        if args.types == "string":
            populate(srv, args.keys, args.value_size)
        else:
            populate_typed(srv, args.keys, args.value_size, args.types)
        time.sleep(args.settle)
        rss = int(srv.info("memory")["used_memory_rss"])
        perf = None
        if args.faults:
            data = os.path.join(work, "faults.data")
            assert srv.pid is not None
            perf = subprocess.Popen(
                [
                    "perf",
                    "record",
                    "-q",
                    "-o",
                    data,
                    "-e",
                    "exceptions:page_fault_user",
                    "-p",
                    str(srv.pid),
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # perf attached
        srv.client.execute_command("BGSAVE")
        if os.environ.get("COW_PAGES_INFO"):  # what one INFO (all sections) during the save adds
            time.sleep(0.1)
            srv.info()
        deadline = time.monotonic() + 300
        while not os.path.exists(pidfile) or not Path(pidfile).read_text().endswith("\n"):
            time.sleep(0.01)
        wpid, cpid = map(int, Path(pidfile).read_text().split())
        for pid in (wpid, cpid):
            while _state(pid) != "T":
                if time.monotonic() > deadline:
                    raise SystemExit("the child did not stop")
                time.sleep(0.02)
        assert srv.pid is not None
        p, w, c = Proc(srv.pid), Proc(wpid), Proc(cpid)
        cmaps = mappings(cpid)
        libpython = next((m[3] for m in cmaps if "libpython" in m[3]), "")
        syms = None
        type_type = 0
        if libpython:
            base = min(m[0] for m in cmaps if m[3] == libpython and m[4] == 0)
            syms = Symbols(libpython, base)
            type_type = syms.addrs[syms.names.index("PyType_Type")]
        print(f"keys {args.keys:,} ({args.types}), RSS before BGSAVE {rss / 2**20:.0f} MB")
        classify(p, w, c, cmaps, libpython, syms, TypeNames(w, type_type), args.top)
        os.kill(wpid, signal.SIGCONT)
        if perf is not None:
            # No fault after the final sample: the child dies here (BGSAVE then fails).
            os.kill(cpid, signal.SIGKILL)
            os.kill(cpid, signal.SIGCONT)
            time.sleep(0.5)
            perf.send_signal(signal.SIGINT)
            perf.wait()
            fault_account(os.path.join(work, "faults.data"), cpid, cmaps, args.top)
            return 0
        os.kill(cpid, signal.SIGCONT)
        while int(srv.info("persistence")["rdb_bgsave_in_progress"]):
            time.sleep(0.05)
        cow = int(srv.info("persistence")["rdb_last_cow_size"])
        print(f"\nrdb_last_cow_size (with the witness alive): {cow / 2**20:.2f} MB")
    finally:
        srv.stop()
    return 0


def fault_account(data: str, pid: int, cmaps: list[Any], top: int) -> None:
    """The child's write faults (``exceptions:page_fault_user`` with the write bit), by the
    function of the instruction that faulted (ELF symbols of the mapping it lies in)."""
    out = subprocess.run(
        ["perf", "script", "-i", data, "-F", "pid,trace"], capture_output=True, text=True
    ).stdout
    tables: dict[str, Symbols] = {}
    by_fn: collections.Counter[str] = collections.Counter()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0].split("/")[0] != str(pid):
            continue
        fields = dict(x.split("=", 1) for x in parts[1:] if "=" in x)
        if not int(fields.get("error_code", "0"), 16) & 2:
            continue  # a read fault
        ip = int(fields["ip"], 16)
        where = "?"
        for lo, hi, _perms, name, _off in cmaps:
            if lo <= ip < hi:
                where = name
                if name.startswith("/"):
                    if name not in tables:
                        base = min(m[0] - m[4] for m in cmaps if m[3] == name)
                        tables[name] = Symbols(name, base, kinds="tTwW")
                    where = f"{os.path.basename(name)}: {tables[name].name(ip)}"
                break
        by_fn[where] += 1
    print(f"\n## The child's write faults by faulting function ({sum(by_fn.values())})\n")
    print("| function | faults |")
    print("|---|---|")
    for fn, n in by_fn.most_common(top):
        print(f"| {fn} | {n} |")


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    return stat[stat.rindex(")") + 2]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--types", default="string", help="string, hash, set, list, zset or mix")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds idle before BGSAVE")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument(
        "--faults",
        action="store_true",
        help="also record the child's page faults with perf (exceptions:page_fault_user; "
        "tracefs mounted) and count its write faults by faulting function",
    )
    return run(ap.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
