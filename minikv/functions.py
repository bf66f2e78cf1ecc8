"""Redis 7 functions: the libraries FUNCTION LOAD creates and the functions FCALL calls.

A library is the code FUNCTION LOAD was given: a ``#!lua name=<library>`` line, then Lua that
registers the library's functions with ``redis.register_function`` when it runs, once, at load.
``Functions`` is the registry (Redis's functionsLibCtx): libraries by name (case-sensitive) and
functions by name across every library (compared without case, as Redis's dict does, so two
libraries can never both have ``f`` and ``F``). It keeps Redis's order of checks, and so its
error replies, for load, replace, delete, flush, dump and restore; a failed load or restore
leaves the registry exactly as it was.

Running Lua is not done here: the engine (``minikv.scripting.Scripting``, whose second Lua
interpreter holds the functions, as Redis keeps one beside EVAL's) compiles and runs a
library's code and fills ``Library.functions`` from its register_function calls.

Libraries are data: snapshots hold their codes (``codes``/``restore_codes``), FUNCTION DUMP
gives them in Redis's own payload format (``minikv.persistence.dump``), and the commands that
change them count as writes (the dirty counter, propagation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minikv.parsing import compile_pattern
from minikv.persistence import dump
from minikv.protocol import ProtocolError, ReplyError, parse_inline

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The RDB opcodes of a library in a payload: the 7.0 one (just the code), and the one of
#: 7.0's release candidates (name, engine, description, code), which Redis still reads.
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION_PRE_GA = 246

ENGINE = "LUA"
#: Milliseconds a library's code may run at FUNCTION LOAD (Redis's LOAD_TIMEOUT_MS).
LOAD_TIMEOUT_MS = 500

BAD_NAME = ReplyError(
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
    "least one character long"
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def valid_name(name: str) -> bool:
    """Redis's functionsVerifyName, for library and function names."""
    return bool(name) and all(ch in _NAME_CHARS for ch in name)


@dataclass(eq=False, slots=True)
class Function:
    name: str
    library: Library
    #: The Lua function (a reference the interpreter keeps alive while this object lives).
    fn: Any
    flags: int
    description: bytes | None


@dataclass(eq=False, slots=True)
class Library:
    name: str
    #: The code as FUNCTION LOAD was given it, shebang line included.
    code: bytes
    #: In registration order; names compared with case here, as Redis's per-library dict.
    functions: dict[str, Function] = field(default_factory=dict)


def parse_metadata(code: bytes) -> tuple[str, str, bytes]:
    """(library name, engine, body) of a library's code, as Redis's
    functionExtractLibMetaData. The body keeps the shebang's newline, so that error lines
    are the user's."""
    if not code.startswith(b"#!"):
        raise ReplyError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise ReplyError("ERR Invalid library metadata")
    try:
        parts = parse_inline(code[:end])
    except ProtocolError:
        parts = []
    if not parts:
        raise ReplyError("ERR Invalid library metadata")
    engine = parts[0][2:].decode(errors="replace")
    name: str | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise ReplyError(
                    "ERR Invalid metadata value, name argument was given multiple times"
                )
            name = part[5:].decode(errors="replace")
            continue
        raise ReplyError(f"ERR Invalid metadata value given: {part.decode(errors='replace')}")
    if name is None:
        raise ReplyError("ERR Library name was not given")
    return name, engine, code[end:]


class Engine:
    """What the registry needs from the Lua side (``minikv.scripting.Scripting``)."""

    def load_library(self, library: Library, body: bytes, timeout_ms: int) -> None:
        """Run ``body`` in the load environment, adding what it registers to
        ``library.functions``; ReplyError ("Error compiling function: ...", "Error
        registering functions: ...") if it fails."""
        raise NotImplementedError


