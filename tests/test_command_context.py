"""Command handlers see only the narrow context of minikv.commands.context.

Walks every command module's AST: each parameter annotated ``Context`` may only be used for
the members ``Context`` lists, and its ``.server`` only for those of ``ServerView``. A handler
that reached for the transport, the parser or a Server method not listed fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from minikv.commands.context import Context, ServerView

ROOT = Path(__file__).resolve().parent.parent / "minikv" / "commands"
MODULES = sorted(p for p in ROOT.glob("*.py") if p.name not in ("context.py", "catalog.py"))


def members(proto: type) -> set[str]:
    names = set(getattr(proto, "__annotations__", {}))
    names |= {n for n in vars(proto) if not n.startswith("_")}
    return names


def context_uses(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, kind, attribute) for each ``ctx.attr`` / ``ctx.server.attr`` in functions whose
    parameter ``ctx`` is annotated Context (kind "ctx" or "server")."""
    out: list[tuple[int, str, str]] = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        names = {
            a.arg
            for a in fn.args.args + fn.args.kwonlyargs
            if a.annotation is not None and ast.unparse(a.annotation) in ("Context", "'Context'")
        }
        if not names:
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.Attribute):
                continue
            base = node.value
            if isinstance(base, ast.Name) and base.id in names:
                out.append((node.lineno, "ctx", node.attr))
            elif (
                isinstance(base, ast.Attribute)
                and base.attr == "server"
                and isinstance(base.value, ast.Name)
                and base.value.id in names
            ):
                out.append((node.lineno, "server", node.attr))
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_handlers_use_only_the_context(path: Path) -> None:
    allowed = {"ctx": members(Context), "server": members(ServerView)}
    tree = ast.parse(path.read_text())
    bad = [
        f"{path.name}:{line}: {kind}.{attr}"
        for line, kind, attr in context_uses(tree)
        if attr not in allowed[kind]
    ]
    assert bad == []


def test_every_handler_is_typed_against_the_context() -> None:
    """No command module annotates with the connection's Client (which would let it reach
    the transport) or imports minikv.connection."""
    offenders = [
        p.name
        for p in MODULES
        if "minikv.connection" in p.read_text() or ": Client" in p.read_text()
    ]
    assert offenders == []


def test_the_check_catches_a_reach_past_the_context() -> None:
    tree = ast.parse(
        "def h(c: Context, args):\n    c.transport.write(b'x')\n    c.server.loop.stop()\n"
    )
    assert {(kind, attr) for _, kind, attr in context_uses(tree)} == {
        ("ctx", "transport"),
        ("ctx", "server"),
        ("server", "loop"),
    }
    assert "transport" not in members(Context)
    assert "loop" not in members(ServerView)
