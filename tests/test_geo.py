"""Geo commands: every command, option combination and error checked byte for byte against
redis-server (differential, RESP2 and RESP3), with points all over the globe (the latitude
limits, the antimeridian, tiny and huge radii, boxes, COUNT ANY, equal distances, scores that
are no geohash); the stores compared by ZRANGE WITHSCORES on both servers; what GEOADD and
the stores propagate against redis-server's replication stream; redis-py's geo helpers; and
the value layer's pieces (minikv.geo) on their own.
"""

from __future__ import annotations

import random
import shlex
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import ServerProcess

from minikv import geo
from minikv.parsing import format_long_double


def cmds(text: str) -> list[tuple[str, ...]]:
    """One command per line, shell-quoted; '#' starts a comment line."""
    return [
        tuple(shlex.split(line))
        for line in text.strip().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


# Points all over the globe, with the edges: the latitude limits, the antimeridian, the
# equator and the prime meridian, two points at the same place, near neighbours.
EDGES = [
    ("13.361389", "38.115556", "Palermo"),
    ("15.087269", "37.502669", "Catania"),
    ("2.3522", "48.8566", "Paris"),
    ("-0.1276", "51.5072", "London"),
    ("-74.0060", "40.7128", "NewYork"),
    ("139.6917", "35.6895", "Tokyo"),
    ("151.2093", "-33.8688", "Sydney"),
    ("-58.3816", "-34.6037", "BuenosAires"),
    ("0", "0", "null-island"),
    ("180", "0", "antimeridian-e"),
    ("-180", "0", "antimeridian-w"),
    ("179.9999", "-16.5", "fiji-e"),
    ("-179.9999", "-16.5", "fiji-w"),
    ("0", "85.05112878", "north-limit"),
    ("0", "-85.05112878", "south-limit"),
    ("180", "85.05112878", "ne-corner"),
    ("-180", "-85.05112878", "sw-corner"),
    ("45", "84.9", "arctic"),
    ("-120", "-84.9", "antarctic"),
    ("2.3522", "48.8566", "Paris-again"),
    ("2.35221", "48.85661", "Paris-next-door"),
]


def w(text: str) -> tuple[str, ...]:
    """A command from its words."""
    return tuple(text.split())


def geoadd_args(points: list[tuple[str, str, str]], key: str = "g") -> tuple[str, ...]:
    out = ["GEOADD", key]
    for p in points:
        out += p
    return tuple(out)


def random_points(n: int, seed: int, prefix: str = "p") -> list[tuple[str, str, str]]:
    rnd = random.Random(seed)
    return [
        (f"{rnd.uniform(-180, 180):.6f}", f"{rnd.uniform(-85.05, 85.05):.6f}", f"{prefix}{i}")
        for i in range(n)
    ]


def clustered_points(n: int, seed: int, lon: float, lat: float, spread: float) -> list[Any]:
    rnd = random.Random(seed)
    pts = []
    for i in range(n):
        x = min(180.0, max(-180.0, lon + rnd.uniform(-spread, spread)))
        y = min(85.05, max(-85.05, lat + rnd.uniform(-spread, spread)))
        pts.append((f"{x:.7f}", f"{y:.7f}", f"c{i}"))
    return pts


# --- the value layer ------------------------------------------------------------------------------


def test_encode_decode_known_values() -> None:
    # Redis's own documentation example: Palermo's score and position.
    assert geo.encode_score(13.361389, 38.115556) == 3479099956230698
    x, y = geo.decode_score(3479099956230698.0)
    assert geo.format_coordinate(x) == b"13.36138933897018433"
    assert geo.format_coordinate(y) == b"38.11555639549629859"
    assert geo.geohash_string(3479099956230698.0) == b"sqc8b49rny0"
    # The north-east corner's latitude offset is exactly 1: bit 52 is set.
    assert geo.encode_score(180, 85.05112878) == 13510798882111488


def test_interleave_round_trip() -> None:
    rnd = random.Random(1)
    for _ in range(2000):
        a, b = rnd.getrandbits(32), rnd.getrandbits(32)
        bits = geo.interleave64(a, b)
        assert geo.deinterleave64(bits) == (a, b)
        # Bit by bit, as geohash.c defines it: x in the even positions, y in the odd.
        assert all((bits >> (2 * i) & 1) == (a >> i & 1) for i in range(32))
        assert all((bits >> (2 * i + 1) & 1) == (b >> i & 1) for i in range(32))


def test_uint64_cast_as_x86_64() -> None:
    assert geo.to_uint64(-1.0) == 2**64 - 1
    assert geo.to_uint64(1.5) == 1
    assert geo.to_uint64(-0.5) == 0
    assert geo.to_uint64(float("inf")) == 0
    assert geo.to_uint64(float("-inf")) == 2**63
    assert geo.to_uint64(2.0**63) == 2**63
    assert geo.to_uint64(2.0**64) == 0
    assert geo.to_uint64(1e300) == 0


def test_format_distance() -> None:
    f = geo.format_distance
    assert f(0.0) == b"0.0000"
    assert f(0.0001) == b"0.0001"
    assert f(6.0642951598391699e-05) == b"0.0001"
    assert f(0.00004) == b"0.0000"
    assert f(166274.1516) == b"166274.1516"
    assert f(1.23456) == b"1.2346"
    assert f(0.00005) == b"0.0000"  # llrint: ties to even (0.5 -> 0)
    assert f(0.00015) == b"0.0001"  # 0.00015 * 10000 is 1.4999999999999998 in doubles
    assert f(2.5 / 10000) == b"0.0002" and 2.5 / 10000 * 10000 == 2.5
    assert f(float("nan")) == b"-922337203685477.5808"  # llrint's out-of-range answer


def test_coordinates_print_as_long_doubles() -> None:
    """The fast spelling equals parsing.format_long_double (Redis's %.17Lf) of the value."""
    rnd = random.Random(2)
    values = [0.0, -0.0, 180.0, -180.0, 85.05112878, 2.0**-18, -(2.0**-18), -1e-20]
    values += [rnd.uniform(-180, 180) for _ in range(3000)]
    for v in values:
        n, d = v.as_integer_ratio()
        assert geo.format_coordinate(v) == format_long_double((n, -(d.bit_length() - 1))), v


def _is_partially_sorted(v: list[Any], k: int, descending: bool) -> bool:
    want = sorted((p[0] for p in v), reverse=descending)[:k]
    return [p[0] for p in v[:k]] == want


def test_pqsort_sorts_the_requested_range() -> None:
    rnd = random.Random(3)
    for _ in range(300):
        n = rnd.randrange(1, 200)
        dists = [float(rnd.randrange(0, rnd.choice([3, 10, 1000]))) for _ in range(n)]
        for descending in (False, True):
            k = rnd.randrange(1, n + 1)
            v = [[d, 0.0, 0.0, 0.0, b"%d" % i] for i, d in enumerate(dists)]
            geo.pqsort(v, geo._cmp_desc if descending else geo._cmp_asc, 0, k - 1)
            assert sorted(map(id, v)) == sorted(map(id, v))  # a permutation
            assert _is_partially_sorted(v, k, descending)
            w = [[d, 0.0, 0.0, 0.0, b"%d" % i] for i, d in enumerate(dists)]
            geo.sort_points(w, descending, k)
            assert [p[0] for p in w[:k]] == [p[0] for p in v[:k]]


def test_msort_is_stable() -> None:
    rnd = random.Random(4)
    v = [[float(rnd.randrange(5)), 0.0, 0.0, 0.0, b"%d" % i] for i in range(100)]
    assert geo._msort(v, geo._cmp_asc) == sorted(v, key=lambda p: p[0])


# --- GEOADD -------------------------------------------------------------------------------------


def test_geoadd_options_and_errors_differential(differential: Differential) -> None:
    differential.check(
        *cmds(
            """
            GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
            GEOADD g 13.361389 38.115556 Palermo
            GEOADD g CH 13.361389 38.115556 Palermo 13.4 38.2 Palermo2
            GEOADD g CH 13.5 38.115556 Palermo
            GEOADD g NX 1 1 Palermo 2 2 new1
            GEOADD g XX 1 1 Palermo 2 2 new2
            GEOADD g XX CH 3 3 Palermo 4 4 new3
            GEOADD g nx ch 5 5 Palermo 6 6 new4
            GEOADD g ch xx ch 7 7 Palermo
            GEOADD g NX XX 1 1 a
            GEOADD g XX NX 1 1 a
            GEOADD g 1 2 a 3
            GEOADD g 1 2 a 3 4
            GEOADD g CH 1 2
            GEOADD g CH NX XX
            GEOADD g GT 1 2 a
            GEOADD g INCR 1 2 a
            GEOADD g abc 2 a
            GEOADD g 1 abc a
            GEOADD g 1 2 a 1 abc b
            GEOADD g 200 100 a 1 abc b
            GEOADD g 1 abc a 200 100 b
            GEOADD g 180.0000001 0 a
            GEOADD g -180.0000001 0 a
            GEOADD g 0 85.05112879 a
            GEOADD g 0 -85.05112879 a
            GEOADD g 0 90 a
            GEOADD g inf 0 a
            GEOADD g 0 -inf a
            GEOADD g nan 0 a
            GEOADD g 1e300 0 a
            GEOADD g 1e400 0 a
            GEOADD g 0x10 0x1p3 hex
            GEOADD g " 1" 2 a
            GEOADD g 1 2 ""
            GEOADD g 180 85.05112878 ne -180 -85.05112878 sw -0 -0 zero
            ZRANGE g 0 -1 WITHSCORES
            SET str v
            GEOADD str 1 2 a
            GEOADD str 1 abc a
            GEOADD g
            GEOADD g 1 2
            """
        )
    )


def test_geoadd_grows_into_a_skiplist_differential(differential: Differential) -> None:
    pts = random_points(200, 5)
    differential.check(
        geoadd_args(pts[:100]),
        ("OBJECT", "ENCODING", "g"),
        geoadd_args(pts[100:]),
        ("OBJECT", "ENCODING", "g"),
        ("ZRANGE", "g", "0", "-1", "WITHSCORES"),
        ("GEOADD", "long", "1", "2", "m" * 70),
        ("OBJECT", "ENCODING", "long"),
    )


# --- GEOPOS GEOHASH GEODIST --------------------------------------------------------------------


def test_positions_hashes_and_distances_differential(differential: Differential) -> None:
    names = [p[2] for p in EDGES]
    script: list[tuple[str, ...]] = [geoadd_args(EDGES)]
    script.append(("GEOPOS", "g", *names, "nosuch"))
    script.append(("GEOHASH", "g", *names, "nosuch"))
    for i, a in enumerate(names):
        for b in names[i:]:
            script.append(("GEODIST", "g", a, b))
    for unit in ("m", "KM", "ft", "Mi", "km"):
        script.append(("GEODIST", "g", "Palermo", "Sydney", unit))
        script.append(("GEODIST", "g", "antimeridian-e", "antimeridian-w", unit))
    script += cmds(
        """
        GEODIST g Palermo Catania kilometers
        GEODIST g Palermo Catania km extra
        GEODIST g Palermo nosuch
        GEODIST g nosuch Palermo km
        GEODIST g nosuch nosuch2 xx
        GEODIST nokey a b
        GEODIST nokey a b km
        GEODIST nokey a b yards
        GEOPOS nokey a b
        GEOPOS g
        GEOHASH nokey a b
        GEOHASH g
        SET str v
        GEOPOS str a
        GEOHASH str a
        GEODIST str a b
        GEODIST str a b furlongs
        GEODIST g Palermo Catania "km\x00junk"
        GEODIST g Palermo
        """
    )
    differential.check(*script)


def test_random_points_round_trip_differential(differential: Differential) -> None:
    pts = random_points(300, 6)
    names = [p[2] for p in pts]
    script = [geoadd_args(pts), ("GEOPOS", "g", *names), ("GEOHASH", "g", *names)]
    rnd = random.Random(7)
    for _ in range(100):
        a, b = rnd.sample(names, 2)
        script.append(("GEODIST", "g", a, b, rnd.choice(["m", "km", "ft", "mi"])))
    differential.check(*script)


def test_members_whose_scores_are_no_geohash_differential(differential: Differential) -> None:
    """Any score decodes (to wherever its bits point, cast to 64 bits as x86-64 casts)."""
    differential.check(
        *cmds(
            """
            ZADD g -1 neg inf inf -inf ninf 1.5 frac -0.5 negfrac 0 zero 1e300 huge
            ZADD g 4503599627370496 b52 4503599627370495 below52 9007199254740992 b53
            ZADD g 9223372036854775808 b63 18446744073709551616 b64 1e19 e19 -1e19 ne19
            ZADD g 3479099956230698 Palermo 3479099956230698.5 half 123456789.123 odd
            GEOPOS g neg inf ninf frac negfrac zero huge b52 below52 b53 b63 b64 e19 ne19
            GEOPOS g Palermo half odd
            GEOHASH g neg inf ninf frac negfrac zero huge b52 below52 b53 b63 b64 e19 ne19
            GEOHASH g Palermo half odd
            GEODIST g neg inf
            GEODIST g b52 b53 km
            GEODIST g ne19 Palermo mi
            GEODIST g zero Palermo
            GEOSEARCH g FROMMEMBER neg BYRADIUS 100 km WITHCOORD WITHDIST WITHHASH
            GEOSEARCH g FROMMEMBER b52 BYRADIUS 50000 km WITHCOORD WITHDIST WITHHASH ASC
            GEOSEARCH g FROMMEMBER zero BYBOX 100 100 km WITHCOORD WITHDIST WITHHASH
            GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 20000 km WITHDIST WITHHASH ASC
            GEORADIUSBYMEMBER g odd 10000 km WITHDIST WITHHASH DESC
            """
        )
    )


# --- the searches ---------------------------------------------------------------------------------


WITHS = ("", "WITHDIST", "WITHCOORD WITHHASH", "WITHDIST WITHHASH WITHCOORD")


def _search_variants(center: tuple[str, ...], by: tuple[str, ...]) -> list[tuple[str, ...]]:
    out = []
    for order in ((), ("ASC",), ("DESC",)):
        for count in ((), ("COUNT", "3"), ("COUNT", "1"), ("COUNT", "3", "ANY")):
            for withs in map(w, WITHS):
                out.append(("GEOSEARCH", "g", *center, *by, *order, *count, *withs))
    return out


def test_geosearch_option_combinations_differential(differential: Differential) -> None:
    script: list[tuple[str, ...]] = [geoadd_args(EDGES)]
    centers = [
        ("FROMMEMBER", "Palermo"),
        ("FROMMEMBER", "antimeridian-e"),
        ("FROMLONLAT", "-179.99", "-16.5"),
        ("FROMMEMBER", "north-limit"),
        ("FROMLONLAT", "0", "-85.05112878"),
    ]
    shapes = [
        ("BYRADIUS", "500", "km"),
        ("BYRADIUS", "3000", "MI"),
        ("BYBOX", "1000", "400", "km"),
        ("BYBOX", "30000", "5000", "km"),
    ]
    for center in centers:
        for shape in shapes:
            script += _search_variants(center, shape)
    differential.check(*script)


def test_geosearch_radii_and_boxes_differential(differential: Differential) -> None:
    script: list[tuple[str, ...]] = [geoadd_args(EDGES)]
    radii = ["0", "-0", "0.0001", "1", "50", "1000", "100000", "500000", "2500000", "5000000"]
    radii += ["7000000", "10000000", "20037726", "40000000", "1e12", "inf"]
    for center in (("FROMMEMBER", "Paris"), ("FROMMEMBER", "fiji-w"), ("FROMMEMBER", "arctic")):
        for r in radii:
            script.append(("GEOSEARCH", "g", *center, "BYRADIUS", r, "m", "ASC", "WITHDIST"))
            script.append(("GEOSEARCH", "g", *center, "BYBOX", r, r, "m", "ASC", "WITHDIST"))
            script.append(("GEOSEARCH", "g", *center, "BYBOX", r, "10", "ft", "WITHDIST"))
            script.append(("GEOSEARCH", "g", *center, "BYBOX", "10", r, "ft"))
    # Unsorted results come box by box, in score order: exactly Redis's order too.
    for center in (("FROMLONLAT", "0", "0"), ("FROMLONLAT", "180", "85.05112878")):
        for r in ("1000", "5000", "12000", "20000"):
            script.append(("GEOSEARCH", "g", *center, "BYRADIUS", r, "km"))
            script.append(("GEOSEARCH", "g", *center, "BYBOX", r, r, "km"))
            script.append(("GEOSEARCH", "g", *center, "BYRADIUS", r, "km", "COUNT", "2", "ANY"))
            script.append(("GEORADIUS", "g", *center[1:], r, "km", "WITHHASH"))
    differential.check(*script)


def test_search_a_few_thousand_points_differential(differential: Differential) -> None:
    pts = random_points(2000, 8) + clustered_points(1500, 9, 2.35, 48.85, 0.5)
    script: list[tuple[str, ...]] = []
    for i in range(0, len(pts), 500):
        script.append(geoadd_args(pts[i : i + 500]))
    script.append(("OBJECT", "ENCODING", "g"))
    rnd = random.Random(10)
    for _ in range(40):
        lon, lat = f"{rnd.uniform(-180, 180):.5f}", f"{rnd.uniform(-85, 85):.5f}"
        r = rnd.choice(["10", "200", "1000", "3000"])
        at = f"GEOSEARCH g FROMLONLAT {lon} {lat}"
        script.append(w(f"{at} BYRADIUS {r} km COUNT 10 WITHDIST"))
        script.append(w(f"{at} BYBOX {r} {r} km DESC COUNT 5"))
    for member in ("c0", "c1", "c700", "p3"):
        for r in ("1", "10", "50"):
            at = f"GEOSEARCH g FROMMEMBER {member}"
            script.append(w(f"{at} BYRADIUS {r} km ASC"))
            script.append(w(f"{at} BYRADIUS {r} km COUNT 10 WITHDIST"))
            script.append(w(f"{at} BYBOX {r} {r} km COUNT 25 ANY"))
            script.append(w(f"GEORADIUSBYMEMBER g {member} {r} km COUNT 7 DESC WITHCOORD"))
    differential.check(*script)


def test_equal_distances_differential(differential: Differential) -> None:
    """Many members at the same few places: COUNT keeps fewer than were found, so Redis's
    partial quicksort decides the order of equal distances; without COUNT, glibc's stable
    sort does."""
    pts = []
    for i in range(60):
        pts.append(("10", "10", f"same{i:02d}"))
    for i in range(40):
        pts.append(("10.001", "10", f"east{i:02d}"))
        pts.append(("9.999", "10", f"west{i:02d}"))
    for i in range(30):
        pts.append(("10", "10.002", f"north{i:02d}"))
    script: list[tuple[str, ...]] = [geoadd_args(pts[:100]), geoadd_args(pts[100:])]
    for count in ("1", "2", "5", "7", "8", "40", "41", "59", "60", "61", "100", "139", "500"):
        for order in ("ASC", "DESC"):
            script.append(w(f"GEOSEARCH g FROMLONLAT 10 10 BYRADIUS 1 km {order} COUNT {count}"))
            script.append(w(f"GEOSEARCH g FROMMEMBER east00 BYBOX 1 1 km {order} COUNT {count}"))
    script.append(("GEOSEARCH", "g", "FROMLONLAT", "10", "10", "BYRADIUS", "1", "km", "ASC"))
    script.append(("GEOSEARCH", "g", "FROMLONLAT", "10", "10", "BYRADIUS", "1", "km", "DESC"))
    script.append(("GEORADIUS", "g", "10", "10", "1", "km", "COUNT", "50", "STORE", "dst"))
    script.append(("ZRANGE", "dst", "0", "-1", "WITHSCORES"))
    differential.check(*script)


def test_antipodes_and_bands_differential(differential: Differential) -> None:
    """Points on the far side of the globe (where the computed haversine can round to NaN)
    and searches whose latitude band reaches the limits: the search's shortcuts must not
    change a single answer."""
    pts = []
    for i, (x, y) in enumerate([(0, 0), (10, 45), (-170.5, -60.25), (90, 84), (33.3, -12.7)]):
        pts.append((str(x), str(y), f"a{i}"))
        ax = x + 180 if x <= 0 else x - 180
        pts.append((str(ax), str(-y), f"anti{i}"))
        pts.append((str(ax), str(-y + 0.001), f"near{i}"))
        pts.append((str(ax + 0.01), str(-y), f"nearx{i}"))
    pts += [("0", "85.05112878", "top"), ("100", "-85.05112878", "bottom")]
    script: list[tuple[str, ...]] = [geoadd_args(pts)]
    names = [p[2] for p in pts]
    for a in names[::2]:
        for b in names:
            script.append(("GEODIST", "g", a, b))
    for m in ("a0", "a1", "a2", "a3", "anti4", "top", "bottom"):
        for r in ("20020.7336", "20020.7337", "20020.734", "20021", "19000", "10000", "500"):
            script.append(w(f"GEOSEARCH g FROMMEMBER {m} BYRADIUS {r} km ASC WITHDIST"))
            script.append(w(f"GEOSEARCH g FROMMEMBER {m} BYBOX {r} {r} km WITHDIST"))
            script.append(w(f"GEOSEARCH g FROMMEMBER {m} BYRADIUS {r} km COUNT 3 DESC"))
    differential.check(*script)


def test_search_errors_in_order_differential(differential: Differential) -> None:
    differential.check(
        *cmds(
            """
            GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
            SET str v
            GEOSEARCH str FROMMEMBER x BYRADIUS 1 km
            GEOSEARCH str bad
            GEOSEARCH g BYRADIUS 1 km
            GEOSEARCH g FROMLONLAT 15 37
            GEOSEARCH g FROMLONLAT 15 37 COUNT 1
            geosearch g BYRADIUS 1 km
            GeoSearch g FROMLONLAT 15 37 WITHDIST
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km ANY
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT 0
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT -1
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT x
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT 1.5
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT 99999999999999999999
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS -1 km
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS x km
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS nan km
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 yards
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1
            GEOSEARCH g FROMLONLAT 15 37 BYBOX -1 1 km
            GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 -1 km
            GEOSEARCH g FROMLONLAT 15 37 BYBOX x y km
            GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 y km
            GEOSEARCH g FROMLONLAT 15 37 BYBOX -1 y km
            GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1 parsecs
            GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1
            GEOSEARCH g FROMLONLAT 200 37 BYRADIUS 1 km
            GEOSEARCH g FROMLONLAT x 37 BYRADIUS 1 km
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km
            GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1 km BYRADIUS 1 km
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km BYRADIUS 300 km
            GEOSEARCH g FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km
            GEOSEARCH g FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 1 km
            GEOSEARCH g FROMMEMBER Catania FROMMEMBER Palermo BYRADIUS 300 km WITHDIST
            GEOSEARCH g FROMLONLAT 1 1 FROMLONLAT 15 37 BYRADIUS 300 km WITHDIST
            GEOSEARCH g FROMMEMBER nosuch BYRADIUS 1 km
            GEOSEARCH g FROMMEMBER nosuch BYRADIUS -1 km
            GEOSEARCH g BYRADIUS -1 km FROMMEMBER nosuch
            GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 1 km
            GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS -1 km
            GEOSEARCH nokey FROMMEMBER nosuch
            GEOSEARCH nokey FROMMEMBER x BYRADIUS 1 km ANY
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km STORE d
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km STOREDIST
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km ASC DESC WITHDIST
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 300 km DESC ASC WITHDIST
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 300 km ANY COUNT 1 COUNT 2
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 300 km "withdist\x00x"
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 300 km bogus
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 300
            GEOSEARCH g FROMLONLAT 15 37 BYRADIUS
            GEOSEARCH g FROMLONLAT 15
            GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 300 km WITHDIST
            GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 300 km WITHCOORD ANY
            GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 300 km STORE x
            GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 300 km STOREDIST x
            GEOSEARCHSTORE d g FROMLONLAT 15 37 WITHHASH
            GEOSEARCHSTORE d g BYRADIUS 300 km STOREDIST
            GEOSEARCHSTORE d str FROMLONLAT 15 37 BYRADIUS 300 km
            GEOSEARCHSTORE d nokey FROMMEMBER x BYRADIUS 300 km
            GEORADIUS g 15 37 200 km STORE d WITHDIST
            GEORADIUS g 15 37 200 km WITHHASH STOREDIST d
            GEORADIUS g 15 37 200 km STORE
            GEORADIUS g 15 37 200 km FROMMEMBER Palermo
            GEORADIUS g 15 37 200 km BYRADIUS 1 km
            GEORADIUS g 15 37 -1 km
            GEORADIUS g 15 37 x km
            GEORADIUS g 15 37 1 lightyears
            GEORADIUS g 15 100 1 km
            GEORADIUS g y 37 1 km
            GEORADIUS g 15 37 1 km COUNT 0
            GEORADIUS g 15 37 1 km ANY
            GEORADIUS g 15 37 1 km bogus
            GEORADIUS str 15 37 1 km
            GEORADIUS nokey 15 37 1 km
            GEORADIUS nokey 15 37 -1 km
            GEORADIUS nokey 200 37 1 km
            GEORADIUS nokey 15 37 1 km STORE d WITHDIST
            GEORADIUS_RO g 15 37 200 km STORE d
            GEORADIUS_RO g 15 37 200 km STOREDIST d
            GEORADIUSBYMEMBER g nosuch 1 km
            GEORADIUSBYMEMBER g nosuch x km
            GEORADIUSBYMEMBER g Palermo x km
            GEORADIUSBYMEMBER g Palermo -5 km
            GEORADIUSBYMEMBER g Palermo 5 parsecs
            GEORADIUSBYMEMBER g Palermo 5 km STORE d WITHCOORD
            GEORADIUSBYMEMBER nokey nosuch x y
            GEORADIUSBYMEMBER nokey nosuch x y WITHDIST
            GEORADIUSBYMEMBER nokey nosuch x y STORE d
            GEORADIUSBYMEMBER nokey nosuch x y STORE d WITHDIST
            GEORADIUSBYMEMBER nokey nosuch x y ANY
            GEORADIUSBYMEMBER nokey nosuch x y bogus
            GEORADIUSBYMEMBER_RO g Palermo 5 km STORE d
            GEORADIUSBYMEMBER_RO nokey nosuch x y
            GEORADIUSBYMEMBER str Palermo 5 km
            GEORADIUS_RO str 15 37 1 km
            GEORADIUSBYMEMBER_RO str Palermo 5 km
            GEOSEARCH g
            GEORADIUS g 15 37 1
            GEORADIUSBYMEMBER g Palermo 1
            GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS
            EXISTS d
            """
        )
    )


def test_georadius_variants_differential(differential: Differential) -> None:
    script: list[tuple[str, ...]] = [geoadd_args(EDGES)]
    opts = [
        (),
        ("WITHDIST",),
        ("WITHCOORD", "WITHDIST", "WITHHASH"),
        ("ASC",),
        ("DESC", "WITHDIST"),
        ("COUNT", "2"),
        ("COUNT", "2", "DESC"),
        ("COUNT", "2", "ANY"),
        ("COUNT", "1", "ANY", "ASC", "WITHDIST"),
    ]
    for o in opts:
        for unit in ("m", "km", "ft", "mi"):
            r = "2000000" if unit in ("m", "ft") else "2000"
            script.append(("GEORADIUS", "g", "10", "45", r, unit, *o))
            script.append(("GEORADIUS_RO", "g", "-180", "0", "3000", "km", *o))
            script.append(("GEORADIUSBYMEMBER", "g", "Paris", "1000", unit, *o))
            script.append(("GEORADIUSBYMEMBER_RO", "g", "fiji-e", "500", "km", *o))
    differential.check(*script)


# --- the stores -----------------------------------------------------------------------------------


def test_stores_differential(differential: Differential) -> None:
    """GEORADIUS ... STORE / STOREDIST and GEOSEARCHSTORE [STOREDIST]: the stored sets are
    the same, scores byte for byte, and so are their encodings and TTLs."""
    big = clustered_points(300, 11, 2.35, 48.85, 0.2)
    dump = ("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    script: list[tuple[str, ...]] = [geoadd_args(EDGES), geoadd_args(big, "big")]
    stores = [
        w(line)
        for line in """
        GEORADIUS g 10 45 2000 km STORE dst
        GEORADIUS g 10 45 2000 km STOREDIST dst
        GEORADIUS g 10 45 2000 mi STOREDIST dst COUNT 3
        GEORADIUS g 10 45 2000 km STORE x STOREDIST dst
        GEORADIUS g 10 45 2000 km STOREDIST x STORE dst
        GEORADIUS g 10 45 2000 km STORE dst DESC COUNT 2
        GEORADIUS g 10 45 2000 km STORE dst COUNT 2 ANY
        GEORADIUSBYMEMBER g Paris 0 km STORE dst
        GEORADIUSBYMEMBER g Paris 10 ft STOREDIST dst
        GEORADIUSBYMEMBER g Sydney 20000 km STOREDIST dst
        GEOSEARCHSTORE dst g FROMMEMBER Palermo BYRADIUS 3000 km
        GEOSEARCHSTORE dst g FROMMEMBER Palermo BYRADIUS 3000 km STOREDIST
        GEOSEARCHSTORE dst g FROMLONLAT 0 0 BYBOX 40000 20000 km STOREDIST COUNT 4
        GEOSEARCHSTORE dst g FROMLONLAT 0 0 BYBOX 40000 20000 km COUNT 4 ANY DESC
        GEOSEARCHSTORE dst big FROMLONLAT 2.35 48.85 BYRADIUS 100 km
        GEOSEARCHSTORE dst big FROMLONLAT 2.35 48.85 BYRADIUS 100 km STOREDIST
        GEOSEARCHSTORE dst big FROMLONLAT 2.35 48.85 BYRADIUS 10 km COUNT 128
        GEOSEARCHSTORE dst big FROMLONLAT 2.35 48.85 BYRADIUS 100 km COUNT 129 STOREDIST
        GEORADIUS big 2.35 48.85 100 km STORE dst COUNT 128 DESC
        """.strip().splitlines()
    ]
    for store in stores:
        script += [
            ("SET", "dst", "old", "EX", "1000"),
            store,
            dump,
            ("OBJECT", "ENCODING", "dst"),
            ("TTL", "dst"),
        ]
    # Nothing found, or no source: the destination is deleted (and the reply is 0).
    script += cmds(
        """
        SET dst old
        GEORADIUS g 10 45 1 m STORE dst
        EXISTS dst
        SET dst old
        GEOSEARCHSTORE dst g FROMLONLAT 10 45 BYRADIUS 1 m
        EXISTS dst
        SET dst old
        GEOSEARCHSTORE dst nokey FROMLONLAT 10 45 BYRADIUS 1 m
        EXISTS dst
        SET dst old
        GEORADIUSBYMEMBER nokey m 1 m STOREDIST dst
        EXISTS dst
        GEORADIUS nokey 10 45 1 m STORE dst
        GEOSEARCHSTORE g g FROMMEMBER Palermo BYRADIUS 300 km STOREDIST
        ZRANGE g 0 -1 WITHSCORES
        """
    )
    differential.check(*script)


# --- keys, scripts, transactions ----------------------------------------------------------------


def test_getkeys_differential(differential: Differential) -> None:
    calls = [
        "GEORADIUS k 1 2 3 m",
        "GEORADIUS k 1 2 3 m STORE d",
        "GEORADIUS k 1 2 3 m STOREDIST d",
        "GEORADIUS k 1 2 3 m STORE d STOREDIST e",
        "GEORADIUS k 1 2 3 m STOREDIST e STORE d",
        "GEORADIUS k 1 2 3 m STORE",
        "GEORADIUS k 1 2 3 m STORE d STOREDIST",
        "GEORADIUS k 1 2 3 m WITHDIST store d",
        "GEORADIUS k 1 2 STORE m STORE d",
        "GEORADIUSBYMEMBER k m 3 m STORE d",
        "GEORADIUSBYMEMBER k m 3 m STOREDIST d COUNT 1",
        "GEORADIUSBYMEMBER k m STORE d STORE e",
        "GEORADIUSBYMEMBER k m 3 m STORE",
        "GEORADIUS_RO k 1 2 3 m STORE d",
        "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 m",
        "GEOSEARCH k FROMMEMBER m BYRADIUS 1 m",
        "GEOADD k 1 2 m",
        "GEODIST k a b",
        "GEOPOS k a",
        "GEOHASH k a",
    ]
    script = []
    for call in calls:
        for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
            script.append(("COMMAND", sub, *call.split()))
    script += [("COMMAND", "INFO", name) for name in ("georadius", "geosearchstore", "geoadd")]
    differential.check(*script)


def test_scripts_and_transactions_differential(differential: Differential) -> None:
    search = "'GEOSEARCH', KEYS[1], 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km'"
    pos = "redis.call('GEOPOS', KEYS[1], 'Palermo')"
    radius = "'GEORADIUS', KEYS[1], 15, 37, 200, 'km'"
    differential.check(
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
        ("EVAL", "return redis.call('GEOPOS', KEYS[1], 'Palermo', 'nosuch')", "1", "g"),
        ("EVAL", f"redis.setresp(3); return {pos}", "1", "g"),
        ("EVAL", f"redis.setresp(3); return tostring({pos}[1][1]['double'])", "1", "g"),
        ("EVAL", f"return redis.call({search}, 'WITHDIST', 'WITHCOORD', 'WITHHASH')", "1", "g"),
        ("EVAL", f"redis.setresp(3); return redis.call({search}, 'WITHCOORD')", "1", "g"),
        ("EVAL", "return redis.call('GEODIST', KEYS[1], 'Palermo', 'Catania', 'km')", "1", "g"),
        ("EVAL", "return redis.call('GEOADD', KEYS[1], 1, 2, 'x')", "1", "g"),
        ("EVAL", f"return redis.call({radius}, 'STORE', 'd')", "1", "g"),
        ("EVAL_RO", f"return redis.call({radius})", "1", "g"),
        ("EVAL_RO", "return redis.call('GEORADIUS_RO', KEYS[1], 15, 37, 200, 'km')", "1", "g"),
        ("EVAL_RO", "return redis.call('GEOADD', KEYS[1], 1, 2, 'y')", "1", "g"),
        ("EVAL", "return redis.pcall('GEOADD', KEYS[1], 200, 100, 'y')", "1", "g"),
        *cmds(
            """
            MULTI
            GEOADD g 5 5 m5
            GEOPOS g m5
            GEOSEARCHSTORE d g FROMMEMBER m5 BYRADIUS 10 km STOREDIST
            GEOADD g 500 5 bad
            GEODIST g m5 Palermo
            EXEC
            ZRANGE d 0 -1 WITHSCORES
            """
        ),
    )


# --- propagation ----------------------------------------------------------------------------------


GEO_WRITES = """
GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOADD g ch NX 13.361389 38.115556 Palermo 2.35 48.85 Paris
# nothing changes: not propagated
GEOADD g NX 1 1 Palermo
GEOADD g XX CH 13.4 38.2 Palermo 5 5 nosuch
GEOADD g 180 85.05112878 ne -180 -85.05112878 sw
GEORADIUS g 15 37 200 km STORE st
# reads only
GEORADIUS g 15 37 200 km
GEORADIUSBYMEMBER g Palermo 300 km STOREDIST sd COUNT 1
GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYBOX 900 900 km STOREDIST
# nothing found: gs deleted, then nothing to delete
GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 1 m
GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 1 m
# no source: st deleted, then nothing to delete
GEORADIUS nokey 15 37 200 km STORE st
GEORADIUS nokey 15 37 200 km STORE st
"""


def _geo_writes(r: redis.Redis) -> None:
    """Geo writes, each exercising what it propagates (and some that change nothing)."""
    for cmd in cmds(GEO_WRITES):
        r.execute_command(*cmd)
    with r.pipeline(transaction=True) as p:
        p.execute_command(*w("GEOADD g2 1 1 a 2 2 b"))
        p.execute_command(*w("GEOSEARCHSTORE g3 g2 FROMMEMBER a BYRADIUS 500 km"))
        p.execute()
    r.eval("redis.call('GEOADD', KEYS[1], 3, 3, 'c'); return 1", 1, "g2")


def test_propagation_matches_redis_server(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    """GEOADD goes as ZADD with its scores; the stores go as sent (Redis 7.0 rewrites
    neither); read-only calls and no-ops go not at all. Compared with redis-server's own
    replication stream (SYNC), through test_propagation's readers."""
    from test_propagation import _read_until, _redis_stream

    end = [b"SET", b"__end__", b"1"]
    rd = redis_server.client()
    rd.flushall()
    sock, reader = _redis_stream(redis_server.port)
    try:
        _geo_writes(rd)
        rd.execute_command(*end)
        theirs = _read_until(sock, reader, end)
    finally:
        sock.close()
    mk = server.client()
    mk.flushall()
    mk.execute_command("DEBUG", "PROPAGATION", "ON")
    try:
        mk.execute_command("DEBUG", "PROPAGATION", "READ")
        _geo_writes(mk)
        mk.execute_command(*end)
        ours = mk.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        mk.execute_command("DEBUG", "PROPAGATION", "OFF")
    # No times here: compared unmasked (test_propagation's masking would hide the scores).
    assert ours == theirs
    zadd = b"zadd g ch NX 3479099956230698 Palermo 3663832751688490 Paris".split()
    assert zadd in ours
    assert [b"GEORADIUS", b"nokey", b"15", b"37", b"200", b"km", b"STORE", b"st"] in ours
    # Replayed into a fresh server, the stream rebuilds the same data.
    with ServerProcess() as other:
        ro = other.client()
        for cmd in ours:
            ro.execute_command(*cmd)
        for key in ("g", "sd", "g2", "g3"):
            assert ro.zrange(key, 0, -1, withscores=True) == mk.zrange(key, 0, -1, withscores=True)
        assert ro.exists("st", "gs") == 0


# --- redis-py ------------------------------------------------------------------------------------


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def both(
    request: Any, server: ServerProcess, redis_server: ServerProcess
) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    a = server.client(protocol=request.param)
    b = redis_server.client(protocol=request.param)
    a.flushall()
    b.flushall()
    yield a, b
    a.close()
    b.close()


def _values(points: list[tuple[str, str, str]]) -> list[Any]:
    out: list[Any] = []
    for lon, lat, name in points:
        out += [float(lon), float(lat), name]
    return out


def test_redis_py_helpers(both: tuple[redis.Redis, redis.Redis]) -> None:
    """redis-py's geo helpers and their reply parsing give the same answers on both."""
    values = _values(EDGES)
    for r in both:
        assert r.geoadd("g", values) == len(EDGES)
    calls = [
        lambda r: r.geoadd("g", [13.4, 38.2, "Palermo", 1, 1, "new"], xx=True, ch=True),
        lambda r: r.geoadd("g", [2, 2, "new2"], nx=True),
        lambda r: r.geopos("g", "Palermo", "Sydney", "nosuch"),
        lambda r: r.geohash("g", "Palermo", "north-limit", "nosuch"),
        lambda r: r.geodist("g", "Palermo", "Catania", unit="km"),
        lambda r: r.geodist("g", "Palermo", "nosuch"),
        lambda r: r.geosearch("g", member="Paris", radius=1000, unit="km", sort="ASC"),
        lambda r: r.geosearch(
            "g",
            longitude=15,
            latitude=37,
            radius=2000,
            unit="km",
            withdist=True,
            withcoord=True,
            withhash=True,
            sort="DESC",
            count=3,
        ),
        lambda r: r.geosearch(
            "g", member="Tokyo", width=20000, height=5000, unit="km", withdist=True
        ),
        lambda r: r.geosearch(
            "g", longitude=0, latitude=0, radius=20000, unit="km", count=2, any=True
        ),
        lambda r: r.georadius("g", 10, 45, 2000, unit="km", withdist=True, sort="ASC"),
        lambda r: r.georadius("g", 10, 45, 2000, unit="km", withcoord=True, count=2),
        lambda r: r.georadius("g", 10, 45, 2000, unit="km", store="st"),
        lambda r: r.zrange("st", 0, -1, withscores=True),
        lambda r: r.georadius("g", 10, 45, 2000, unit="km", store_dist="sd"),
        lambda r: r.zrange("sd", 0, -1, withscores=True),
        lambda r: r.georadiusbymember("g", "Paris", 500, unit="mi", withdist=True, withhash=True),
        lambda r: r.geosearchstore(
            "gs", "g", member="Palermo", radius=3000, unit="km", storedist=True
        ),
        lambda r: r.zrange("gs", 0, -1, withscores=True),
    ]
    for call in calls:
        mine, theirs = (call(r) for r in both)
        assert mine == theirs


def test_concurrent_searches_and_writes(server: ServerProcess) -> None:
    """Searches stay consistent while another client keeps adding points."""
    r = server.client()
    r.flushall()
    r.geoadd("g", _values(clustered_points(500, 12, 10, 10, 1)))
    stop = threading.Event()

    def writer() -> None:
        with server.client() as w:
            i = 0
            while not stop.is_set() and i < 2000:
                w.geoadd("g", [10 + (i % 100) / 1000, 10, f"w{i}"])
                i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(50):
            res = r.geosearch(
                "g", longitude=10, latitude=10, radius=50, unit="km", withdist=True, sort="ASC"
            )
            dists = [d for _, d in res]
            assert dists == sorted(dists)
            assert all(d <= 50 for d in dists)
    finally:
        stop.set()
        t.join()
