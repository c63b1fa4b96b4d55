"""Decode a QR symbol from its module grid, with unreadable modules as erasures.

zxing-cpp, zbar and OpenCV decode a symbol whose every module they had to guess: a
stain over a fifth of a code is a fifth of wrong modules, and at error correction level
Q that is already past what Reed-Solomon corrects. Here the caller also says *which*
modules it could not see (``erased``), and Reed-Solomon corrects an erased codeword at
half the cost of a wrong one (2 x errors + erasures <= parity codewords), which is what
reads a code with a blot or a torn strip across it.

Pure: numpy in, bytes out. Tables (block structure, function patterns, format bits and
masks) come from the ``qrcode`` package that the labels are made with. Decoding refuses
rather than guesses: every block must correct with :data:`SPARE_PARITY` parity
codewords to spare and the bit stream must end exactly as ISO 18004 writes it
(terminator, zero bits, alternating pad bytes), so a wrong text needs several unlikely
coincidences at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import qrcode
import qrcode.base
import qrcode.util
from numpy.typing import NDArray

Grid = NDArray[np.bool_]

#: Parity codewords a block must have left over after correcting (each one spare makes
#: a wrong correction about 256 times less likely).
SPARE_PARITY = 2
_PADS = (0xEC, 0x11)

# --------------------------------------------------------------------------- GF(256)

_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[(_LOG[a] + 255 - _LOG[b]) % 255]


def _inverse(a: int) -> int:
    return _EXP[255 - _LOG[a]]


def _pow2(power: int) -> int:
    return _EXP[power % 255]


def _scale(poly: list[int], factor: int) -> list[int]:
    return [_mul(c, factor) for c in poly]


def _add(p: list[int], q: list[int]) -> list[int]:
    out = [0] * max(len(p), len(q))
    out[len(out) - len(p) :] = p
    for i, c in enumerate(q):
        out[i + len(out) - len(q)] ^= c
    return out


def _poly_mul(p: list[int], q: list[int]) -> list[int]:
    out = [0] * (len(p) + len(q) - 1)
    for j, b in enumerate(q):
        if b:
            for i, a in enumerate(p):
                out[i + j] ^= _mul(a, b)
    return out


def _eval(poly: list[int], x: int) -> int:
    y = poly[0]
    for c in poly[1:]:
        y = _mul(y, x) ^ c
    return y


class _Uncorrectable(Exception):
    """A block is beyond what its parity corrects (internal: decoding returns None)."""


def correct(block: list[int], parity: int, erasures: list[int]) -> list[int]:
    """The block (data + parity codewords) corrected, given the erased positions.

    Berlekamp-Massey on Forney syndromes, then Forney's formula (QR's code: generator
    roots 2**0 .. 2**(parity-1)). Raises ``_Uncorrectable`` when the errata do not fit
    in ``parity - SPARE_PARITY``.
    """
    msg = list(block)
    for pos in erasures:
        msg[pos] = 0
    if len(erasures) > parity - SPARE_PARITY:
        raise _Uncorrectable
    synd = [0] + [_eval(msg, _pow2(i)) for i in range(parity)]
    if not any(synd):
        return msg
    length = len(msg)
    fsynd = synd[1:]
    for pos in erasures:
        x = _pow2(length - 1 - pos)
        for j in range(len(fsynd) - 1):
            fsynd[j] = _mul(fsynd[j], x) ^ fsynd[j + 1]
    err_loc, old_loc = [1], [1]
    for i in range(parity - len(erasures)):
        delta = fsynd[i]
        for j in range(1, len(err_loc)):
            delta ^= _mul(err_loc[-(j + 1)], fsynd[i - j])
        old_loc = old_loc + [0]
        if delta:
            if len(old_loc) > len(err_loc):
                new_loc = _scale(old_loc, delta)
                old_loc = _scale(err_loc, _inverse(delta))
                err_loc = new_loc
            err_loc = _add(err_loc, _scale(old_loc, delta))
    while err_loc and err_loc[0] == 0:
        err_loc = err_loc[1:]
    errors = len(err_loc) - 1
    if 2 * errors + len(erasures) > parity - SPARE_PARITY:
        raise _Uncorrectable
    reversed_loc = err_loc[::-1]
    positions = [length - 1 - i for i in range(length) if _eval(reversed_loc, _pow2(i)) == 0]
    if len(positions) != errors:
        raise _Uncorrectable
    msg = _errata(msg, synd, list(erasures) + positions)
    if any(_eval(msg, _pow2(i)) for i in range(parity)):
        raise _Uncorrectable
    return msg


def _errata(msg: list[int], synd: list[int], positions: list[int]) -> list[int]:
    coef = [len(msg) - 1 - p for p in positions]
    loc = [1]
    for c in coef:
        loc = _poly_mul(loc, _add([1], [_pow2(c), 0]))
    product = _poly_mul(synd[::-1], loc)
    evaluator = product[len(product) - len(loc) :][::-1]
    xs = [_pow2(c) for c in coef]
    fix = [0] * len(msg)
    for i, xi in enumerate(xs):
        xi_inv = _inverse(xi)
        derivative = 1
        for j, xj in enumerate(xs):
            if j != i:
                derivative = _mul(derivative, 1 ^ _mul(xi_inv, xj))
        if derivative == 0:
            raise _Uncorrectable
        y = _mul(xi, _eval(evaluator[::-1], xi_inv))
        fix[positions[i]] = _div(y, derivative)
    return [a ^ b for a, b in zip(msg, fix, strict=True)]


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Layout:
    size: int
    rows: NDArray[np.intp]  # data modules in reading order
    cols: NDArray[np.intp]
    function: Grid  # True where a module is a function pattern
    pattern: Grid  # the function patterns' own colours (dark True), format light
    format_rows: NDArray[np.intp]  # both format copies, 30 modules
    format_cols: NDArray[np.intp]
    formats: NDArray[np.bool_]  # (32, 30): the format modules of (level << 3 | mask)


def _modules(version: int, fmt: int | None) -> list[list[bool | None]]:
    symbol = qrcode.QRCode(version=version)
    size = version * 4 + 17
    symbol.modules_count = size
    symbol.modules = [[None] * size for _ in range(size)]
    symbol.setup_position_probe_pattern(0, 0)
    symbol.setup_position_probe_pattern(size - 7, 0)
    symbol.setup_position_probe_pattern(0, size - 7)
    symbol.setup_position_adjust_pattern()
    symbol.setup_timing_pattern()
    if fmt is not None:
        symbol.error_correction = fmt >> 3
        symbol.setup_type_info(False, fmt & 7)
    if version >= 7:
        symbol.setup_type_number(False)
    modules: list[list[bool | None]] = symbol.modules
    return modules


@functools.cache
def _layout(version: int) -> _Layout:
    size = version * 4 + 17
    bare = _modules(version, None)
    full = [_modules(version, fmt) for fmt in range(32)]
    fmt_cells = [(r, c) for r in range(size) for c in range(size) if bare[r][c] is None]
    fmt_cells = [(r, c) for r, c in fmt_cells if full[0][r][c] is not None]
    rows: list[int] = []
    cols: list[int] = []
    upward = True
    col = size - 1
    while col > 0:
        if col == 6:
            col -= 1
        for row in range(size - 1, -1, -1) if upward else range(size):
            for c in (col, col - 1):
                if full[0][row][c] is None:
                    rows.append(row)
                    cols.append(c)
        upward = not upward
        col -= 2
    function = np.array([[m is not None for m in line] for line in full[0]], np.bool_)
    pattern = np.array([[bool(m) for m in line] for line in bare], np.bool_)
    fr = np.array([r for r, _ in fmt_cells], np.intp)
    fc = np.array([c for _, c in fmt_cells], np.intp)
    formats = np.array([[bool(f[r][c]) for r, c in fmt_cells] for f in full], np.bool_)
    pattern[fr, fc] = False
    return _Layout(
        size, np.array(rows, np.intp), np.array(cols, np.intp), function, pattern, fr, fc, formats
    )


def version_of(size: int) -> int | None:
    """The version of a symbol ``size`` modules wide, None when no version is."""
    version, rest = divmod(size - 17, 4)
    return version if rest == 0 and 1 <= version <= 40 else None


def pattern_agreement(dark: Grid, erased: Grid) -> float:
    """Share of the visible function-pattern modules (finders, timing, alignment) that
    match: near 1 for a grid sampled at the right size and orientation."""
    version = version_of(dark.shape[0])
    if version is None:
        return 0.0
    layout = _layout(version)
    where = layout.function & ~erased
    where[layout.format_rows, layout.format_cols] = False
    if version >= 7:  # version blocks are data-like for this purpose
        where[:6, -11:-8] = False
        where[-11:-8, :6] = False
    count = int(where.sum())
    if count == 0:
        return 0.0
    return float((dark[where] == layout.pattern[where]).sum()) / count


def decode_grid(dark: Grid, erased: Grid) -> bytes | None:
    """The payload of a symbol given as a square grid (True dark, quiet zone excluded,
    upright) and the modules that could not be seen; None when it does not decode."""
    version = version_of(dark.shape[0])
    if version is None or dark.shape != erased.shape:
        return None
    layout = _layout(version)
    seen = ~erased[layout.format_rows, layout.format_cols]
    observed = dark[layout.format_rows, layout.format_cols]
    distance = ((layout.formats != observed) & seen).sum(axis=1)
    for fmt in np.argsort(distance, kind="stable")[:2]:
        if distance[fmt] > 3 + (30 - int(seen.sum())) // 6:
            break
        payload = _decode_with(dark, erased, version, layout, int(fmt))
        if payload is not None:
            return payload
    return None


def _decode_with(dark: Grid, erased: Grid, version: int, layout: _Layout, fmt: int) -> bytes | None:
    level, mask = fmt >> 3, fmt & 7
    masker = qrcode.util.mask_func(mask)
    flip = np.array([bool(masker(r, c)) for r, c in zip(layout.rows, layout.cols, strict=True)])
    bits = dark[layout.rows, layout.cols] ^ flip
    lost = erased[layout.rows, layout.cols]
    blocks = [
        (b.data_count, b.total_count - b.data_count) for b in qrcode.base.rs_blocks(version, level)
    ]
    total = sum(d + p for d, p in blocks)
    words = np.packbits(bits[: total * 8]).tolist()
    per_word = np.asarray(lost[: total * 8].reshape(total, 8).any(axis=1), np.bool_)
    gone = [bool(g) for g in per_word]
    data_cw: list[list[int]] = [[] for _ in blocks]
    data_er: list[list[int]] = [[] for _ in blocks]
    parity_cw: list[list[int]] = [[] for _ in blocks]
    parity_er: list[list[int]] = [[] for _ in blocks]
    at = 0
    for targets, errs, count in ((data_cw, data_er, 0), (parity_cw, parity_er, 1)):
        for i in range(max(b[count] for b in blocks)):
            for k, block in enumerate(blocks):
                if i < block[count]:
                    if gone[at]:
                        errs[k].append(len(targets[k]))
                    targets[k].append(words[at])
                    at += 1
    data: list[int] = []
    for k, (d, p) in enumerate(blocks):
        erasures = data_er[k] + [d + e for e in parity_er[k]]
        try:
            fixed = correct(data_cw[k] + parity_cw[k], p, erasures)
        except _Uncorrectable:
            return None
        data += fixed[:d]
    return parse(bytes(data), version)


# --------------------------------------------------------------------------- bit stream

_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def parse(data: bytes, version: int) -> bytes | None:
    """The payload of the data codewords (numeric, alphanumeric, byte and ECI segments),
    or None when the stream is not exactly what an encoder writes."""
    bits = "".join(f"{b:08b}" for b in data)
    at = 0
    out = bytearray()
    group = 0 if version <= 9 else 1 if version <= 26 else 2

    def take(count: int) -> int:
        nonlocal at
        if at + count > len(bits):
            raise _Uncorrectable
        value = int(bits[at : at + count], 2)
        at += count
        return value

    try:
        while len(bits) - at >= 4:
            mode = take(4)
            if mode == 0:
                break
            if mode == 1:
                count = take((10, 12, 14)[group])
                while count:
                    digits = min(3, count)
                    value = take((4, 7, 10)[digits - 1])
                    if value >= 10**digits:
                        return None
                    out += str(value).zfill(digits).encode()
                    count -= digits
            elif mode == 2:
                count = take((9, 11, 13)[group])
                for _ in range(count // 2):
                    value = take(11)
                    if value >= 45 * 45:
                        return None
                    out += bytes((_ALNUM[value // 45], _ALNUM[value % 45]))
                if count % 2:
                    value = take(6)
                    if value >= 45:
                        return None
                    out.append(_ALNUM[value])
            elif mode == 4:
                count = take((8, 16, 16)[group])
                out += bytes(take(8) for _ in range(count))
            elif mode == 7:
                if take(8) & 0x80:  # only one-byte ECI designators
                    return None
            else:
                return None
    except _Uncorrectable:
        return None
    tail = bits[at:]
    boundary = -at % 8
    if "1" in tail[:boundary]:
        return None
    pads = data[(at + boundary) // 8 :]
    if any(b != _PADS[i % 2] for i, b in enumerate(pads)):
        return None
    return bytes(out) if out else None
