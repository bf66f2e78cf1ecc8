"""Geo commands (Redis 7.0's geo.c): GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE
GEORADIUS GEORADIUSBYMEMBER GEORADIUS_RO GEORADIUSBYMEMBER_RO.

A geo set is a sorted set whose scores are 52-bit geohashes (``minikv.geo`` has the geohash,
the distances and the search): GEOADD is ZADD of the encoded positions (it runs the sorted
set's own ZADD and propagates as that ZADD, as Redis rewrites its command vector), the searches
read score ranges of the set, the stores build a sorted set as ZRANGESTORE does. So there is
no new value type, and no snapshot change.

Arguments are checked in the order and with the texts of georadiusGeneric, which parses as it
goes: an error found early (a bad radius, a member that is not in the set) wins over one later
in the line, and some errors are only reported when the key exists.

Replies: GEODIST and WITHDIST are bulk strings with four decimals (fixedpoint_d2string) in
both protocols; GEOPOS and WITHCOORD print coordinates as addReplyHumanLongDouble does, a bulk
string in RESP2 and a RESP3 double whose text is that same ``%.17Lf`` spelling (not the
``%.17g`` of other doubles), so they are encoded here, for the client's protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import geo
from minikv.commands import KeySpec, command
from minikv.commands.util import SYNTAX
from minikv.commands.zsets import _CH, _NX, _XX, _zadd, get_zset
from minikv.parsing import parse_double, parse_int
from minikv.protocol import NULL_ARRAY, Raw, ReplyError
from minikv.zset import ZSet, stored

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

G = "geo"

BAD_UNIT = ReplyError("ERR unsupported unit provided. please use M, KM, FT, MI")
NOT_MEMBER = ReplyError("ERR could not decode requested zset member")
NEED_RADIUS = ReplyError("ERR need numeric radius")
NEED_WIDTH = ReplyError("ERR need numeric width")
NEED_HEIGHT = ReplyError("ERR need numeric height")
NEGATIVE_RADIUS = ReplyError("ERR radius cannot be negative")
NEGATIVE_BOX = ReplyError("ERR height or width cannot be negative")
COUNT_POSITIVE = ReplyError("ERR COUNT must be > 0")
ANY_NEEDS_COUNT = ReplyError("ERR the ANY argument requires COUNT argument")


def _word(b: bytes) -> bytes:
    """An option as strcasecmp sees it: up to a NUL byte, any case."""
    i = b.find(b"\0")
    return (b if i < 0 else b[:i]).lower()


def _get(c: Context, key: bytes) -> ZSet | None:
    """lookupKeyRead + checkType: the set, None if missing, WRONGTYPE for another type."""
    return get_zset(c.db, key, True)


def _lonlat(lon: bytes, lat: bytes) -> tuple[float, float]:
    """extractLongLatOrReply: both parsed (longitude first), then the range checked."""
    x = parse_double(lon)
    y = parse_double(lat)
    if x < geo.GEO_LONG_MIN or x > geo.GEO_LONG_MAX or y < geo.GEO_LAT_MIN or y > geo.GEO_LAT_MAX:
        raise ReplyError(f"ERR invalid longitude,latitude pair {x:f},{y:f}")
    return x, y


def _unit(b: bytes) -> float:
    """extractUnitOrReply: meters per unit."""
    to_meters = geo.UNITS.get(_word(b))
    if to_meters is None:
        raise BAD_UNIT
    return to_meters


def _coord(c: Context, x: float) -> bytes:
    """A coordinate as addReplyHumanLongDouble sends it."""
    text = geo.format_coordinate(x)
    if c.resp == 2:
        return b"$%d\r\n%b\r\n" % (len(text), text)
    return b",%b\r\n" % text


def _position(c: Context, x: float, y: float) -> Raw:
    return Raw(b"*2\r\n" + _coord(c, x) + _coord(c, y))


# --- GEOADD -----------------------------------------------------------------------------------


def _geoadd_options(args: list[bytes]) -> tuple[int, int]:
    """GEOADD's ``[NX | XX] [CH]`` in any order: (ZADD flags, index of the first longitude)."""
    flags = 0
    i = 2
    while i < len(args):
        opt = _word(args[i])
        if opt == b"nx":
            flags |= _NX
        elif opt == b"xx":
            flags |= _XX
        elif opt == b"ch":
            flags |= _CH
        else:
            break
        i += 1
    return flags, i


def _geoadd_pairs(args: list[bytes], first: int) -> list[bytes]:
    """The ``score member`` pairs of the ZADD GEOADD amounts to (scores as integers)."""
    pairs: list[bytes] = []
    for j in range(first, len(args), 3):
        x, y = _lonlat(args[j], args[j + 1])
        pairs.append(b"%d" % geo.encode_score(x, y))
        pairs.append(args[j + 2])
    return pairs


