"""Geo values: Redis 7.0's geohash (geohash.c, geohash_helper.c) and the search of geo.c, with
no command parsing (that is ``minikv.commands.geo``).

A geo set is a sorted set (``minikv.zset.ZSet``) whose scores are 52-bit geohashes: the
longitude and latitude, each scaled to 26 bits over [-180, 180] and [-85.05112878,
85.05112878], interleaved (latitude in the even bits, longitude in the odd ones). Everything
here is the C code's arithmetic in the same order on the same IEEE doubles, and the trigonometry
is the C library's (``math.sin`` and friends call the libm Redis links to), so the positions,
distances and search areas come out with the same bits as Redis's, and so do the digits
printed from them.

Where Python would raise and C carries on (``sin(inf)``, ``asin`` of a value past 1, a
division by zero, a conversion of a double to an integer out of range) the functions below
give what C gives on x86-64 (NaN, infinities, the "integer indefinite" of cvttsd2si), so an
absurd radius or a member whose score is no geohash behaves as it does in Redis.

A search (``search``) is Redis's: the center box of the estimated step and its eight
neighbours (``areas``), each a score range [min, max) of the sorted set read in order, every
point in range decoded and kept when it is inside the shape; duplicates from overlapping
boxes are kept as Redis keeps them. ``sort_points`` orders the result as Redis does: glibc's
qsort (a stable merge sort) for a full sort, Redis's pqsort (partial quicksort) when COUNT
keeps fewer than were found, whose order of equal distances is reproduced exactly.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minikv.zset import ZSet

GEO_STEP_MAX = 26  # 26 * 2 = 52 bits
GEO_LAT_MIN = -85.05112878
GEO_LAT_MAX = 85.05112878
GEO_LONG_MIN = -180.0
GEO_LONG_MAX = 180.0

D_R = math.pi / 180.0
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37

_MASK64 = (1 << 64) - 1
_TWO63 = 9223372036854775808.0
_INDEFINITE = 1 << 63  # cvttsd2si's answer for NaN and values out of range, as unsigned

#: Unit name -> meters per unit (extractUnitOrReply).
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}

CIRCULAR = 1
RECTANGLE = 2

# --- the C library's behaviour where Python's differs -----------------------------------------


def _sin(x: float) -> float:
    try:
        return math.sin(x)
    except ValueError:  # sin(+-inf) is NaN in C
        return math.nan


def _cos(x: float) -> float:
    try:
        return math.cos(x)
    except ValueError:
        return math.nan


def _asin(x: float) -> float:
    try:
        return math.asin(x)
    except ValueError:  # past 1 (rounding, for antipodes): NaN in C
        return math.nan


def _sqrt(x: float) -> float:
    try:
        return math.sqrt(x)
    except ValueError:
        return math.nan


def _div(a: float, b: float) -> float:
    """``a / b`` as C divides doubles (a division by zero gives an infinity or NaN)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _cvtt(x: float) -> int:
    """x86-64's cvttsd2si: truncation to a signed 64-bit integer, the "integer indefinite"
    (INT64_MIN) for NaN and values out of range; as an unsigned 64-bit value."""
    if -_TWO63 <= x < _TWO63:
        return int(x) & _MASK64
    return _INDEFINITE


def to_uint64(d: float) -> int:
    """C's ``(uint64_t)d`` as gcc compiles it for x86-64 (decodeGeohash's cast of a score):
    values from 2**63 up are converted as ``d - 2**63`` with the top bit flipped, others as
    a signed conversion. So -1 is 2**64-1, +-inf and huge values come out as 0 or 2**63."""
    if 0.0 <= d < _TWO63:
        return int(d)
    if d >= _TWO63:
        return _cvtt(d - _TWO63) ^ _INDEFINITE
    return _cvtt(d)


def llrint(x: float) -> int:
    """C's llrint in the default rounding mode (ties to even); LLONG_MIN where x86's
    conversion is out of range (NaN, infinities)."""
    if -_TWO63 <= x < _TWO63:
        return round(x)
    return -(1 << 63)


# --- bit interleaving (geohash.c's interleave64 / deinterleave64) -----------------------------


