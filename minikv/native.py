"""Which compiled extensions this process uses: the optional C builds of the hot paths.

``pip install`` builds them from .pyx files when a C compiler is there (setup.py); without
one, or with ``MINIKV_PURE=1`` in the environment, ``load`` returns None for each and the
package runs as plain Python, the one implementation of every rule either way (each
extension only takes the cases it can prove plain, and hands the rest to the Python code).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

#: MINIKV_PURE=1: the compiled extensions are not used, even if built.
PURE = os.environ.get("MINIKV_PURE") == "1"


def load(name: str) -> ModuleType | None:
    """``minikv.<name>`` if it is built and allowed, else None."""
    if PURE:
        return None
    try:
        return importlib.import_module(f"minikv.{name}")
    except ImportError:
        return None
