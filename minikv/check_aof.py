"""``minikv-check-aof [--fix] [--yes] MANIFEST|DIR|FILE``: verify an append-only file, like
redis-check-aof.

Given the manifest (or the directory holding it) every file it names is checked: the base as a
snapshot (checksum and key count), each incremental file as RESP commands. A single file is
checked by itself. Prints where each file is valid up to. With ``--fix`` the last incremental
file is truncated at its last whole command when its tail is torn or bad (asking first unless
``--yes``); corruption anywhere else cannot be fixed by cutting and is only reported. Exit
status 0 if everything is sound (or was fixed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from minikv.persistence.aoffiles import (
    BASE_SUFFIX,
    MANIFEST_SUFFIX,
    AofFormatError,
    Manifest,
    ManifestError,
    Truncated,
    read_commands,
)
from minikv.persistence.format import SnapshotError, read_snapshot


def check_base(path: str) -> str | None:
    """None if the snapshot is sound, else the problem."""
    try:
        _, chunks, finish = read_snapshot(path)
        for _ in chunks:
            pass
        finish()
    except (SnapshotError, OSError) as e:
        return str(e)
    return None


def check_incr(path: str) -> tuple[int, str | None]:
    """(offset the file is valid up to, the problem or None)."""
    valid = 0
    try:
        for item in read_commands(path):
            if isinstance(item, Truncated):
                return item.offset, "truncated in the middle of a command"
            _, valid, _ = item
    except AofFormatError as e:
        return e.offset, e.message
    except OSError as e:
        return 0, e.strerror or str(e)
    return valid, None


def _files(target: str) -> tuple[str, list[tuple[str, str]]]:
    """(directory, [(name, 'b'|'i')]) for a manifest, a directory or a single file."""
    if os.path.isdir(target):
        names = [n for n in os.listdir(target) if n.endswith(MANIFEST_SUFFIX)]
        names = [n for n in names if not n.startswith("temp-")]
        if len(names) != 1:
            raise ManifestError(f"expected one manifest in {target}, found {len(names)}")
        target = os.path.join(target, names[0])
    directory = os.path.dirname(os.path.abspath(target))
    if target.endswith(MANIFEST_SUFFIX):
        with open(target, "rb") as f:
            m = Manifest.parse(f.read())
        return directory, [(i.name, i.type) for i in m.files()]
    kind = "b" if target.endswith(BASE_SUFFIX) else "i"
    return directory, [(os.path.basename(target), kind)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="minikv-check-aof", description=__doc__)
    ap.add_argument("target", help="the manifest, the append-only directory, or one file")
    ap.add_argument("--fix", action="store_true", help="truncate a bad tail of the last file")
    ap.add_argument("--yes", action="store_true", help="do not ask before truncating")
    a = ap.parse_args(argv)
    try:
        directory, files = _files(a.target)
    except (ManifestError, OSError) as e:
        print(f"Invalid AOF manifest: {e}", file=sys.stderr)
        return 1
    ok = True
    for n, (name, kind) in enumerate(files):
        path = os.path.join(directory, name)
        last = n == len(files) - 1
        if kind == "b":
            problem = check_base(path)
            print(f"Checking base file {name}: {'OK' if problem is None else problem}")
            ok = ok and problem is None
            continue
        size = os.path.getsize(path) if os.path.exists(path) else 0
        valid, problem = check_incr(path)
        print(f"AOF analyzed: filename={name}, size={size}, ok_up_to={valid}, diff={size - valid}")
        if problem is None:
            print(f"AOF {name} is valid")
            continue
        print(f"AOF {name} is not valid at offset {valid}: {problem}")
        if not a.fix or not last:
            if a.fix:
                print("Only the last file can be fixed by truncating it.")
            ok = False
            continue
        if not a.yes:
            answer = input(
                f"This will shrink the AOF {name} from {size} bytes to {valid}. Continue? [y/N]: "
            )
            if answer.strip().lower() not in ("y", "yes"):
                print("Aborting...")
                ok = False
                continue
        os.truncate(path, valid)
        print("Successfully truncated AOF", name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