def _spread8(v: int) -> int:
    out = 0
    for i in range(8):
        if v >> i & 1:
            out |= 1 << (2 * i)
    return out


_SPREAD8 = [_spread8(v) for v in range(1 << 8)]
#: 16 bits -> the same bits in the even positions of 32.
_SPREAD = [lo | hi << 16 for hi in _SPREAD8 for lo in _SPREAD8]
#: 16 bits -> their even bits packed into 8.
_PACK = [0] * (1 << 16)
for _v, _s in enumerate(_SPREAD8):
    for _odd in _SPREAD8:
        _PACK[_s | _odd << 1] = _v
del _v, _s, _odd


def interleave64(xlo: int, ylo: int) -> int:
    """The bits of ``xlo`` in the even positions, those of ``ylo`` in the odd ones (both 32
    bits)."""
    sp = _SPREAD
    x = sp[xlo & 0xFFFF] | sp[xlo >> 16 & 0xFFFF] << 32
    y = sp[ylo & 0xFFFF] | sp[ylo >> 16 & 0xFFFF] << 32
    return x | y << 1


def deinterleave64(bits: int) -> tuple[int, int]:
    """The even bits of a 64-bit value and its odd bits, each packed into 32: (latitude part,
    longitude part) of a geohash."""
    p = _PACK
    y = bits >> 1
    x = (
        p[bits & 0xFFFF]
        | p[bits >> 16 & 0xFFFF] << 8
        | p[bits >> 32 & 0xFFFF] << 16
        | p[bits >> 48 & 0xFFFF] << 24
    )
    y = p[y & 0xFFFF] | p[y >> 16 & 0xFFFF] << 8 | p[y >> 32 & 0xFFFF] << 16 | p[y >> 48] << 24
    return x, y


# --- encoding and decoding ------------------------------------------------------------------------

#: A geohash: (bits, step). Step 0 with bits 0 is the "zero" hash (an excluded search box).
Hash = tuple[int, int]
#: A box: (longitude min, longitude max, latitude min, latitude max).
Area = tuple[float, float, float, float]
ZERO: Hash = (0, 0)

_LAT_SCALE = GEO_LAT_MAX - GEO_LAT_MIN
_LONG_SCALE = GEO_LONG_MAX - GEO_LONG_MIN


def encode(
    longitude: float,
    latitude: float,
    step: int = GEO_STEP_MAX,
    lon_range: tuple[float, float] = (GEO_LONG_MIN, GEO_LONG_MAX),
    lat_range: tuple[float, float] = (GEO_LAT_MIN, GEO_LAT_MAX),
) -> Hash | None:
    """geohashEncode: None where it fails (a position outside the geo limits or the ranges)."""
    if step > 32 or step == 0:
        return None
    if (
        longitude > GEO_LONG_MAX
        or longitude < GEO_LONG_MIN
        or latitude > GEO_LAT_MAX
        or latitude < GEO_LAT_MIN
    ):
        return None
    lon_min, lon_max = lon_range
    lat_min, lat_max = lat_range
    if latitude < lat_min or latitude > lat_max or longitude < lon_min or longitude > lon_max:
        return None
    lat_offset = (latitude - lat_min) / (lat_max - lat_min)
    long_offset = (longitude - lon_min) / (lon_max - lon_min)
    scale = float(1 << step)
    return interleave64(int(lat_offset * scale), int(long_offset * scale)), step


def align52(h: Hash) -> int:
    """geohashAlign52Bits: the hash as a 52-bit score prefix."""
    return (h[0] << (52 - h[1] * 2)) & _MASK64


def encode_score(longitude: float, latitude: float) -> int:
    """The score GEOADD stores for a valid position."""
    h = encode(longitude, latitude)
    assert h is not None
    return align52(h)


