"""The ACL command family: SETUSER GETUSER DELUSER USERS LIST WHOAMI CAT GENPASS LOG DRYRUN
LOAD SAVE HELP.

The users, rules and checks are ``minikv.acl`` (``ctx.server.acl``); this module parses the
commands, shapes the replies as Redis's aclCommand does, and disconnects the clients a change
takes the ground from: those authenticated as a deleted user (ACL DELUSER, and every
non-default user on ACL LOAD), and subscribers whose channels a user's new rules no longer
allow (ACL SETUSER), as Redis 7.0 does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import acl as aclmod
from minikv.commands import command, container, lookup, subcommand_syntax_error
from minikv.parsing import parse_int
from minikv.protocol import OK, Raw, ReplyError

if TYPE_CHECKING:
    from minikv.acl import User
    from minikv.commands.context import Context

SRV = "server"
ADMIN = "admin noscript loading stale sentinel"
PLAIN = "noscript loading stale sentinel"

container("acl", -2, "sentinel", group=SRV, summary="A container for Access List Control commands")


def _str(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _disconnect(c: Context, users: list[User]) -> None:
    """Redis's ACLFreeUserAndKillClients: the clients of a removed user fall back to the
    default user, unauthenticated, and are closed (the caller once its reply is out)."""
    default = c.server.acl.default
    for x in list(c.server.clients.values()):
        if any(x.user is u for u in users):
            x.user = default
            x.set_authenticated(False)
            if x is c:
                c.close_after_reply = True
            else:
                x.kill()


def _kill_revoked_subscribers(c: Context, user: User, before: User) -> None:
    """Redis's ACLKillPubsubClientsIfNeeded: unless the new channel rules keep every old one,
    the user's subscribers with a subscription they no longer allow are disconnected."""
    if any(s.allchannels for s in user.selectors):
        return
    upcoming = [ch for s in user.selectors for ch in s.channels]
    if not any(s.allchannels for s in before.selectors) and all(
        ch in upcoming for s in before.selectors for ch in s.channels
    ):
        return
    for x in list(c.server.clients.values()):
        subs = x.pubsub
        if x.user is not user or subs is None:
            continue
        if (
            any(not aclmod.channel_in(upcoming, p, True) for p in subs.patterns)
            or any(not aclmod.channel_in(upcoming, ch, False) for ch in subs.channels)
            or any(not aclmod.channel_in(upcoming, ch, False) for ch in subs.shard)
        ):
            if x is c:
                c.close_after_reply = True
            else:
                x.kill()


@command(
    "setuser",
    -3,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="Modify or create the rules for a specific ACL user",
    since="6.0.0",
    complexity="O(N). Where N is the number of rules provided.",
    args="username [rule [rule ...]]",
    history=(
        ("6.2.0", "Added Pub/Sub channel patterns."),
        ("7.0.0", "Added selectors and key based permissions."),
    ),
)
def acl_setuser(c: Context, args: list[bytes]) -> Any:
    name = args[2]
    if aclmod.has_spaces(name):
        raise ReplyError("ERR Usernames can't contain spaces or null characters")
    try:
        user, before = c.server.acl.set_user(name, args[3:])
    except aclmod.RuleError as e:
        raise ReplyError("ERR " + e.message) from None
    if before is not None:
        _kill_revoked_subscribers(c, user, before)
    return OK


@command(
    "deluser",
    -3,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="Remove the specified ACL users and the associated rules",
    since="6.0.0",
    complexity="O(1) amortized time considering the typical user.",
    args="username [username ...]",
)
def acl_deluser(c: Context, args: list[bytes]) -> Any:
    if b"default" in args[2:]:
        raise ReplyError("ERR The 'default' user cannot be removed")
    removed = [u for name in args[2:] if (u := c.server.acl.delete(name)) is not None]
    _disconnect(c, removed)
    return len(removed)


def _flags_set(c: Context, flags: list[bytes]) -> Raw:
    # A RESP3 set whose order is Redis's (on, off, nopass, ...): Python sets keep none.
    head = b"~%d\r\n" if c.resp == 3 else b"*%d\r\n"
    return Raw(head % len(flags) + b"".join(c.encode(f) for f in flags))


@command(
    "getuser",
    3,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="Get the rules for a specific ACL user",
    since="6.0.0",
    complexity=(
        "O(N). Where N is the number of password, command and pattern rules that the user has."
    ),
    args="username",
    history=(
        ("6.2.0", "Added Pub/Sub channel patterns."),
        (
            "7.0.0",
            "Added selectors and changed the format of key and channel patterns from a list "
            "to their rule representation.",
        ),
    ),
)
def acl_getuser(c: Context, args: list[bytes]) -> Any:
    u = c.server.acl.get(args[2])
    if u is None:
        return None
    reply: dict[bytes, Any] = {
        b"flags": _flags_set(c, [f.encode() for f in aclmod.USER_FLAGS if f in u.flags]),
        b"passwords": [p.encode() for p in u.passwords],
    }
    reply.update(aclmod.describe_reply_parts(u.root))
    reply[b"selectors"] = [aclmod.describe_reply_parts(s) for s in u.selectors[1:]]
    return reply


@command(
    "users",
    2,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="List the username of all the configured ACL rules",
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
)
def acl_users(c: Context, args: list[bytes]) -> Any:
    return [u.name for u in c.server.acl.sorted_users()]