class Functions:
    """Every library and function of the server."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.libraries: dict[str, Library] = {}
        #: Lower-cased function name -> function, over every library.
        self.functions: dict[str, Function] = {}

    @property
    def cache_bytes(self) -> int:
        """What the registry holds besides the interpreter (INFO used_memory_functions): the
        codes, names and descriptions, and an estimate of the entries holding them."""
        return sum(
            100
            + len(lib.code)
            + sum(60 + len(n) + len(f.description or b"") for n, f in lib.functions.items())
            for lib in self.libraries.values()
        )

    def get(self, name: bytes) -> Function | None:
        return self.functions.get(name.decode(errors="replace").lower())

    def _link(self, lib: Library) -> None:
        self.libraries[lib.name] = lib
        for name, fn in lib.functions.items():
            self.functions.setdefault(name.lower(), fn)

    def _unlink(self, lib: Library) -> None:
        del self.libraries[lib.name]
        for name in lib.functions:
            key = name.lower()
            if self.functions.get(key) is lib.functions[name]:
                del self.functions[key]

    def _collision(self, lib: Library) -> ReplyError | None:
        for name in lib.functions:
            if name.lower() in self.functions:
                return ReplyError(f"ERR Function {name} already exists")
        return None

    def load(self, code: bytes, replace: bool = False, timeout_ms: int = LOAD_TIMEOUT_MS) -> str:
        """FUNCTION LOAD [REPLACE]: create (or replace) the library of ``code``; its name."""
        name, engine, body = parse_metadata(code)
        if not valid_name(name):
            raise BAD_NAME
        if engine.upper() != ENGINE:
            raise ReplyError(f"ERR Engine '{engine}' not found")
        lib = Library(name, code)
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise ReplyError(f"ERR Library '{lib.name}' already exists")
        if old is not None:
            self._unlink(old)
        try:
            self.engine.load_library(lib, body, timeout_ms)
            if not lib.functions:
                raise ReplyError("ERR No functions registered")
            err = self._collision(lib)
            if err is not None:
                raise err
        except BaseException:
            if old is not None:
                self._link(old)
            raise
        self._link(lib)
        return lib.name

    def delete(self, name: bytes) -> None:
        lib = self.libraries.get(name.decode(errors="replace"))
        if lib is None:
            raise ReplyError("ERR Library not found")
        self._unlink(lib)

    def flush(self) -> None:
        self.libraries.clear()
        self.functions.clear()

    def matching(self, pattern: bytes | None) -> Iterator[Library]:
        """The libraries FUNCTION LIST shows: all, or those whose name matches ``pattern``
        (stringmatchlen without case)."""
        match = compile_pattern(pattern.lower()) if pattern is not None else None
        for lib in self.libraries.values():
            if match is None or match(lib.name.lower().encode()):
                yield lib

    # --- as data: snapshots, DUMP and RESTORE ----------------------------------------------

    def codes(self) -> list[bytes]:
        """The code of every library, in order (what a snapshot keeps)."""
        return [lib.code for lib in self.libraries.values()]

    def restore_codes(self, codes: list[bytes]) -> None:
        """Load a snapshot's libraries, with no time limit, replacing those of the same name
        (DEBUG RELOAD MERGE), as Redis loads an RDB's; ReplyError if one fails."""
        for code in codes:
            self.load(code, replace=True, timeout_ms=0)

    def dump(self) -> bytes:
        """FUNCTION DUMP: Redis's payload, one FUNCTION2 record per library."""
        body = b"".join(
            bytes((OPCODE_FUNCTION2,)) + dump.encode_string(lib.code)
            for lib in self.libraries.values()
        )
        return dump.seal(body)

    def restore(self, payload: bytes, policy: str) -> None:
        """FUNCTION RESTORE with ``policy`` "append", "replace" or "flush"."""
        try:
            body, _version = dump.unseal(payload)
        except ValueError:
            raise ReplyError("ERR DUMP payload version or checksum are wrong") from None
        codes = _payload_codes(body)
        # The payload's libraries are compiled into a registry of their own first, so that
        # nothing changes here unless all of them load (Redis's libraryJoin).
        fresh = Functions(self.engine)
        for code in codes:
            fresh.load(code, timeout_ms=0)
        if policy == "flush":
            self.libraries, self.functions = fresh.libraries, fresh.functions
            return
        replaced: list[Library] = []
        try:
            for lib in fresh.libraries.values():
                old = self.libraries.get(lib.name)
                if old is not None:
                    if policy != "replace":
                        raise ReplyError(f"ERR Library {lib.name} already exists")
                    self._unlink(old)
                    replaced.append(old)
            for lib in fresh.libraries.values():
                err = self._collision(lib)
                if err is not None:
                    raise err
        except ReplyError:
            for old in replaced:
                self._link(old)
            raise
        for lib in fresh.libraries.values():
            self._link(lib)


def _payload_codes(body: bytes) -> list[bytes]:
    """The library codes of a payload's records (Redis's rdbFunctionLoad of each)."""
    reader = dump.Reader(body)
    codes = []
    while reader.left:
        opcode = reader.byte()
        if opcode not in (OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA):
            raise ReplyError("ERR given type is not a function")
        try:
            if opcode == OPCODE_FUNCTION2:
                codes.append(reader.string())
                continue
            name, engine = reader.string(), reader.string()
            has_desc, _ = reader.length()
            if has_desc:
                reader.string()
            code = reader.string()
        except ValueError:
            raise ReplyError("ERR failed loading the given functions payload") from None
        codes.append(b"#!%s name=%s\n%s" % (engine, name, code))
    return codes