def decode_area(
    h: Hash,
    lon_range: tuple[float, float] = (GEO_LONG_MIN, GEO_LONG_MAX),
    lat_range: tuple[float, float] = (GEO_LAT_MIN, GEO_LAT_MAX),
) -> Area:
    """geohashDecode: the box of a (non-zero) hash."""
    bits, step = h
    ilato, ilono = deinterleave64(bits)
    lat_min, lat_max = lat_range
    lon_min, lon_max = lon_range
    lat_scale = lat_max - lat_min
    long_scale = lon_max - lon_min
    div = float(1 << step)
    return (
        lon_min + (ilono * 1.0 / div) * long_scale,
        lon_min + (((ilono + 1) & 0xFFFFFFFF) * 1.0 / div) * long_scale,
        lat_min + (ilato * 1.0 / div) * lat_scale,
        lat_min + (((ilato + 1) & 0xFFFFFFFF) * 1.0 / div) * lat_scale,
    )


def decode_score(score: float) -> tuple[float, float]:
    """decodeGeohash: the (longitude, latitude) of a score, the center of its 52-bit box,
    clamped to the geo limits. Any score decodes (Redis's check can never fail at step 26),
    an arbitrary one to wherever its bits point."""
    ilato, ilono = deinterleave64(to_uint64(score))
    x = _cell_center(ilono, GEO_LONG_MIN, GEO_LONG_MAX, _LONG_SCALE)
    y = _cell_center(ilato, GEO_LAT_MIN, GEO_LAT_MAX, _LAT_SCALE)
    return x, y


_INV26 = 1.0 / 67108864.0  # 2**-26


def _cell_center(i: int, lo: float, hi: float, scale: float) -> float:
    """One axis of decodeGeohash: the middle of cell ``i`` (26 bits), in Redis's operation
    order (so the digits are Redis's), clamped to ``lo..hi``."""
    # Multiplying by 2**-26 is exactly Redis's division by 2**26 (a power of two).
    v = (lo + i * _INV26 * scale + (lo + ((i + 1) & 0xFFFFFFFF) * _INV26 * scale)) / 2
    if v > hi:
        return hi
    if v < lo:
        return lo
    return v


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes:
    """GEOHASH's 11 characters: the position decoded, re-encoded over the standard ranges
    ([-180, 180] and [-90, 90], not Redis's internal latitude limits), 5 bits a character;
    the 11th is always "0" (there are only 52 bits)."""
    lon, lat = decode_score(score)
    h = encode(lon, lat, 26, (-180.0, 180.0), (-90.0, 90.0))
    bits = h[0] if h is not None else 0
    out = bytearray(11)
    for i in range(10):
        out[i] = _ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F]
    out[10] = 0x30
    return bytes(out)


# --- neighbours (geohash.c) ---------------------------------------------------------------------


def _move(h: Hash, d: int, axis: int) -> Hash:
    """Redis's geohash_move_x / geohash_move_y: step the interleaved ``axis`` bits (the odd
    bits are longitude, the even ones latitude) by ``d`` cells, the other axis kept."""
    bits, step = h
    if d == 0:
        return h
    other = axis ^ _MASK64
    a = bits & axis
    keep = bits & other
    zz = other >> (64 - step * 2)
    if d > 0:
        a = (a + (zz + 1)) & _MASK64
    else:
        a = a | zz
        a = (a - (zz + 1)) & _MASK64
    a &= axis >> (64 - step * 2)
    return a | keep, step


def _move_x(h: Hash, d: int) -> Hash:
    return _move(h, d, 0xAAAAAAAAAAAAAAAA)


def _move_y(h: Hash, d: int) -> Hash:
    return _move(h, d, 0x5555555555555555)


def neighbors(h: Hash) -> dict[str, Hash]:
    """geohashNeighbors: the eight boxes around ``h`` at its step."""
    return {
        "north": _move_y(h, 1),
        "south": _move_y(h, -1),
        "east": _move_x(h, 1),
        "west": _move_x(h, -1),
        "north_east": _move_y(_move_x(h, 1), 1),
        "north_west": _move_y(_move_x(h, -1), 1),
        "south_east": _move_y(_move_x(h, 1), -1),
        "south_west": _move_y(_move_x(h, -1), -1),
    }


# --- distances (geohash_helper.c) ---------------------------------------------------------------


