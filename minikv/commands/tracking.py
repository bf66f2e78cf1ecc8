"""CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: client-side caching's commands.

The table, the prefixes and the messages are ``minikv.tracking``'s (``c.server.tracking``);
these handlers parse and check the options with Redis's errors, in Redis's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import command
from minikv.commands.util import SYNTAX
from minikv.parsing import parse_int
from minikv.protocol import OK, Raw, ReplyError
from minikv.tracking import ClientTracking

if TYPE_CHECKING:
    from minikv.commands.context import Context

CONN = "connection"
_FLAGS = "noscript loading stale sentinel"


def _overlap(a: bytes, b: bytes) -> bool:
    """Two prefixes overlap when one starts the other (a key could match both)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _prefix_error(c: Context, old: list[bytes], prefixes: list[bytes]) -> ReplyError | None:
    """Redis's checkPrefixCollisionsOrReply."""
    for i, p in enumerate(prefixes):
        for q in old:
            if _overlap(q, p):
                return ReplyError(
                    f"ERR Prefix '{p.decode(errors='replace')}' overlaps with an existing "
                    f"prefix '{q.decode(errors='replace')}'. Prefixes for a single client must "
                    "not overlap."
                )
        for q in prefixes[i + 1 :]:
            if _overlap(p, q):
                return ReplyError(
                    f"ERR Prefix '{p.decode(errors='replace')}' overlaps with another provided "
                    f"prefix '{q.decode(errors='replace')}'. Prefixes for a single client must "
                    "not overlap."
                )
    return None


@command(
    "tracking",
    -3,
    _FLAGS,
    parent="client",
    group=CONN,
    summary="Enable or disable server assisted client side caching support",
    since="6.0.0",
    complexity="O(1). Some options may introduce additional complexity.",
    args=(
        "status:oneof(ON|OFF) [REDIRECT client-id:integer] [PREFIX prefix [PREFIX prefix ...]] "
        "[BCAST] [OPTIN] [OPTOUT] [NOLOOP]"
    ),
)
def client_tracking(c: Context, args: list[bytes]) -> Any:
    st = ClientTracking()
    prefixes: list[bytes] = []
    tracking = c.server.tracking
    i = 3
    n = len(args)
    while i < n:
        opt = args[i].lower()
        more = i + 1 < n
        if opt == b"redirect" and more:
            i += 1
            if st.redirect:
                raise ReplyError("ERR A client can only redirect to a single other client")
            st.redirect = parse_int(args[i])
            if st.redirect not in c.server.clients:
                raise ReplyError("ERR The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            st.bcast = True
        elif opt == b"optin":
            st.optin = True
        elif opt == b"optout":
            st.optout = True
        elif opt == b"noloop":
            st.noloop = True
        elif opt == b"prefix" and more:
            i += 1
            prefixes.append(args[i])
        else:
            raise SYNTAX
        i += 1
    status = args[2].lower()
    if status == b"off":
        tracking.disable(c)
        return OK
    if status != b"on":
        raise SYNTAX
    old = c.tracking
    if not st.bcast and prefixes:
        raise ReplyError("ERR PREFIX option requires BCAST mode to be enabled")
    if old is not None and old.bcast != st.bcast:
        raise ReplyError(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
            "and then re-enabling it with a different mode."
        )
    if st.bcast and (st.optin or st.optout):
        raise ReplyError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if st.optin and st.optout:
        raise ReplyError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if old is not None and ((st.optin and old.optout) or (st.optout and old.optin)):
        raise ReplyError(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
            "client, and then re-enabling it with a different mode."
        )
    if st.bcast:
        err = _prefix_error(c, old.prefixes if old is not None else [], prefixes)
        if err is not None:
            raise err
    if old is not None:
        st.caching = old.caching  # Redis keeps the CACHING flag across a re-enable
    tracking.enable(c, st, prefixes)
    return OK


@command(
    "caching",
    3,
    _FLAGS,
    parent="client",
    group=CONN,
    summary="Instruct the server about tracking or not keys in the next request",
    since="6.0.0",
    complexity="O(1)",
    args="mode:oneof(YES|NO)",
)
def client_caching(c: Context, args: list[bytes]) -> Any:
    st = c.tracking
    if st is None:
        raise ReplyError(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
            "OPTIN or OPTOUT mode enabled"
        )
    opt = args[2].lower()
    if opt == b"yes":
        if not st.optin:
            raise ReplyError(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
            )
    elif opt == b"no":
        if not st.optout:
            raise ReplyError(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
            )
    else:
        raise SYNTAX
    st.caching = True  # until a command other than CLIENT's (minikv.tracking.after_command)
    return OK


@command(
    "getredir",
    2,
    _FLAGS,
    parent="client",
    group=CONN,
    summary="Get tracking notifications redirection client ID if any",
    since="6.0.0",
    complexity="O(1)",
)
def client_getredir(c: Context, args: list[bytes]) -> Any:
    return c.tracking.redirect if c.tracking is not None else -1


@command(
    "trackinginfo",
    2,
    _FLAGS,
    parent="client",
    group=CONN,
    summary=(
        "Return information about server assisted client side caching for the current connection"
    ),
    since="6.2.0",
    complexity="O(1)",
)
def client_trackinginfo(c: Context, args: list[bytes]) -> Any:
    st = c.tracking
    flags = st.flag_names() if st is not None else [b"off"]
    # A set reply in Redis's order (a Python set would lose it).
    head = b"~%d\r\n" if c.resp == 3 else b"*%d\r\n"
    flag_set = Raw(head % len(flags) + b"".join(c.encode(f) for f in flags))
    return {
        b"flags": flag_set,
        b"redirect": st.redirect if st is not None else -1,
        b"prefixes": sorted(st.prefixes) if st is not None else [],  # Redis's radix order
    }