def geoadd_as_zadd(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """GEOADD propagates as the ZADD it ran (geoaddCommand's replaceClientCommandVector): the
    options as sent, the positions as their scores."""
    _, first = _geoadd_options(args)
    return [[b"zadd", *args[1:first], *_geoadd_pairs(args, first)]]


@command(
    "geoadd",
    -5,
    "write denyoom",
    (1, 1, 1),
    group=G,
    summary="Add one or more geospatial items in the geospatial index represented using a "
    "sorted set",
    since="3.2.0",
    complexity="O(log(N)) for each item added, where N is the number of elements in the sorted "
    "set.",
    args="key [NX | XX] [CH] longitude:double latitude:double member "
    "[longitude:double latitude:double member ...]",
    key_flags="RW update",
    history=(("6.2.0", "Added the `CH`, `NX` and `XX` options."),),
    propagate=geoadd_as_zadd,
)
def geoadd(c: Context, args: list[bytes]) -> Any:
    flags, first = _geoadd_options(args)
    if (len(args) - first) % 3 or (flags & _NX and flags & _XX):
        raise SYNTAX
    return _zadd(c, args[1], flags, _geoadd_pairs(args, first))


# --- GEODIST GEOHASH GEOPOS ----------------------------------------------------------------------


@command(
    "geodist",
    -4,
    "readonly",
    (1, 1, 1),
    group=G,
    summary="Returns the distance between two members of a geospatial index",
    since="3.2.0",
    complexity="O(log(N))",
    args="key member1 member2 [M | KM | FT | MI]",
)
def geodist(c: Context, args: list[bytes]) -> Any:
    to_meter = 1.0
    if len(args) == 5:
        to_meter = _unit(args[4])
    elif len(args) > 5:
        raise SYNTAX
    z = _get(c, args[1])
    if z is None:
        return None
    s1 = z.get(args[2])
    s2 = z.get(args[3])
    if s1 is None or s2 is None:
        return None
    x1, y1 = geo.decode_score(s1)
    x2, y2 = geo.decode_score(s2)
    return geo.format_distance(geo.distance(x1, y1, x2, y2) / to_meter)


@command(
    "geohash",
    -2,
    "readonly",
    (1, 1, 1),
    group=G,
    summary="Returns members of a geospatial index as standard geohash strings",
    since="3.2.0",
    complexity="O(log(N)) for each member requested, where N is the number of elements in the "
    "sorted set.",
    args="key member [member ...]",
)
def geohash(c: Context, args: list[bytes]) -> Any:
    z = _get(c, args[1])
    if z is None:
        return [None] * (len(args) - 2)
    out: list[Any] = []
    for m in args[2:]:
        score = z.get(m)
        out.append(None if score is None else geo.geohash_string(score))
    return out


@command(
    "geopos",
    -2,
    "readonly",
    (1, 1, 1),
    group=G,
    summary="Returns longitude and latitude of members of a geospatial index",
    since="3.2.0",
    complexity="O(N) where N is the number of members requested.",
    args="key member [member ...]",
)
def geopos(c: Context, args: list[bytes]) -> Any:
    z = _get(c, args[1])
    if z is None:
        return [NULL_ARRAY] * (len(args) - 2)
    out: list[Any] = []
    for m in args[2:]:
        score = z.get(m)
        if score is None:
            out.append(NULL_ARRAY)
        else:
            out.append(_position(c, *geo.decode_score(score)))
    return out


# --- the searches (georadiusGeneric) -------------------------------------------------------------

RADIUS_COORDS = 1 << 0  # GEORADIUS: around coordinates
RADIUS_MEMBER = 1 << 1  # GEORADIUSBYMEMBER: around a member
RADIUS_NOSTORE = 1 << 2  # the _RO variants: no STORE / STOREDIST
GEOSEARCH = 1 << 3  # GEOSEARCH's arguments
GEOSEARCHSTORE = 1 << 4  # GEOSEARCHSTORE: STOREDIST without a key

SORT_NONE, SORT_ASC, SORT_DESC = 0, 1, 2


def _distance(args: list[bytes], i: int) -> tuple[float, float]:
    """extractDistanceOrReply: (radius, meters per unit) from ``radius unit``."""
    radius = parse_double(args[i], NEED_RADIUS)
    if radius < 0:
        raise NEGATIVE_RADIUS
    return radius, _unit(args[i + 1])


def _member_position(z: ZSet, member: bytes) -> tuple[float, float]:
    """longLatFromMember."""
    score = z.get(member)
    if score is None:
        raise NOT_MEMBER
    return geo.decode_score(score)


def _georadius(c: Context, args: list[bytes], src_index: int, flags: int) -> Any:
    storekey: bytes | None = None
    storedist = False
    z = _get(c, args[src_index])
    kind = geo.CIRCULAR
    lon = lat = radius = width = height = 0.0
    conversion = 1.0
    if flags & RADIUS_COORDS:
        base = 6
        lon, lat = _lonlat(args[2], args[3])
        radius, conversion = _distance(args, 4)
    elif flags & RADIUS_MEMBER:
        base = 5
        if z is not None:  # without the key, nothing is parsed but the options
            lon, lat = _member_position(z, args[2])
            radius, conversion = _distance(args, 3)
    else:
        base = 2
        if flags & GEOSEARCHSTORE:
            base = 3
            storekey = args[1]

    withdist = withhash = withcoord = False
    frommember = fromloc = byradius = bybox = False
    sort = SORT_NONE
    any_ = False
    count = 0
    search = flags & GEOSEARCH
    can_store = not flags & RADIUS_NOSTORE and not search
    remaining = len(args) - base
    i = 0
    while i < remaining:
        j = base + i
        arg = _word(args[j])
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = SORT_ASC
        elif arg == b"desc":
            sort = SORT_DESC
        elif arg == b"count" and i + 1 < remaining:
            count = parse_int(args[j + 1])
            if count <= 0:
                raise COUNT_POSITIVE
            i += 1
        elif arg == b"store" and i + 1 < remaining and can_store:
            storekey = args[j + 1]
            storedist = False
            i += 1
        elif arg == b"storedist" and i + 1 < remaining and can_store:
            storekey = args[j + 1]
            storedist = True
            i += 1
        elif arg == b"storedist" and search and flags & GEOSEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and i + 1 < remaining and search and not fromloc:
            if z is not None:
                lon, lat = _member_position(z, args[j + 1])
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and i + 2 < remaining and search and not frommember:
            lon, lat = _lonlat(args[j + 1], args[j + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and i + 2 < remaining and search and not bybox:
            radius, conversion = _distance(args, j + 1)
            kind = geo.CIRCULAR
            byradius = True
            i += 2
        elif arg == b"bybox" and i + 3 < remaining and search and not byradius:
            width = parse_double(args[j + 1], NEED_WIDTH)
            height = parse_double(args[j + 2], NEED_HEIGHT)
            if height < 0 or width < 0:
                raise NEGATIVE_BOX
            conversion = _unit(args[j + 3])
            kind = geo.RECTANGLE
            bybox = True
            i += 3
        else:
            raise SYNTAX
        i += 1

    name = args[0].decode(errors="replace")
    if storekey is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & GEOSEARCHSTORE else "STORE option in GEORADIUS"
        raise ReplyError(
            f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )
    if search and not (frommember or fromloc):
        raise ReplyError(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if search and not (byradius or bybox):
        raise ReplyError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise ANY_NEEDS_COUNT

    if z is None:
        if storekey is not None:
            _delete(c, storekey)
            return 0
        return []

    if count and sort == SORT_NONE and not any_:
        sort = SORT_ASC
    shape = geo.Shape(kind, lon, lat, conversion, radius, width, height)
    points = geo.search(z, shape, count if any_ else 0)
    if not points and storekey is None:
        return []
    returned = len(points) if count == 0 or len(points) < count else count
    if sort != SORT_NONE:
        geo.sort_points(points, sort == SORT_DESC, returned)

    if storekey is None:
        if not (withdist or withhash or withcoord):
            return [p[4] for p in points[:returned]]
        out: list[Any] = []
        fmt = geo.format_distance
        for p in points[:returned]:
            item: list[Any] = [p[4]]
            if withdist:
                item.append(fmt(p[0] / conversion))
            if withhash:
                item.append(int(p[3]))
            if withcoord:
                item.append(_position(c, p[1], p[2]))
            out.append(item)
        return out

    if not returned:
        _delete(c, storekey)
        return 0
    if storedist:
        scores = {p[4]: p[0] / conversion for p in points[:returned]}
    else:
        scores = {p[4]: p[3] for p in points[:returned]}
    db = c.db
    db.set(storekey, stored(ZSet.from_scores(scores)))
    db.changed(storekey, "geosearchstore" if search else "georadiusstore", returned)
    return returned


def _delete(c: Context, key: bytes) -> None:
    db = c.db
    if db.delete(key):
        db.changed(key, "del")


def georadius_getkeys(args: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """georadiusGetKeys: the key, and the key after the last STORE / STOREDIST from the
    sixth argument on (for the calls the key specs do not fit)."""
    stored = -1
    i = 5
    while i < len(args):
        if _word(args[i]) in (b"store", b"storedist") and i + 1 < len(args):
            stored = i + 1
            i += 1
        i += 1
    return [(1, ())] if stored == -1 else [(1, ()), (stored, ())]


_SEARCH_DOC = (
    "O(N+log(M)) where N is the number of elements inside the bounding box of the circular "
    "area delimited by center and radius and M is the number of items inside the index."
)
_UNITS = "<M | KM | FT | MI>"
_RADIUS_OPTS = "[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"
_STORE_OPTS = "[STORE key] [STOREDIST key]"
_RADIUS_HISTORY = (
    ("6.2.0", "Added the `ANY` option for `COUNT`."),
    ("7.0.0", "Added support for uppercase unit names."),
)
_UPPERCASE_UNITS = (("7.0.0", "Added support for uppercase unit names."),)


def _store_specs(startfrom: int) -> tuple[KeySpec, ...]:
    return (
        KeySpec("RO access", 1),
        KeySpec("OW update", keyword="STORE", startfrom=startfrom),
        KeySpec("OW update", keyword="STOREDIST", startfrom=startfrom),
    )


@command(
    "georadius",
    -6,
    "write denyoom",
    group=G,
    summary="Query a sorted set representing a geospatial index to fetch members matching a "
    "given maximum distance from a point",
    since="3.2.0",
    complexity=_SEARCH_DOC,
    args=f"key longitude:double latitude:double radius:double {_UNITS} {_RADIUS_OPTS} "
    f"{_STORE_OPTS}",
    key_specs=_store_specs(6),
    getkeys=georadius_getkeys,
    history=_RADIUS_HISTORY,
)
def georadius(c: Context, args: list[bytes]) -> Any:
    return _georadius(c, args, 1, RADIUS_COORDS)


@command(
    "georadiusbymember",
    -5,
    "write denyoom",
    group=G,
    summary="Query a sorted set representing a geospatial index to fetch members matching a "
    "given maximum distance from a member",
    since="3.2.0",
    complexity=_SEARCH_DOC,
    args=f"key member radius:double {_UNITS} {_RADIUS_OPTS} {_STORE_OPTS}",
    key_specs=_store_specs(5),
    getkeys=georadius_getkeys,
    history=_UPPERCASE_UNITS,
)
def georadiusbymember(c: Context, args: list[bytes]) -> Any:
    return _georadius(c, args, 1, RADIUS_MEMBER)


@command(
    "georadius_ro",
    -6,
    "readonly",
    (1, 1, 1),
    group=G,
    summary="A read-only variant for GEORADIUS",
    since="3.2.10",
    complexity=_SEARCH_DOC,
    args=f"key longitude:double latitude:double radius:double {_UNITS} {_RADIUS_OPTS}",
    history=(("6.2.0", "Added the `ANY` option for `COUNT`."),),
)
def georadius_ro(c: Context, args: list[bytes]) -> Any:
    return _georadius(c, args, 1, RADIUS_COORDS | RADIUS_NOSTORE)


@command(
    "georadiusbymember_ro",
    -5,
    "readonly",
    (1, 1, 1),
    group=G,
    summary="A read-only variant for GEORADIUSBYMEMBER",
    since="3.2.10",
    complexity=_SEARCH_DOC,
    args=f"key member radius:double {_UNITS} {_RADIUS_OPTS}",
)
def georadiusbymember_ro(c: Context, args: list[bytes]) -> Any:
    return _georadius(c, args, 1, RADIUS_MEMBER | RADIUS_NOSTORE)


_FROM_BY = (
    f"<FROMMEMBER member | FROMLONLAT longitude:double latitude:double> "
    f"<BYRADIUS radius:double {_UNITS} | BYBOX width:double height:double {_UNITS}>"
)
_GEOSEARCH_DOC = (
    "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area "
    "around the shape provided as the filter and M is the number of items inside the shape"
)


@command(
    "geosearch",
    -7,
    "readonly",
    (1, 1, 1),
    group=G,
    summary="Query a sorted set representing a geospatial index to fetch members inside an "
    "area of a box or a circle.",
    since="6.2.0",
    complexity=_GEOSEARCH_DOC,
    args=f"key {_FROM_BY} [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]",
    history=_UPPERCASE_UNITS,
)
def geosearch(c: Context, args: list[bytes]) -> Any:
    return _georadius(c, args, 1, GEOSEARCH)


@command(
    "geosearchstore",
    -8,
    "write denyoom",
    group=G,
    summary="Query a sorted set representing a geospatial index to fetch members inside an "
    "area of a box or a circle, and store the result in another key.",
    since="6.2.0",
    complexity=_GEOSEARCH_DOC,
    args=f"destination source {_FROM_BY} [ASC | DESC] [COUNT count [ANY]] [STOREDIST]",
    key_specs=(KeySpec("OW update", 1), KeySpec("RO access", 2)),
    history=_UPPERCASE_UNITS,
)
def geosearchstore(c: Context, args: list[bytes]) -> Any:
    return _georadius(c, args, 2, GEOSEARCH | GEOSEARCHSTORE)