def lat_distance(lat1d: float, lat2d: float) -> float:
    """geohashGetLatDistance: meters along a meridian."""
    return EARTH_RADIUS_IN_METERS * abs(lat2d * D_R - lat1d * D_R)


def distance(lon1d: float, lat1d: float, lon2d: float, lat2d: float) -> float:
    """geohashGetDistance: the haversine great-circle distance in meters, with its shortcut
    when the longitudes are the same."""
    lon1r = lon1d * D_R
    lon2r = lon2d * D_R
    v = _sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1d, lat2d)
    lat1r = lat1d * D_R
    lat2r = lat2d * D_R
    u = _sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * _asin(_sqrt(a))


def distance_if_in_rectangle(
    width_m: float, height_m: float, x1: float, y1: float, x2: float, y2: float
) -> float | None:
    """geohashGetDistanceIfInRectangle: the distance from the box's center (x1, y1) to the
    point (x2, y2) if the point is in the box, else None."""
    if lat_distance(y2, y1) > height_m / 2:
        return None
    if distance(x2, y2, x1, y2) > width_m / 2:
        return None
    return distance(x1, y1, x2, y2)


# --- search areas (geohash_helper.c) -------------------------------------------------------------


class Shape:
    """GeoShape: a center and a circle (``radius``) or box (``width``, ``height``) in units of
    ``conversion`` meters."""

    __slots__ = ("conversion", "height", "kind", "lat", "lon", "radius", "width")

    def __init__(
        self,
        kind: int,
        lon: float,
        lat: float,
        conversion: float,
        radius: float = 0.0,
        width: float = 0.0,
        height: float = 0.0,
    ) -> None:
        self.kind = kind
        self.lon = lon
        self.lat = lat
        self.conversion = conversion
        self.radius = radius
        self.width = width
        self.height = height


