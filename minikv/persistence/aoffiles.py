"""The append-only file on disk: Redis 7's multi-part layout, its manifest, and the command log.

An append-only "file" is a directory (``appenddirname``) holding:

* one **base** file, ``<appendfilename>.<seq>.base.mkv``: a snapshot in minikv's own format
  (the role ``aof-use-rdb-preamble yes`` gives an RDB in Redis), written by the rewrite child;
* **incremental** files, ``<appendfilename>.<seq>.incr.aof``: the commands that changed the
  data after that base, as RESP arrays (the form ``minikv.propagation`` gives them);
* the **manifest**, ``<appendfilename>.manifest``, one line per file in Redis's own format
  (``file appendonly.aof.1.base.mkv seq 1 type b``), replaced only by temp file + fsync +
  rename + fsync of the directory, so a crash leaves the old manifest or the new one.

Files the manifest lists as **history** (type ``h``) are obsolete (a rewrite replaced them)
and deleted. This module knows files, not servers: it parses and writes manifests and reads
commands back with their offsets (``read_commands``), for loading and for
``minikv-check-aof``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import hiredis

BASE = "b"
HISTORY = "h"
INCR = "i"
BASE_SUFFIX = ".base.mkv"
INCR_SUFFIX = ".incr.aof"
MANIFEST_SUFFIX = ".manifest"
TEMP_PREFIX = "temp-"
MANIFEST_MAX_LINE = 1024  # Redis's: a longer line is an error


class ManifestError(Exception):
    """A manifest that does not parse: Redis's message, with the line it was found on."""

    def __init__(self, message: str, lineno: int = 0, line: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno
        self.line = line


@dataclass
class AofInfo:
    name: str
    seq: int
    type: str

    def line(self) -> str:
        return f"file {_quote(self.name)} seq {self.seq} type {self.type}\n"


@dataclass
class Manifest:
    """What the manifest says: the base, the incremental files in order, the history."""

    base: AofInfo | None = None
    incrs: list[AofInfo] = field(default_factory=list)
    history: list[AofInfo] = field(default_factory=list)
    base_seq: int = 0  # the highest base sequence number used
    incr_seq: int = 0  # the highest incremental sequence number used

    def copy(self) -> Manifest:
        return Manifest(
            self.base, list(self.incrs), list(self.history), self.base_seq, self.incr_seq
        )

    def render(self) -> bytes:
        """The manifest text, as Redis writes it: base, history, then incremental files."""
        items = ([self.base] if self.base else []) + self.history + self.incrs
        return "".join(i.line() for i in items).encode()

    def new_base(self, prefix: str) -> AofInfo:
        """A base for the next sequence number; the old base (if any) goes to history."""
        self.base_seq += 1
        if self.base is not None:
            self.history.append(AofInfo(self.base.name, self.base.seq, HISTORY))
        self.base = AofInfo(f"{prefix}.{self.base_seq}{BASE_SUFFIX}", self.base_seq, BASE)
        return self.base

    def new_incr(self, prefix: str) -> AofInfo:
        self.incr_seq += 1
        info = AofInfo(f"{prefix}.{self.incr_seq}{INCR_SUFFIX}", self.incr_seq, INCR)
        self.incrs.append(info)
        return info

    def incrs_to_history(self, keep: AofInfo | None) -> None:
        """After a rewrite: every incremental file but ``keep`` (the one written since the
        fork) is obsolete."""
        for info in self.incrs:
            if info is not keep:
                self.history.append(AofInfo(info.name, info.seq, HISTORY))
        self.incrs = [keep] if keep is not None else []

    def files(self) -> list[AofInfo]:
        """The files to load, in order: the base, then the incremental files."""
        return ([self.base] if self.base else []) + self.incrs

    @classmethod
    def parse(cls, text: bytes) -> Manifest:
        """Parse a manifest as Redis's aofLoadManifestFromFile; raises ManifestError."""
        m = cls()
        lines = text.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        else:
            # The last line has no newline: too long for Redis's fixed buffer, or torn.
            if len(lines) == 1 and lines[0] == b"":
                lines = []
            elif lines:
                raise ManifestError("The AOF manifest file contains too long line", len(lines), "")
        if not lines:
            raise ManifestError("Found an empty AOF manifest")
        for lineno, raw in enumerate(lines, 1):
            if raw.startswith(b"#"):
                continue
            if len(raw) + 1 > MANIFEST_MAX_LINE:
                raise ManifestError("The AOF manifest file contains too long line", lineno, "")
            line = raw.decode(errors="replace").strip(" \t\r\n")
            try:
                argv = _split_args(line)
            except ValueError:
                argv = []
            if not line or len(argv) < 6 or len(argv) % 2:
                raise ManifestError("Invalid AOF manifest file format", lineno, line)
            name, seq, ftype = "", 0, ""
            for k, v in zip(argv[::2], argv[1::2], strict=True):
                key = k.lower()
                if key == "file":
                    name = v
                    if os.path.basename(v) != v:
                        raise ManifestError("File can't be a path, just a filename", lineno, line)
                elif key == "seq":
                    seq = _atoll(v)
                elif key == "type":
                    ftype = v[:1]
            if not name or not seq or not ftype:
                raise ManifestError("Invalid AOF manifest file format", lineno, line)
            info = AofInfo(name, seq, ftype)
            if ftype == BASE:
                if m.base is not None:
                    raise ManifestError("Found duplicate base file information", lineno, line)
                m.base = info
                m.base_seq = seq
            elif ftype == HISTORY:
                m.history.append(info)
            elif ftype == INCR:
                if seq <= m.incr_seq:
                    raise ManifestError("Found a non-monotonic sequence number", lineno, line)
                m.incrs.append(info)
                m.incr_seq = seq
            else:
                raise ManifestError("Unknown AOF file type", lineno, line)
        return m


def manifest_name(prefix: str) -> str:
    return prefix + MANIFEST_SUFFIX


def load_manifest(directory: str, prefix: str) -> Manifest | None:
    """The manifest in ``directory``, or None if there is none (no AOF yet). Raises
    ManifestError for a bad one, OSError if it cannot be read."""
    path = os.path.join(directory, manifest_name(prefix))
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return Manifest.parse(text)


def fsync_dir(directory: str) -> None:
    """Make a rename (or a new file) in ``directory`` durable."""
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def persist_manifest(directory: str, prefix: str, manifest: Manifest) -> None:
    """Replace the manifest atomically: temp file, fsync, rename, fsync the directory. On
    any error the old manifest is untouched (and the temp file removed)."""
    tmp = os.path.join(directory, TEMP_PREFIX + manifest_name(prefix))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = manifest.render()
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(directory, manifest_name(prefix)))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


