"""Build of the optional compiled hot paths (minikv/_fastc.pyx and minikv/_fastproto.pyx, see
their docstrings).

Everything else is in pyproject.toml. The extension is optional: without Cython, without a C
compiler, or when the compiler fails, the package installs as plain Python and runs the same
(``minikv.fastpath.COMPILED`` is then False; ``MINIKV_PURE=1`` forces that at run time).
"""

from __future__ import annotations

import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that warns and goes on when an extension cannot be built."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # no compiler, a failed compile...
            _skipped(e)

    def build_extension(self, ext: object) -> None:
        try:
            super().build_extension(ext)  # type: ignore[arg-type]
        except Exception as e:
            _skipped(e)


def _skipped(e: Exception) -> None:
    print(f"minikv: the compiled hot path is not built ({e}); plain Python", file=sys.stderr)


def _extensions() -> list[object]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        _skipped(ImportError("Cython is not installed"))
        return []
    try:
        return cythonize(
            [
                "minikv/_fastc.pyx",
                "minikv/_fastproto.pyx",
                "minikv/_noref.pyx",
                "minikv/_packcheck.pyx",
            ],
            language_level=3,
            quiet=True,
        )
    except Exception as e:
        _skipped(e)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
