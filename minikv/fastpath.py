"""Which hot path runs: the compiled one (``minikv._fastc``, built from a .pyx when the package
is installed with a C compiler) or none, the plain Python package.

``run_batch`` is ``minikv._fastc.run`` or None; ``Client._run`` calls it first on each batch
its own checks allow the fast path for. ``MINIKV_PURE=1`` in the environment forces the pure
path (the tests run the suite both ways). ``COMPILED`` is what INFO server's
``minikv_compiled`` and ``minikv-server --version`` report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

run_batch: Callable[..., int] | None = None
_fastc: Any = None
if os.environ.get("MINIKV_PURE") != "1":
    try:
        from minikv import _fastc  # type: ignore[attr-defined,no-redef]
    except ImportError:
        pass
    else:
        run_batch = _fastc.run

COMPILED = run_batch is not None


def compiled_requests() -> int:
    """Requests the compiled path ran since the process started (INFO server)."""
    return int(_fastc.compiled_requests()) if COMPILED else 0


def describe() -> str:
    """``compiled`` or ``pure``: for ``minikv-server --version``."""
    return "compiled" if COMPILED else "pure"


def mirrored() -> list[str]:
    """The commands the compiled path may take (none when pure)."""
    return list(_fastc.mirrored()) if COMPILED else []