# --- the command log ------------------------------------------------------------------------------


def encode_argv(argv: list[bytes]) -> bytes:
    """One command as a RESP array of bulk strings (what the incremental files and the
    replication stream hold), packed by hiredis in C: the same bytes as a Python loop,
    in about 60 % of its time."""
    return hiredis.pack_command(tuple(argv))


class AofFormatError(Exception):
    """Not a command log: ``offset`` is where the bad command starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass
class Truncated:
    """The log ended in the middle of a command: the commands before ``offset`` are whole."""

    offset: int


READ_CHUNK = 1024 * 1024


def encoded_len(argv: list[bytes]) -> int:
    """The length of ``argv``'s canonical RESP encoding (``encode_argv``'s), computed."""
    n = 3 + len(str(len(argv)))
    for a in argv:
        la = len(a)
        n += 5 + len(str(la)) + la
    return n


def read_commands(path: str) -> Iterator[tuple[int, int, list[bytes]] | Truncated]:
    """The commands of an incremental file, each as (start offset, end offset, argv); a
    ``Truncated`` last if the file ends inside a command. Raises AofFormatError for bytes
    that are not a RESP array of bulk strings (naming the offset of the command they are in).

    hiredis parses; it does not say where a command ended, so offsets are computed from the
    canonical encoding (the only one minikv and Redis write). A file in another encoding
    (``*02``, say) is refused rather than truncated at a wrong offset: the offset of a torn
    tail is checked to be the start of an array."""
    reader = hiredis.Reader()
    fed = 0
    start = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(READ_CHUNK)
            if chunk:
                reader.feed(chunk)
                fed += len(chunk)
            while True:
                try:
                    item = reader.gets()
                except hiredis.ProtocolError as e:
                    raise AofFormatError(f"protocol error: {e}", start) from None
                if item is False:
                    break
                if (
                    not isinstance(item, list)
                    or not item
                    or not all(isinstance(a, bytes) for a in item)
                ):
                    raise AofFormatError("expected an array of bulk strings", start)
                end = start + encoded_len(item)
                if end > fed:
                    raise AofFormatError("not in canonical RESP encoding", start)
                yield start, end, item
                start = end
            if not chunk:
                break
        if start == fed:
            return
        f.seek(start)
        if f.read(1) != b"*":
            raise AofFormatError("not in canonical RESP encoding", start)
    yield Truncated(start)


# --- helpers ----------------------------------------------------------------------------------


def _atoll(s: str) -> int:
    """C's atoll: leading digits (with a sign), 0 when there are none."""
    i = 0
    s = s.lstrip()
    if s[:1] in ("-", "+"):
        i = 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return int(s[:j]) if j > i else 0


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._+")


def _quote(name: str) -> str:
    """A file name as Redis writes it in the manifest (sdscatrepr when it needs quoting)."""
    if name and all(ch in _SAFE for ch in name):
        return name
    out = ['"']
    for ch in name:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            out.append("".join(f"\\x{b:02x}" for b in ch.encode()))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


def _split_args(line: str) -> list[str]:
    """Redis's sdssplitargs: words separated by spaces, "double" quotes with escapes,
    'single' quotes; raises ValueError for unbalanced quotes."""
    out: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return out
        word: list[str] = []
        quote = line[i] if line[i] in "\"'" else ""
        if quote:
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unbalanced quotes")
                ch = line[i]
                if ch == "\\" and quote == '"' and i + 3 < n and line[i + 1] == "x":
                    try:
                        word.append(chr(int(line[i + 2 : i + 4], 16)))
                        i += 4
                        continue
                    except ValueError:
                        pass
                if ch == "\\" and i + 1 < n and (quote == '"' or line[i + 1] == "'"):
                    word.append(_ESCAPES.get(line[i + 1], line[i + 1]) if quote == '"' else "'")
                    i += 2
                    continue
                if ch == quote:
                    i += 1
                    if i < n and not line[i].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    break
                word.append(ch)
                i += 1
        else:
            while i < n and not line[i].isspace():
                word.append(line[i])
                i += 1
        out.append("".join(word))
