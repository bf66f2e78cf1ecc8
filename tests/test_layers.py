"""The layers of minikv point down only (docs/architecture.md).

Walks every module's AST and collects its run-time imports of other minikv modules (imports
under ``if TYPE_CHECKING:`` are for annotations and are skipped; imports inside functions run
and are counted). Each module sits in one layer; an import of a module in a higher layer fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "minikv"

#: Bottom first. A module may import its own layer and the ones below.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "protocol and parsing (no I/O, no data)",
        {
            "minikv",
            "minikv.native",
            "minikv.protocol",
            "minikv.parsing",
            "minikv.log",
            "minikv.cow",
            "minikv.notify",
            "minikv.lolwut",
            "minikv.latency",
            "minikv.slowlog",
        },
    ),
    ("configuration", {"minikv.config", "minikv.limits"}),
    (
        "keyspace and value containers (no sockets, no commands)",
        {
            "minikv.setvalue",
            "minikv.packedhash",
            "minikv.quicklist",
            "minikv.packedlist",
            "minikv.zset",
            "minikv.geo",
            "minikv.stream",
            "minikv.memory",
            "minikv.eviction",
            "minikv.client_eviction",
            "minikv.hll",
            "minikv.keyspace",
            "minikv.propagation",
            "minikv.pubsub",
            "minikv.valuetypes",
            "minikv.syscheck",
            "minikv.persistence",
            "minikv.persistence.childinfo",
            "minikv.persistence.format",
            "minikv.persistence.dump",
            "minikv.persistence.rdbvalue",
            "minikv.persistence.aoffiles",
            "minikv.functions",
            "minikv.replication",
            "minikv.replication.backlog",
            "minikv.watch",
            "minikv.tracking",
        },
    ),
    (
        "command table, blocking, fork/reap",
        {
            "minikv.commands",
            "minikv.commands.util",
            "minikv.acl",
            "minikv.blocking",
            "minikv.migrate",
            "minikv.scripting",
            "minikv.internal_client",
            "minikv.persistence.snapshot",
            "minikv.persistence.aof",
            "minikv.replication.primary",
            "minikv.replication.link",
        },
    ),
    ("command modules", set()),  # every other minikv.commands.* module
    ("connection", {"minikv.connection", "minikv.fastpath"}),
    ("server", {"minikv.server", "minikv.info", "minikv.busy"}),
    (
        "entry points",
        {"minikv.cli", "minikv.__main__", "minikv.check_snapshot", "minikv.check_aof"},
    ),
]
COMMAND_MODULES = 4  # index of "command modules" in LAYERS


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> int:
    for i, (_, names) in enumerate(LAYERS):
        if name in names:
            return i
    if name.startswith("minikv.commands."):
        return COMMAND_MODULES
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in {__file__}")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path, name: str) -> set[str]:
    """The minikv modules ``path`` imports at run time."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "minikv")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.split(".")[0] == "minikv":
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    # "from minikv import limits" imports a module; "from minikv import X" a name.
                    is_module = (ROOT.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                    found.add(sub if is_module else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return found


MODULES = sorted((module_name(p), p) for p in ROOT.rglob("*.py"))


@pytest.mark.parametrize("name,path", MODULES, ids=[m for m, _ in MODULES])
def test_no_runtime_import_runs_upward(name: str, path: Path) -> None:
    mine = layer_of(name)
    upward = {
        imp: LAYERS[layer_of(imp)][0] for imp in runtime_imports(path, name) if layer_of(imp) > mine
    }
    assert not upward, f"{name} ({LAYERS[mine][0]}) imports upward: {upward}"


def test_the_walk_sees_imports() -> None:
    """The checker itself: it finds a known downward import, a function-level one, and skips
    a TYPE_CHECKING one (each of these is in the tree today)."""
    server = ROOT / "server.py"
    assert "minikv.connection" in runtime_imports(server, "minikv.server")
    cli = runtime_imports(ROOT / "cli.py", "minikv.cli")
    assert "minikv.server" in cli  # imported inside main()
    conn = runtime_imports(ROOT / "connection.py", "minikv.connection")
    assert "minikv.server" not in conn  # only under TYPE_CHECKING
    assert layer_of("minikv.commands.strings") > layer_of("minikv.commands")


def test_no_module_imports_server_or_connection_from_below() -> None:
    """Only the layers above them may import server and connection at run time."""
    for name, path in MODULES:
        for imp in runtime_imports(path, name) & {"minikv.server", "minikv.connection"}:
            assert layer_of(name) >= layer_of(imp), (name, imp)