@command(
    "list",
    2,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="List the current ACL rules in ACL config file format",
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
)
def acl_list(c: Context, args: list[bytes]) -> Any:
    return [b"user " + u.name + b" " + u.describe() for u in c.server.acl.sorted_users()]


@command(
    "whoami",
    2,
    PLAIN,
    parent="acl",
    group=SRV,
    summary="Return the name of the user associated to the current connection",
    since="6.0.0",
    complexity="O(1)",
)
def acl_whoami(c: Context, args: list[bytes]) -> Any:
    return c.user.name if c.user is not None else None


_NO_FILE = ReplyError(
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "Redis configuration file set) in order to store users in the Redis configuration."
)


@command(
    "load",
    2,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="Reload the ACLs from the configured ACL file",
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
)
def acl_load(c: Context, args: list[bytes]) -> Any:
    acl = c.server.acl
    path = c.server.config.aclfile
    if not path:
        raise _NO_FILE
    old = [u for u in acl.users.values() if u is not acl.default]
    errors = acl.load_file(path)
    if errors is not None:
        raise ReplyError("ERR " + errors)
    _disconnect(c, old)  # every old user was replaced (Redis frees the old set)
    return OK


@command(
    "save",
    2,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="Save the current ACL rules in the configured ACL file",
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
)
def acl_save(c: Context, args: list[bytes]) -> Any:
    path = c.server.config.aclfile
    if not path:
        raise _NO_FILE
    try:
        c.server.acl.save_file(path)
    except OSError as e:
        c.server.log.warning("Writing ACL file for ACL SAVE: %s", e.strerror)
        raise ReplyError(
            "ERR There was an error trying to save the ACLs. Please check the server logs for "
            "more information"
        ) from None
    return OK


@command(
    "cat",
    -2,
    PLAIN,
    parent="acl",
    group=SRV,
    summary="List the ACL categories or the commands inside a category",
    since="6.0.0",
    complexity="O(1) since the categories and commands are a fixed set.",
    args="[categoryname]",
)
def acl_cat(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise subcommand_syntax_error(args)
    if len(args) == 2:
        return [cat.encode() for cat in aclmod.ACL_ORDER]
    cmds = aclmod.category_commands(_str(args[2]))
    if cmds is None:
        raise ReplyError(f"ERR Unknown category '{_str(args[2])[:128]}'")
    return [cmd.name.encode() for cmd in cmds]


@command(
    "genpass",
    -2,
    PLAIN,
    parent="acl",
    group=SRV,
    summary="Generate a pseudorandom secure password to use for ACL users",
    since="6.0.0",
    complexity="O(1)",
    args="[bits:integer]",
)
def acl_genpass(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise subcommand_syntax_error(args)
    bits = 256
    if len(args) == 3:
        try:
            bits = parse_int(args[2])
        except ReplyError:
            raise ReplyError("ERR value is not an integer or out of range") from None
    if bits <= 0 or bits > 4096:
        raise ReplyError(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a "
            "positive number up to 4096"
        )
    return aclmod.genpass(bits)


@command(
    "log",
    -2,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="List latest events denied because of ACLs in place",
    since="6.0.0",
    complexity="O(N) with N being the number of entries shown.",
    args="[count:integer | RESET]",
)
def acl_log(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise subcommand_syntax_error(args)
    acl = c.server.acl
    count = 10
    if len(args) == 3:
        if args[2].lower() == b"reset":
            acl.log.clear()
            return OK
        try:
            count = parse_int(args[2])
        except ReplyError:
            raise ReplyError("ERR value is not an integer or out of range") from None
        count = max(count, 0)
    now = aclmod.now_ms()
    return [
        {
            b"count": e.count,
            b"reason": aclmod.REASONS[e.reason].encode(),
            b"context": e.context.encode(),
            b"object": e.object,
            b"username": e.username,
            b"age-seconds": (now - e.ctime) / 1000,
            b"client-info": e.cinfo.encode("utf-8", "surrogateescape"),
        }
        for e in acl.log[:count]
    ]


@command(
    "dryrun",
    -4,
    ADMIN,
    parent="acl",
    group=SRV,
    summary="Returns whether the user can execute the given command without executing the command.",
    since="7.0.0",
    complexity="O(1).",
    args="username command [arg [arg ...]]",
)
def acl_dryrun(c: Context, args: list[bytes]) -> Any:
    u = c.server.acl.get(args[2])
    if u is None:
        raise ReplyError(f"ERR User '{_str(args[2])}' not found")
    call = args[3:]
    cmd = lookup(call)
    if cmd is None:
        raise ReplyError(f"ERR Command '{_str(args[3])}' not found")
    if not cmd.check_arity(len(call)):
        raise ReplyError(f"ERR wrong number of arguments for '{cmd.name}' command")
    result, pos = u.check(cmd, call)
    if result != aclmod.OK:
        return aclmod.dryrun_error(result, cmd, call, pos)
    return OK


@command(
    "help",
    2,
    "loading stale sentinel",
    parent="acl",
    group=SRV,
    summary="Show helpful text about the different subcommands",
    since="6.0.0",
    complexity="O(1)",
)
def acl_help(c: Context, args: list[bytes]) -> Any:
    return [
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ]
