"""LOLWUT's computer art: Georg Nees's "Schotter" (version 5) and a Plaguemon skyline (version
6), drawn as Redis 7.0's lolwut5.c / lolwut6.c draw them.

A canvas is a bytearray of pixel colours. Schotter's geometry is computed in C ``float``
(rounded to 32 bits after each operation, ``f32``) so that the deterministic part of the
picture, the rows before the squares start to tumble, is Redis's to the pixel; the tumbling
and the skyline use Python's random numbers instead of C's ``rand()``.
"""

from __future__ import annotations

import math
import random
import struct

_F32 = struct.Struct("f")


def f32(v: float) -> float:
    """``v`` rounded to a C float."""
    return float(_F32.unpack(_F32.pack(v))[0])


def _c_round(v: float) -> int:
    # C's round(): halves away from zero (Python's round() goes to even).
    return math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)


class Canvas:
    def __init__(self, width: int, height: int, bg: int) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray([bg]) * (width * height)

    def draw(self, x: int, y: int, color: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[x + y * self.width] = color

    def get(self, x: int, y: int) -> int:
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.pixels[x + y * self.width]
        return 0

    def line(self, x1: int, y1: int, x2: int, y2: int, color: int) -> None:
        """Bresenham's line, both ends included."""
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            self.draw(x1, y1, color)
            if x1 == x2 and y1 == y2:
                return
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def square(self, x: int, y: int, size: float, angle: float, color: int) -> None:
        """A square centred on x,y, of side ``size``, turned by ``angle``: its corners on the
        circle through them, a quarter turn apart."""
        size = f32(_c_round(f32(size / 1.4142135623)))
        k = f32(math.pi / 4 + angle)
        px, py = [], []
        for _ in range(4):
            px.append(_c_round(math.sin(k) * size + x))
            py.append(_c_round(math.cos(k) * size + y))
            k = f32(k + math.pi / 2)
        for j in range(4):
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color)


def schotter(cols: int, per_row: int, per_col: int, rng: random.Random) -> str:
    """Version 5: rows of squares tumbling more the lower they are, in Braille dots (2x4
    pixels a character)."""
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = f32((width - padding * 2) / per_row)
    height = int(f32(f32(side * per_col) + padding * 2))
    canvas = Canvas(width, height, 0)
    half = f32(side / 2)
    for y in range(per_col):
        for x in range(per_row):
            sx = int(f32(f32(f32(x * side) + half) + padding))
            sy = int(f32(f32(f32(y * side) + half) + padding))
            angle = 0.0
            if y > 1:
                r1, r2, r3 = (f32(f32(rng.random() / per_col) * y) for _ in range(3))
                r1, r2, r3 = (-r if rng.getrandbits(1) else r for r in (r1, r2, r3))
                angle = r1
                sx = int(sx + f32(f32(r2 * side) / 3))
                sy = int(sy + f32(f32(r3 * side) / 3))
            canvas.square(sx, sy, side, angle, 1)
    return _braille(canvas)


# Each Braille character's dot for the pixel at (dx, dy) of its 2x4 cell.
_DOTS = ((0, 0, 0), (0, 1, 1), (0, 2, 2), (1, 0, 3), (1, 1, 4), (1, 2, 5), (0, 3, 6), (1, 3, 7))


def _braille(canvas: Canvas) -> str:
    lines = []
    for y in range(0, canvas.height, 4):
        row = []
        for x in range(0, canvas.width, 2):
            byte = 0
            for dx, dy, bit in _DOTS:
                if canvas.get(x + dx, y + dy):
                    byte |= 1 << bit
            row.append(chr(0x2800 + byte))
        lines.append("".join(row))
    # Redis ends every row but the last with a newline, where "last" is the row at
    # height - 1: with a height that is a multiple of 4 plus 1 that never happens.
    out = ""
    for i, line in enumerate(lines):
        out += line
        if i * 4 != canvas.height - 1:
            out += "\n"
    return out


def _skyscraper(
    canvas: Canvas,
    xoff: int,
    width: int,
    height: int,
    windows: bool,
    color: int,
    rng: random.Random,
) -> None:
    starty = canvas.height - 1
    endy = starty - height + 1
    for y in range(starty, endy - 1, -1):
        for x in range(xoff, xoff + width):
            if y == endy and (x <= xoff + 1 or x >= xoff + width - 2):
                continue  # rounded top corners
            c = color
            if windows and xoff + 1 < x < xoff + width - 2 and endy + 1 < y < starty - 1:
                relx, rely = x - (xoff + 1), y - (endy + 1)
                if relx // 2 % 2 and rely % 2:
                    c = rng.choice([v for v in (1, 2) if v != color])
                    if relx % 2:
                        c = canvas.get(x - 1, y)  # windows are two pixels wide
            canvas.draw(x, y, c)


def skyline(cols: int, rows: int, rng: random.Random) -> str:
    """Version 6: two rows of grey skyscrapers behind a row of black ones with lit windows,
    in ANSI colour blocks."""
    canvas = Canvas(cols, rows, 3)
    h = canvas.height
    for color in (2, 1):
        offset = -10
        while offset < canvas.width:
            offset += rng.randrange(8)
            width = 10 + rng.randrange(9)
            height = h // 2 + (rng.randrange(1 << 31) % h) // (2 if color == 2 else 3)
            _skyscraper(canvas, offset, width, height, False, color, rng)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += rng.randrange(8)
        width = 5 + rng.randrange(14)
        if width % 4:
            width += width % 3
        height = h // 3 + (rng.randrange(1 << 31) % h) // 2
        _skyscraper(canvas, offset, width, height, True, 0, rng)
        offset += width + 5
    escapes = ("0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m")
    lines = []
    for y in range(canvas.height):
        lines.append("".join(f"\033[{escapes[canvas.get(x, y)]} \033[0m" for x in range(cols)))
    return "\n".join(lines)