def estimate_steps(range_meters: float, lat: float) -> int:
    """geohashEstimateStepsByRadius."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def bounding_box(shape: Shape) -> tuple[float, float, float, float]:
    """geohashBoundingBox: (min longitude, min latitude, max longitude, max latitude)."""
    longitude, latitude = shape.lon, shape.lat
    circle = shape.kind == CIRCULAR
    height = shape.conversion * (shape.radius if circle else shape.height / 2)
    width = shape.conversion * (shape.radius if circle else shape.width / 2)
    lat_delta = (height / EARTH_RADIUS_IN_METERS) / D_R
    long_delta_top = _div(width / EARTH_RADIUS_IN_METERS, _cos((latitude + lat_delta) * D_R)) / D_R
    long_delta_bottom = (
        _div(width / EARTH_RADIUS_IN_METERS, _cos((latitude - lat_delta) * D_R)) / D_R
    )
    if latitude < 0:
        return (
            longitude - long_delta_bottom,
            latitude - lat_delta,
            longitude + long_delta_bottom,
            latitude + lat_delta,
        )
    return (
        longitude - long_delta_top,
        latitude - lat_delta,
        longitude + long_delta_top,
        latitude + lat_delta,
    )


def areas(shape: Shape) -> list[Hash]:
    """geohashCalculateAreasByShapeWGS84: the boxes to search, in the order Redis searches
    them (center, N, S, E, W, NE, NW, SE, SW), ``ZERO`` for those it excludes."""
    min_lon, min_lat, max_lon, max_lat = bounding_box(shape)
    longitude, latitude = shape.lon, shape.lat
    if shape.kind == CIRCULAR:
        radius_meters = shape.radius
    else:
        w2, h2 = shape.width / 2, shape.height / 2
        radius_meters = _sqrt(w2 * w2 + h2 * h2)
    radius_meters *= shape.conversion
    steps = estimate_steps(radius_meters, latitude)

    h = encode(longitude, latitude, steps)
    assert h is not None  # the center is a valid position
    nb = neighbors(h)
    decrease_step = (
        decode_area(nb["north"])[3] < max_lat
        or decode_area(nb["south"])[2] > min_lat
        or decode_area(nb["east"])[1] < max_lon
        or decode_area(nb["west"])[0] > min_lon
    )
    if steps > 1 and decrease_step:
        steps -= 1
        h = encode(longitude, latitude, steps)
        assert h is not None
        nb = neighbors(h)
    area = decode_area(h)
    if steps >= 2:
        if area[2] < min_lat:
            nb["south"] = nb["south_west"] = nb["south_east"] = ZERO
        if area[3] > max_lat:
            nb["north"] = nb["north_east"] = nb["north_west"] = ZERO
        if area[0] < min_lon:
            nb["west"] = nb["south_west"] = nb["north_west"] = ZERO
        if area[1] > max_lon:
            nb["east"] = nb["south_east"] = nb["north_east"] = ZERO
    return [
        h,
        nb["north"],
        nb["south"],
        nb["east"],
        nb["west"],
        nb["north_east"],
        nb["north_west"],
        nb["south_east"],
        nb["south_west"],
    ]


# --- the search (geo.c) ---------------------------------------------------------------------------

#: A point found: [distance in meters, longitude, latitude, score, member] (geoPoint).
Point = list


_TWO_R = 2.0 * EARTH_RADIUS_IN_METERS

# deinterleave64's steps (shift, mask), applied to a whole chunk of hashes at once: the hashes
# side by side in one big integer, 64 bits each, and each mask repeated once per hash. No step
# moves a bit across a hash's boundary into a position its mask keeps, so every 64-bit slot
# comes out as deinterleave64 of its hash; Python's big-integer operations do the loop in C.
_DEINTERLEAVE = (
    (0, 0x5555555555555555),
    (1, 0x3333333333333333),
    (2, 0x0F0F0F0F0F0F0F0F),
    (4, 0x00FF00FF00FF00FF),
    (8, 0x0000FFFF0000FFFF),
    (16, 0x00000000FFFFFFFF),
)
_CHUNK = 512  # hashes decoded together (a search with COUNT .. ANY stops within a chunk)
_masks_cache: dict[int, list[int]] = {}


def _masks(n: int) -> list[int]:
    masks = _masks_cache.get(n)
    if masks is None:
        masks = [int.from_bytes(m.to_bytes(8, "little") * n, "little") for _, m in _DEINTERLEAVE]
        if n == _CHUNK or len(_masks_cache) < 64:
            _masks_cache[n] = masks
    return masks


def deinterleave_many(scores: list[float]) -> tuple[array[int], array[int]]:
    """``deinterleave64(to_uint64(s))`` of each score, as two arrays: (latitude parts,
    longitude parts)."""
    n = len(scores)
    try:
        bits = array("Q", map(int, scores))  # int() truncates as the cast does, below 2**64
    except OverflowError:  # negative or huge scores (never in a search's score ranges)
        bits = array("Q", map(to_uint64, scores))
    whole = int.from_bytes(bits.tobytes(), "little")
    x, y = whole, whole >> 1
    for (shift, _), mask in zip(_DEINTERLEAVE, _masks(n), strict=True):
        x = (x | x >> shift) & mask
        y = (y | y >> shift) & mask
    size = 8 * n
    lats, lons = array("Q"), array("Q")
    lats.frombytes(x.to_bytes(size, "little"))
    lons.frombytes(y.to_bytes(size, "little"))
    return lats, lons


def _chunks(entries: Iterable[tuple[float, bytes]]) -> Iterator[Any]:
    """(score, member, latitude part, longitude part) of each entry, a chunk at a time."""
    it = iter(entries)
    while True:
        chunk = list(islice(it, _CHUNK))
        if not chunk:
            return
        lats, lons = deinterleave_many([e[0] for e in chunk])
        yield zip(chunk, lats, lons, strict=True)
        if len(chunk) < _CHUNK:
            return


_NO_BOUND = 1 << 40  # past any 32-bit part


def _lat_parts(lat: float, band_m: float) -> tuple[int, int]:
    """The latitude parts (``ilato``) outside of which a point is certainly farther than
    ``band_m`` meters from latitude ``lat`` along the meridian: (low, high), widened by two
    cells, and open on a side the band reaches the latitude limit on (clamped positions)."""
    ddeg = band_m / EARTH_RADIUS_IN_METERS / D_R
    if not ddeg < 1000.0:  # huge, infinite
        return -1, _NO_BOUND
    scale = 67108864.0 / _LAT_SCALE
    lo_lat, hi_lat = lat - ddeg, lat + ddeg
    lo = -1 if lo_lat <= GEO_LAT_MIN else math.floor((lo_lat - GEO_LAT_MIN) * scale) - 2
    hi = _NO_BOUND if hi_lat >= GEO_LAT_MAX else math.ceil((hi_lat - GEO_LAT_MIN) * scale) + 2
    return lo, hi


def _lon_parts(lo_lon: float, hi_lon: float) -> tuple[int, int]:
    """The longitude parts (``ilono``) of the positions in [lo_lon, hi_lon], widened by two
    cells (and taking in the clamped ones at the ends)."""
    if lo_lon > GEO_LONG_MAX or hi_lon < GEO_LONG_MIN:
        return 1, 0
    scale = 67108864.0 / _LONG_SCALE
    lo = -1 if lo_lon <= GEO_LONG_MIN else math.floor((lo_lon - GEO_LONG_MIN) * scale) - 2
    hi = _NO_BOUND if hi_lon >= GEO_LONG_MAX else math.ceil((hi_lon - GEO_LONG_MIN) * scale) + 2
    return lo, hi


def _scan_circle(
    entries: Iterable[tuple[float, bytes]], shape: Shape, out: list[Point], limit: int
) -> bool:
    """The points of ``entries`` (score, member) within the circle, appended to ``out``;
    True once ``limit`` (if set) points are there. decodeGeohash and
    geohashGetDistanceIfInRadiusWGS84 inlined: the search's inner loop.

    Points whose latitude alone puts them farther than the radius (plus a margin far above
    any rounding) are skipped before any floating-point work, on the integer parts of their
    hashes: the haversine distance is never less than the distance along the meridian, so
    Redis rejects them too. Near the center's antipode that does not hold for the computed
    value (``asin`` of a sum rounded past 1 is NaN, which Redis keeps), so points within 11
    degrees of longitude of the far side always take the exact path."""
    sin, cos, asin, sqrt = math.sin, math.cos, math.asin, math.sqrt
    x1 = shape.lon
    lon1r = x1 * D_R
    lat1r = shape.lat * D_R
    cos1 = math.cos(lat1r)
    radius = shape.radius * shape.conversion
    # The shortcut, on the integer parts: outside the latitude band and not on the far side.
    band_lo, band_hi = _lat_parts(shape.lat, radius * 1.000001 + 1.0)
    far_lo1, far_hi1 = _lon_parts(x1 + 169.0, x1 + 191.0)
    far_lo2, far_hi2 = _lon_parts(x1 - 191.0, x1 - 169.0)
    R, TWO_R, DR = EARTH_RADIUS_IN_METERS, _TWO_R, D_R
    append = out.append
    for chunk in _chunks(entries):
        for entry, ilato, ilono in chunk:
            if (
                (ilato < band_lo or ilato > band_hi)
                and not far_lo1 <= ilono <= far_hi1
                and not far_lo2 <= ilono <= far_hi2
            ):
                continue
            y = _cell_center(ilato, GEO_LAT_MIN, GEO_LAT_MAX, _LAT_SCALE)
            lat2r = y * DR
            x = _cell_center(ilono, GEO_LONG_MIN, GEO_LONG_MAX, _LONG_SCALE)
            vs = sin((x * DR - lon1r) / 2)
            if vs == 0.0:
                d = R * abs(lat2r - lat1r)
            else:
                u = sin((lat2r - lat1r) / 2)
                try:
                    d = TWO_R * asin(sqrt(u * u + cos1 * cos(lat2r) * vs * vs))
                except ValueError:
                    d = math.nan
            if d > radius:
                continue
            append([d, x, y, entry[0], entry[1]])
            if limit and len(out) >= limit:
                return True
    return False


def _scan_box(
    entries: Iterable[tuple[float, bytes]], shape: Shape, out: list[Point], limit: int
) -> bool:
    """As ``_scan_circle`` for a box (geohashGetDistanceIfInRectangle)."""
    x1, y1 = shape.lon, shape.lat
    width_m = shape.width * shape.conversion
    height_m = shape.height * shape.conversion
    # Redis's first test is the latitude distance against half the height: the same
    # integer shortcut as for a circle (no NaN can come out of that test).
    band_lo, band_hi = _lat_parts(y1, height_m / 2 * 1.000001 + 1.0)
    for chunk in _chunks(entries):
        for entry, ilato, ilono in chunk:
            if ilato < band_lo or ilato > band_hi:
                continue
            y = _cell_center(ilato, GEO_LAT_MIN, GEO_LAT_MAX, _LAT_SCALE)
            x = _cell_center(ilono, GEO_LONG_MIN, GEO_LONG_MAX, _LONG_SCALE)
            d = distance_if_in_rectangle(width_m, height_m, x1, y1, x, y)
            if d is None:
                continue
            out.append([d, x, y, entry[0], entry[1]])
            if limit and len(out) >= limit:
                return True
    return False


def _box_scores(h: Hash) -> tuple[int, int]:
    """scoresOfGeoHashBox: the scores [min, max) of the points inside box ``h``."""
    return align52(h), align52((h[0] + 1, h[1]))


def search(z: ZSet, shape: Shape, limit: int = 0) -> list[Point]:
    """membersOfAllNeighbors: the points of ``z`` inside ``shape``, box after box, each box
    in score order; with ``limit`` (COUNT .. ANY) it stops once that many were found."""
    boxes = areas(shape)
    scan = _scan_circle if shape.kind == CIRCULAR else _scan_box
    out: list[Point] = []
    last = 0
    for i, box in enumerate(boxes):
        if box == ZERO:
            continue
        # Adjacent boxes can be the same (huge radii): one equal to the last one searched is
        # skipped. As in Redis, the center box (index 0) is never the "last one".
        if last and box == boxes[last]:
            continue
        if out and limit and len(out) >= limit:
            break
        lo_score, hi_score = _box_scores(box)
        lo = z.score_lo(lo_score, False)
        hi = z.score_hi(hi_score, True)
        if lo < hi and scan(z.entries(lo, hi), shape, out, limit):
            break
        last = i
    return out


# --- ordering (qsort / pqsort) -------------------------------------------------------------------


def _dist(p: Point) -> float:
    return p[0]


def _cmp_asc(a: Point, b: Point) -> int:
    """sort_gp_asc (NaN distances compare as equal to everything, as in C)."""
    if a[0] > b[0]:
        return 1
    if a[0] == b[0]:
        return 0
    return -1


def _cmp_desc(a: Point, b: Point) -> int:
    return -_cmp_asc(a, b)


def _med3(v: list[Point], a: int, b: int, c: int, cmp: Callable[[Point, Point], int]) -> int:
    if cmp(v[a], v[b]) < 0:
        if cmp(v[b], v[c]) < 0:
            return b
        return c if cmp(v[a], v[c]) < 0 else a
    if cmp(v[b], v[c]) > 0:
        return b
    return a if cmp(v[a], v[c]) < 0 else c


def pqsort(v: list[Point], cmp: Callable[[Point, Point], int], lrange: int, rrange: int) -> None:
    """Redis's pqsort.c in place: a Bentley-McIlroy quicksort that only recurses into the
    parts that overlap positions [lrange, rrange], so those end up as in a full sort. Its
    order of equal elements is its own, hence a faithful port (indexes for pointers)."""
    _pqsort(v, 0, len(v), cmp, lrange, rrange)


def _vecswap(v: list[Point], i: int, j: int, n: int) -> None:
    for k in range(n):
        v[i + k], v[j + k] = v[j + k], v[i + k]


def _pqsort(
    v: list[Point], a: int, n: int, cmp: Callable[[Point, Point], int], lr: int, rr: int
) -> None:
    while True:
        if n < 7:
            for pm in range(a + 1, a + n):
                pl = pm
                while pl > a and cmp(v[pl - 1], v[pl]) > 0:
                    v[pl], v[pl - 1] = v[pl - 1], v[pl]
                    pl -= 1
            return
        pm = a + n // 2
        if n > 7:
            pl = a
            pn = a + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(v, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(v, pm - d, pm, pm + d, cmp)
                pn = _med3(v, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(v, pl, pm, pn, cmp)
        v[a], v[pm] = v[pm], v[a]
        pa = pb = a + 1
        pc = pd = a + n - 1
        pivot = v[a]
        while True:
            while pb <= pc:
                r = cmp(v[pb], pivot)
                if r > 0:
                    break
                if r == 0:
                    v[pa], v[pb] = v[pb], v[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(v[pc], pivot)
                if r < 0:
                    break
                if r == 0:
                    v[pc], v[pd] = v[pd], v[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            v[pb], v[pc] = v[pc], v[pb]
            pb += 1
            pc -= 1
        pn = a + n
        r = min(pa - a, pb - pa)
        _vecswap(v, a, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        _vecswap(v, pb, pn - r, r)
        r = pb - pa
        if r > 1 and not (rr < a or lr >= a + r):
            _pqsort(v, a, r, cmp, lr, rr)
        r = pd - pc
        if r > 1:
            a = pn - r
            n = r
            if not (rr < a or lr >= a + r):
                continue
        return


def _msort(v: list[Point], cmp: Callable[[Point, Point], int]) -> list[Point]:
    """glibc's qsort (msort_with_tmp): a top-down merge sort taking from the left half on
    ties. Only needed where distances are NaN (which compare equal to everything in C, so no
    key sort reproduces the order)."""
    n = len(v)
    if n <= 1:
        return list(v)
    n1 = n // 2
    b1, b2 = _msort(v[:n1], cmp), _msort(v[n1:], cmp)
    out: list[Point] = []
    i = j = 0
    while i < len(b1) and j < len(b2):
        if cmp(b1[i], b2[j]) <= 0:
            out.append(b1[i])
            i += 1
        else:
            out.append(b2[j])
            j += 1
    out.extend(b1[i:])
    out.extend(b2[j:])
    return out


def sort_points(points: list[Point], descending: bool, count: int) -> None:
    """Order ``points`` in place by distance as georadiusGeneric does: all of them when
    ``count`` covers them (qsort: glibc's is a stable merge sort), else so that the first
    ``count`` are the nearest (farthest), in order (pqsort). The partial sort's result is the
    stable sort's whenever no two distances among the first ``count``, or at the cut, are
    equal; otherwise the port of pqsort runs."""
    n = len(points)
    cmp = _cmp_desc if descending else _cmp_asc
    dists = [p[0] for p in points]
    total = sum(dists)
    nan = total != total  # distances are finite, or NaN (never infinite)
    if count >= n:
        if nan:
            points[:] = _msort(points, cmp)
        else:
            points.sort(key=_dist, reverse=descending)
        return
    if not nan:
        pick = heapq.nlargest if descending else heapq.nsmallest
        head = pick(count + 1, range(n), key=dists.__getitem__)
        if len({dists[i] for i in head}) == count + 1:
            points[:] = [points[i] for i in head[:count]]
            return
    pqsort(points, cmp, 0, count - 1)


# --- reply texts ----------------------------------------------------------------------------------


def format_distance(d: float) -> bytes:
    """fixedpoint_d2string(d, 4), GEODIST's and WITHDIST's text: llrint(d * 10000) printed
    with four decimals."""
    if d == 0:
        return b"0.0000"
    s = llrint(d * 10000.0)
    sign = b""
    if s < 0:
        sign = b"-"
        s = -s
    whole, frac = divmod(s, 10000)
    return b"%b%d.%04d" % (sign, whole, frac)


def format_coordinate(x: float) -> bytes:
    """addReplyHumanLongDouble's text of a double (``%.17Lf``, trailing zeros and a bare dot
    removed, "-0" as "0"): the same as ``minikv.parsing.format_long_double`` of the value,
    which a double converts to exactly; this is its fast spelling."""
    s = (b"%.17f" % x).rstrip(b"0")
    if s[-1:] == b".":
        s = s[:-1]
    return b"0" if s == b"-0" else s
