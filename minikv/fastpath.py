"""Which hot path runs: the compiled one (``minikv._fastc``, built from a .pyx when the package
is installed with a C compiler) or none, the plain Python package.

``run_batch`` is ``minikv._fastc.run`` or None (``minikv.native`` decides: ``MINIKV_PURE=1``
forces the pure path; the tests run the suite both ways); ``Client._run`` calls it at the head
of each batch its own checks allow the fast path for, and again at each later request of a
``compiled_commands`` command once the Python path has run the ones it left. ``COMPILED`` is
what INFO server's ``minikv_compiled`` and ``minikv-server --version`` report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minikv import keyspace, native, packedhash, protocol

_fastc: Any = native.load("_fastc")
run_batch: Callable[..., int] | None = _fastc.run if _fastc is not None else None
#: The commands ``run_batch`` may take (keyed by ``Command``; empty when pure): ``Client._run``
#: calls it again mid-batch only at a request of one of them.
compiled_commands: dict[Any, Any] = _fastc.commands() if _fastc is not None else {}

#: Every compiled part is on: the dispatcher's (minikv._fastc), the request parser's
#: (minikv._fastproto, see minikv.protocol), the keyspace's shard counts (minikv._noref) and
#: the snapshot loader's packed-hash check (minikv._packcheck, see minikv.packedhash).
COMPILED = (
    run_batch is not None and protocol.COMPILED_PARSER and keyspace.NOREF and packedhash.PACKCHECK
)


def compiled_requests() -> int:
    """Requests the compiled path ran since the process started (INFO server)."""
    return int(_fastc.compiled_requests()) if _fastc is not None else 0


def describe() -> str:
    """``compiled`` or ``pure``: for ``minikv-server --version``."""
    return "compiled" if COMPILED else "pure"


def mirrored() -> list[str]:
    """The commands the compiled path may take (none when pure)."""
    return list(_fastc.mirrored()) if _fastc is not None else []
