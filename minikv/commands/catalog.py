"""Every command module, imported: importing one registers its commands in the table.

The table (``minikv.commands``) sits below the command modules and never imports them; the
server, which sits above, calls ``load_all`` once. A new command family is added here.
"""

from __future__ import annotations

from minikv.commands import (
    acl,
    bits,
    connection,
    dump,
    geo,
    hashes,
    hyperloglog,
    keys,
    lists,
    memory,
    persistence,
    pubsub,
    replication,
    scripting,
    server,
    sets,
    sort,
    streams,
    strings,
    tracking,
    transactions,
    watch,
    zsetops,
    zsets,
)

MODULES = (
    acl,
    bits,
    connection,
    dump,
    geo,
    hashes,
    hyperloglog,
    keys,
    lists,
    memory,
    persistence,
    pubsub,
    replication,
    scripting,
    server,
    sets,
    sort,
    streams,
    strings,
    tracking,
    transactions,
    watch,
    zsets,
    zsetops,
)


def load_all() -> None:
    """Make sure every command is registered (the imports above did it; this names the
    intent at the call site)."""
    assert all(m.__name__ for m in MODULES)
