"""Connection commands: PING ECHO QUIT HELLO AUTH SELECT RESET and CLIENT."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import REDIS_VERSION
from minikv import acl as aclmod
from minikv.blocking import unblock_client
from minikv.commands import command, container
from minikv.commands.util import SYNTAX, parse_on_off
from minikv.parsing import parse_int
from minikv.protocol import OK, PONG, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context

WRONGPASS = ReplyError("WRONGPASS invalid username-password pair or user is disabled.")
CONN = "connection"


@command(
    "ping",
    -1,
    "fast sentinel",
    group=CONN,
    summary="Ping the server",
    tips="request_policy:all_shards response_policy:all_succeeded",
)
def ping(c: Context, args: list[bytes]) -> Any:
    if len(args) > 2:
        raise ReplyError("ERR wrong number of arguments for 'ping' command")
    if c.pubsub is not None and c.resp == 2:  # a subscribed RESP2 client gets an array
        return [b"pong", b"" if len(args) == 1 else args[1]]
    return PONG if len(args) == 1 else args[1]


@command("echo", 2, "loading stale fast", group=CONN, summary="Echo the given string")
def echo(c: Context, args: list[bytes]) -> Any:
    return args[1]


@command(
    "quit",
    -1,
    "allow_busy noscript loading stale fast no_auth",
    group=CONN,
    summary="Close the connection",
)
def quit_(c: Context, args: list[bytes]) -> Any:
    c.close_after_reply = True
    return OK


def _check_password(c: Context, args: list[bytes], user: bytes, password: bytes) -> None:
    """Redis's ACLAuthenticateUser: a failure is logged (reason auth, the command as the
    object) and answered WRONGPASS, whether the user is missing, off, or the password wrong."""
    acl = c.server.acl
    u = acl.authenticate(user, password)
    if u is None:
        context = aclmod.MULTI if c.multi is not None else aclmod.TOPLEVEL
        acl.add_log(aclmod.DENIED_AUTH, context, args[0], user, c.info_line())
        raise WRONGPASS
    c.set_user(u)


@command(
    "auth",
    -2,
    "noscript loading stale fast no_auth sentinel allow_busy",
    group=CONN,
    summary="Authenticate to the server",
    since="1.0.0",
)
def auth(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise SYNTAX
    if len(args) == 2:
        if c.server.acl.default.nopass:
            raise ReplyError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
        _check_password(c, args, b"default", args[1])
    else:
        _check_password(c, args, args[1], args[2])
    return OK


@command(
    "hello",
    -1,
    "noscript loading stale fast no_auth sentinel allow_busy",
    group=CONN,
    summary="Handshake with Redis",
    since="6.0.0",
)
def hello(c: Context, args: list[bytes]) -> Any:
    ver = c.resp
    i = 1
    if len(args) >= 2:
        try:
            ver = parse_int(args[1])
        except ReplyError:
            raise ReplyError("ERR Protocol version is not an integer or out of range") from None
        i = 2
        if ver < 2 or ver > 3:
            raise ReplyError("NOPROTO unsupported protocol version")
    setname = None
    while i < len(args):
        opt = args[i].lower()
        more = len(args) - i - 1
        if opt == b"auth" and more >= 2:
            _check_password(c, args, args[i + 1], args[i + 2])
            i += 3
        elif opt == b"setname" and more >= 1:
            setname = args[i + 1]
            _validate_name(setname)
            i += 2
        else:
            raise ReplyError(
                f"ERR Syntax error in HELLO option '{args[i].decode(errors='replace')}'"
            )
    if not c.authenticated:
        raise ReplyError(
            "NOAUTH HELLO must be called with the client already authenticated, "
            "otherwise the HELLO AUTH <user> <pass> option can be used to "
            "authenticate the client and select the RESP protocol version at the "
            "same time"
        )
    if setname is not None:
        c.name = setname
    c.set_resp(ver)
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": ver,
        b"id": c.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command("select", 2, "loading stale fast", group=CONN, summary="Change the selected database")
def select(c: Context, args: list[bytes]) -> Any:
    try:
        idx = parse_int(args[1])
    except ReplyError:
        raise ReplyError("ERR value is not an integer or out of range") from None
    if not 0 <= idx < len(c.server.keyspace.dbs):
        raise ReplyError("ERR DB index is out of range")
    c.select(idx)
    return OK


@command(
    "reset",
    1,
    "noscript loading stale fast no_auth allow_busy",
    group=CONN,
    summary="Reset the connection",
    since="6.2.0",
)
def reset(c: Context, args: list[bytes]) -> Any:
    c.multi = None
    c.multi_error = False
    c.unwatch_all()
    c.server.pubsub.drop(c)
    c.select(0)
    c.set_resp(2)
    c.name = b""
    c.no_evict = False
    c.no_touch = False
    c.reply_mode = 0  # CLIENT REPLY ON
    c.server.tracking.disable(c)
    if c.monitor is not None:
        c.server.watch.forget(c)
    default = c.server.acl.default  # Redis's clientSetDefaultAuth
    c.user = default
    c.set_authenticated(default.nopass and default.enabled)
    return "RESET"


# --- CLIENT ------------------------------------------------------------------------------------

container("client", -2, "sentinel", group=CONN, summary="A container for client commands")


def _validate_name(name: bytes) -> None:
    if any(ch < 0x21 or ch > 0x7E for ch in name):
        raise ReplyError("ERR Client names cannot contain spaces, newlines or special characters.")


@command(
    "id",
    2,
    "noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Returns the client ID for the current connection",
    since="5.0.0",
)
def client_id(c: Context, args: list[bytes]) -> Any:
    return c.id


@command(
    "setname",
    3,
    "noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Set the current connection name",
    since="2.6.9",
)
def client_setname(c: Context, args: list[bytes]) -> Any:
    _validate_name(args[2])
    c.name = args[2]
    return OK


@command(
    "getname",
    2,
    "noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Get the current connection name",
    since="2.6.9",
)
def client_getname(c: Context, args: list[bytes]) -> Any:
    return c.name or None


@command(
    "setinfo",
    4,
    "noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Set client or connection specific info",
    since="7.2.0",
)
def client_setinfo(c: Context, args: list[bytes]) -> Any:
    attr = args[2].lower()
    value = args[3]
    if attr not in (b"lib-name", b"lib-ver"):
        raise ReplyError(f"ERR Unrecognized option '{args[2].decode(errors='replace')}'")
    if any(ch < 0x21 or ch > 0x7E for ch in value):
        raise ReplyError(
            f"ERR {attr.decode()} cannot contain spaces, newlines or special characters."
        )
    if attr == b"lib-name":
        c.lib_name = value
    else:
        c.lib_ver = value
    return OK


@command(
    "no-evict",
    3,
    "admin noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Set client eviction mode for the current connection",
    since="7.0.0",
)
def client_no_evict(c: Context, args: list[bytes]) -> Any:
    c.no_evict = parse_on_off(args[2])
    return OK


def _clients_matching(c: Context, args: list[bytes], start: int) -> list[Context]:
    """CLIENT LIST / KILL filters: ID, ADDR, LADDR, TYPE, USER, SKIPME."""
    clients = list(c.server.clients.values())
    i = start
    skipme = True
    while i < len(args):
        opt = args[i].lower()
        if opt == b"id":
            ids = set()
            j = i + 1
            while j < len(args):
                try:
                    ids.add(parse_int(args[j]))
                except ReplyError:
                    if j == i + 1:
                        raise ReplyError("ERR Invalid client ID") from None
                    break
                j += 1
            if j == i + 1:
                raise SYNTAX
            clients = [x for x in clients if x.id in ids]
            i = j
            continue
        if i + 1 >= len(args):
            raise SYNTAX
        val = args[i + 1]
        if opt == b"addr":
            clients = [x for x in clients if x.addr.encode() == val]
        elif opt == b"laddr":
            clients = [x for x in clients if x.laddr.encode() == val]
        elif opt == b"type":
            t = val.lower()
            if t not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise ReplyError(f"ERR Unknown client type '{val.decode(errors='replace')}'")
            want = {b"replica": "slave"}.get(t, t.decode())
            clients = [x for x in clients if getattr(x, "kind", "normal") == want]
        elif opt == b"user":
            u = c.server.acl.get(val)
            if u is None:
                raise ReplyError(f"ERR No such user '{val.decode(errors='replace')}'")
            clients = [x for x in clients if x.user is u]
        elif opt == b"skipme":
            v = val.lower()
            if v not in (b"yes", b"no"):
                raise SYNTAX
            skipme = v == b"yes"
        else:
            raise SYNTAX
        i += 2
    if skipme:
        clients = [x for x in clients if x is not c]
    return clients


@command(
    "list",
    -2,
    "admin noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Get the list of client connections",
    since="2.4.0",
    tips="nondeterministic_output",
)
def client_list(c: Context, args: list[bytes]) -> Any:
    if len(args) == 2:
        clients = list(c.server.clients.values())
    else:
        opt = args[2].lower()
        if opt not in (b"type", b"id"):
            raise SYNTAX
        clients = _clients_matching(c, [*args, b"skipme", b"no"], 2)
    return b"".join(x.info_line().encode() + b"\n" for x in clients)


@command(
    "info",
    2,
    "noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Returns information about the current client connection",
    since="6.2.0",
    tips="nondeterministic_output",
)
def client_info(c: Context, args: list[bytes]) -> Any:
    return c.info_line().encode() + b"\n"


@command(
    "kill",
    -3,
    "admin noscript loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Kill the connection of a client",
    since="2.4.0",
)
def client_kill(c: Context, args: list[bytes]) -> Any:
    if len(args) == 3:  # old form: CLIENT KILL addr:port
        target = args[2]
        for x in list(c.server.clients.values()):
            if x.addr.encode() == target:
                _kill(c, x)
                return OK
        raise ReplyError("ERR No such client")
    victims = _clients_matching(c, args, 2)
    for x in victims:
        _kill(c, x)
    return len(victims)


def _kill(me: Context, victim: Context) -> None:
    if victim is me:
        me.close_after_reply = True
    else:
        victim.kill()


@command(
    "unblock",
    -3,
    "admin noscript loading stale",
    parent="client",
    group=CONN,
    summary="Unblock a client blocked in a blocking command from a different connection",
    since="5.0.0",
    complexity="O(log N) where N is the number of client connections",
    args="client-id:integer [TIMEOUT | ERROR]",
)
def client_unblock(c: Context, args: list[bytes]) -> Any:
    mode = args[3].lower() if len(args) == 4 else b"timeout"
    if len(args) > 4 or mode not in (b"timeout", b"error"):
        raise ReplyError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = c.server.clients.get(parse_int(args[2]))
    err = ReplyError("UNBLOCKED client unblocked via CLIENT UNBLOCK") if mode == b"error" else None
    return int(target is not None and unblock_client(target, err))


@command(
    "help",
    2,
    "loading stale sentinel",
    parent="client",
    group=CONN,
    summary="Show helpful text about the different subcommands",
    since="5.0.0",
)
def client_help(c: Context, args: list[bytes]) -> Any:
    return [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
        "LIST [options ...]",
        "    Return information about client connections.",
        "GETNAME",
        "    Return the name of the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client library name or version.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "HELP",
        "    Print this help.",
    ]
