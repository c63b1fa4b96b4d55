"""QR code module matrix and its drawing as one vector path on a reportlab canvas.

The matrix is the one the ``qrcode`` package builds for the same text (error
correction Q, alphanumeric mode, its mask choice), bit for bit; the tests compare the
two. We take from ``qrcode`` its version and block tables, its function patterns and
format bits, and its mask functions, but do the three hot steps ourselves, because
``qrcode`` spends about 7 ms per symbol on them and a print run needs 2,000 labels/s:

* Reed-Solomon parity with a table-driven shift register on Python ints;
* data placement with a precomputed module order per version (numpy fancy indexing);
* the eight mask penalties (ISO 18004 rules N1-N4, computed like ``qrcode.util
  .lost_point``) vectorised over all masks at once.

Per-version tables are computed once and frozen (read-only arrays), so sharing them
between threads is safe.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import qrcode
import qrcode.base
import qrcode.util
from qrcode.constants import ERROR_CORRECT_Q
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from labels.errors import LayoutError, MalformedPayload

QUIET_ZONE = 4
MIN_MODULE_SIZE = 0.4 * mm
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALPHANUMERIC_VALUE = {char: value for value, char in enumerate(ALPHANUMERIC)}
_MODE_ALPHANUMERIC = qrcode.util.MODE_ALPHA_NUM
_PAD_BYTES = (0xEC, 0x11)

BoolMatrix = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class QrMatrix:
    """A QR symbol's dark (True) and light modules, without the quiet zone."""

    modules: BoolMatrix
    version: int
    mask: int

    @property
    def size(self) -> int:
        """Modules per side, without the quiet zone."""
        return int(self.modules.shape[0])

    def with_quiet_zone(self, border: int = QUIET_ZONE) -> BoolMatrix:
        """The modules surrounded by a light border of ``border`` modules."""
        return np.pad(self.modules, border, constant_values=False)


def choose_version(length: int) -> int:
    """Smallest QR version holding ``length`` alphanumeric characters at level Q."""
    limits = qrcode.util.BIT_LIMIT_TABLE[ERROR_CORRECT_Q]
    for version in range(1, 41):
        count_bits = qrcode.util.length_in_bits(_MODE_ALPHANUMERIC, version)
        needed = 4 + count_bits + 11 * (length // 2) + 6 * (length % 2)
        if needed <= limits[version]:
            return version
    raise LayoutError(f"{length} characters do not fit in any QR version at level Q")


def qr_matrix(text: str, *, mask: int | None = None) -> QrMatrix:
    """Build the QR matrix for alphanumeric text (level Q); mask None picks the best."""
    try:
        values = [_ALPHANUMERIC_VALUE[char] for char in text]
    except KeyError as error:
        raise MalformedPayload(
            f"character {error.args[0]!r} is outside the QR alphanumeric set"
        ) from None
    plan = _plan(choose_version(len(values)))
    bits = _data_bits(values, plan)
    if mask is None:
        mask = _best_mask(bits, plan)
    elif not 0 <= mask <= 7:
        raise ValueError("mask must be 0..7")
    modules = plan.templates[mask].copy()
    modules[plan.rows, plan.cols] = bits ^ plan.mask_bits[mask]
    modules.flags.writeable = False
    return QrMatrix(modules, plan.version, mask)


@dataclass(frozen=True, slots=True, eq=False)
class _VersionPlan:
    version: int
    size: int
    data_codewords: int
    blocks: tuple[tuple[int, int], ...]  # (data count, parity count) per RS block
    interleave: npt.NDArray[np.intp]  # blockwise codeword index for each output slot
    rows: npt.NDArray[np.intp]  # data modules in placement order
    cols: npt.NDArray[np.intp]
    mask_bits: BoolMatrix  # (8, data modules): whether each mask flips each module
    templates: BoolMatrix  # (8, n, n): function patterns and format bits per mask
    mask_lines: npt.NDArray[np.uint64]  # (n, 8, words): each mask's candidate sans data
    valid_bits: npt.NDArray[np.uint64]  # (words,): bits that stand for a line
    inner_bits: npt.NDArray[np.uint64]  # (words,): lines that have a next line


_Array = TypeVar("_Array", bound="npt.NDArray[Any]")


def _frozen(array: _Array) -> _Array:
    array.flags.writeable = False
    return array


def _function_modules(version: int, mask: int, test: bool) -> list[list[bool | None]]:
    symbol = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_Q)
    size = version * 4 + 17
    symbol.modules_count = size
    symbol.modules = [[None] * size for _ in range(size)]
    symbol.setup_position_probe_pattern(0, 0)
    symbol.setup_position_probe_pattern(size - 7, 0)
    symbol.setup_position_probe_pattern(0, size - 7)
    symbol.setup_position_adjust_pattern()
    symbol.setup_timing_pattern()
    symbol.setup_type_info(test, mask)
    if version >= 7:
        symbol.setup_type_number(test)
    modules: list[list[bool | None]] = symbol.modules
    return modules


@functools.cache
def _plan(version: int) -> _VersionPlan:
    size = version * 4 + 17
    layout = _function_modules(version, 0, test=True)

    # Module order of ISO 18004 7.7.3 (as qrcode.QRCode.map_data walks it).
    rows: list[int] = []
    cols: list[int] = []
    upward = True
    col = size - 1
    while col > 0:
        if col == 6:
            col -= 1
        row_order = range(size - 1, -1, -1) if upward else range(size)
        for row in row_order:
            for c in (col, col - 1):
                if layout[row][c] is None:
                    rows.append(row)
                    cols.append(c)
        upward = not upward
        col -= 2

    row_index = np.array(rows, dtype=np.intp)
    col_index = np.array(cols, dtype=np.intp)
    mask_bits = np.array(
        [
            [bool(qrcode.util.mask_func(mask)(r, c)) for r, c in zip(rows, cols, strict=True)]
            for mask in range(8)
        ],
        dtype=np.bool_,
    )
    templates = np.array(
        [
            [[bool(m) for m in line] for line in _function_modules(version, mask, test=False)]
            for mask in range(8)
        ],
        dtype=np.bool_,
    )
    # qrcode scores the masks with format and version bits light; a candidate is this
    # background with the data region set to the mask pattern, XOR the placed data.
    background = np.array([[bool(m) for m in line] for line in layout], dtype=np.bool_)
    masked = np.repeat(background[None], 8, axis=0)
    masked[:, row_index, col_index] = mask_bits
    mask_lines = np.stack([_pack_lines(candidate) for candidate in masked], axis=1)
    words = mask_lines.shape[-1] // 2
    group = np.arange(64 * words)
    valid_bits = np.packbits(np.tile(group < size, 2), bitorder="little").view("<u8")
    inner_bits = np.packbits(group < size - 1, bitorder="little").view("<u8")

    blocks = tuple(
        (block.data_count, block.total_count - block.data_count)
        for block in qrcode.base.rs_blocks(version, ERROR_CORRECT_Q)
    )
    # Codewords are produced block by block (all data, then all parity) and read out
    # column-wise across blocks, data first (ISO 18004 7.6).
    data_starts, parity_starts = [], []
    offset = 0
    for data_count, _ in blocks:
        data_starts.append(offset)
        offset += data_count
    for _, parity_count in blocks:
        parity_starts.append(offset)
        offset += parity_count
    order: list[int] = []
    for i in range(max(d for d, _ in blocks)):
        order += [s + i for s, (d, _) in zip(data_starts, blocks, strict=True) if i < d]
    for i in range(max(p for _, p in blocks)):
        order += [s + i for s, (_, p) in zip(parity_starts, blocks, strict=True) if i < p]

    return _VersionPlan(
        version=version,
        size=size,
        data_codewords=sum(d for d, _ in blocks),
        blocks=blocks,
        interleave=_frozen(np.array(order, dtype=np.intp)),
        rows=_frozen(row_index),
        cols=_frozen(col_index),
        mask_bits=_frozen(mask_bits),
        templates=_frozen(templates),
        mask_lines=_frozen(mask_lines),
        valid_bits=_frozen(valid_bits),
        inner_bits=_frozen(inner_bits),
    )


@functools.cache
def _parity_table(parity_count: int) -> tuple[int, ...]:
    """For each feedback byte f, the generator polynomial times f as one big int."""
    gexp, glog = qrcode.base.gexp, qrcode.base.glog
    generator = [1]
    for i in range(parity_count):
        # multiply by (x + alpha^i)
        root = gexp(i)
        product = generator + [0]
        for j, coefficient in enumerate(generator):
            if coefficient:
                product[j + 1] ^= gexp(glog(coefficient) + glog(root))
        generator = product
    tail = generator[1:]
    table = [0]
    for factor in range(1, 256):
        log_factor = glog(factor)
        scaled = bytes(gexp(log_factor + glog(c)) if c else 0 for c in tail)
        table.append(int.from_bytes(scaled, "big"))
    return tuple(table)


def _parity(data: bytes, parity_count: int) -> bytes:
    table = _parity_table(parity_count)
    shift = 8 * (parity_count - 1)
    keep = (1 << shift) - 1
    remainder = 0
    for byte in data:
        remainder = ((remainder & keep) << 8) ^ table[byte ^ (remainder >> shift)]
    return remainder.to_bytes(parity_count, "big")


def _data_bits(values: list[int], plan: _VersionPlan) -> BoolMatrix:
    count_bits = qrcode.util.length_in_bits(_MODE_ALPHANUMERIC, plan.version)
    accumulator = _MODE_ALPHANUMERIC << count_bits | len(values)
    length = 4 + count_bits
    pairs_end = len(values) - len(values) % 2
    for i in range(0, pairs_end, 2):
        accumulator = accumulator << 11 | values[i] * 45 + values[i + 1]
    length += 11 * (pairs_end // 2)
    if pairs_end != len(values):
        accumulator = accumulator << 6 | values[-1]
        length += 6
    capacity = plan.data_codewords * 8
    terminator = min(4, capacity - length)
    padding = terminator + (-(length + terminator) % 8)
    accumulator <<= padding
    length += padding
    data = accumulator.to_bytes(length // 8, "big")
    data += bytes(_PAD_BYTES[i % 2] for i in range(plan.data_codewords - len(data)))

    pieces: list[bytes] = []
    parities: list[bytes] = []
    offset = 0
    for data_count, parity_count in plan.blocks:
        block = data[offset : offset + data_count]
        offset += data_count
        pieces.append(block)
        parities.append(_parity(block, parity_count))
    codewords = np.frombuffer(b"".join(pieces + parities), dtype=np.uint8)[plan.interleave]
    bits = np.unpackbits(codewords).astype(np.bool_)
    # Remainder bits after the last codeword are light before masking.
    return np.concatenate((bits, np.zeros(len(plan.rows) - len(bits), dtype=np.bool_)))


def _pack_lines(matrix: BoolMatrix) -> npt.NDArray[np.uint64]:
    """Bit-slice a matrix's lines: (n, 2 * words) uint64, rows group then columns group.

    For module index k along a line, one bit per line: line j of a group is bit j % 64
    of word j // 64. In the rows group k is the column and the bit is the row; in the
    columns group k is the row. Shifting along a line is then slicing along k.
    """
    n = matrix.shape[0]
    group = 64 * -(-n // 64)
    lines = np.zeros((n, 2 * group), dtype=np.bool_)
    lines[:, :n] = matrix.T
    lines[:, group : group + n] = matrix
    packed: npt.NDArray[np.uint64] = np.packbits(lines, axis=1, bitorder="little").view("<u8")
    return packed


def _best_mask(bits: BoolMatrix, plan: _VersionPlan) -> int:
    data = np.zeros((plan.size, plan.size), dtype=np.bool_)
    data[plan.rows, plan.cols] = bits
    # Packing is linear under XOR, so the eight candidates cost one packing.
    candidates = plan.mask_lines ^ _pack_lines(data)[:, None, :]
    return int(np.argmin(_penalties(candidates, plan)))


def _penalties(dark: npt.NDArray[np.uint64], plan: _VersionPlan) -> npt.NDArray[np.int64]:
    """Mask penalty per candidate, equal to qrcode.util.lost_point for each.

    ``dark`` holds the candidates' lines as ``_pack_lines`` lays them out, stacked on
    axis 1: a whole rule is a few dozen operations on a (n, 8, words) array.
    """
    n = plan.size
    valid = plan.valid_bits
    light = ~dark & valid

    # N1: a run of L >= 5 same-coloured modules costs L - 2: one for each module from
    # the fifth on, plus two more at the fifth.
    same = np.zeros_like(dark)
    same[1:] = ~(dark[1:] ^ dark[:-1]) & valid
    fifth_or_later = same[4:] & same[3:-1] & same[2:-2] & same[1:-3]
    fifth = fifth_or_later & ~same[:-4]

    # N3: dark-light-dark*3-light-dark (1:1:3:1:1) with four light modules after it or
    # before it, each window inside the line.
    core = dark[:-6] & light[1:-5] & dark[2:-4] & dark[3:-3] & dark[4:-2] & light[5:-1]
    core &= dark[6:]
    after = core[:-4] & light[7:-3] & light[8:-2] & light[9:-1] & light[10:]
    before = core[4:] & light[3:-7] & light[2:-8] & light[1:-9] & light[:-10]

    # N2: each 2x2 block of one colour costs 3. In the row group, bit r of word k is
    # module (r, k): compare neighbouring k for the horizontal pair, and bit r with
    # bit r + 1 for the vertical pair.
    rows = dark[:, :, : dark.shape[-1] // 2]
    across = ~(rows[:-1] ^ rows[1:])
    down = ~(rows ^ _next_bit(rows))
    block = across & _next_bit(across) & down[:-1] & plan.inner_bits

    # N4: 10 per full 5% that the dark share departs from 50%, in qrcode's float steps.
    dark_counts = _popcount(rows).tolist()
    n4 = [int(abs(float(d) / (n * n) * 100 - 50) / 5) * 10 for d in dark_counts]

    total: npt.NDArray[np.int64] = (
        _popcount(fifth_or_later)
        + 2 * _popcount(fifth)
        + 40 * (_popcount(after) + _popcount(before))
        + 3 * _popcount(block)
        + np.array(n4, dtype=np.int64)
    )
    return total


def _next_bit(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Bit j of the result is bit j + 1 of the input, across the words of a group."""
    shifted = words >> np.uint64(1)
    if words.shape[-1] > 1:
        shifted[..., :-1] |= words[..., 1:] << np.uint64(63)
    return shifted


def _popcount(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Set bits per candidate in a (k, candidate, word) array."""
    counts: npt.NDArray[np.int64] = np.bitwise_count(words).sum(axis=(0, 2), dtype=np.int64)
    return counts


@functools.lru_cache(maxsize=64)
def _rect_strings(size: int) -> tuple[str, ...]:
    """PDF 're' operands for module coordinates: 'x y ' then 'w h re\\n' entries."""
    origins = [f"{x} {y} " for x in range(size) for y in range(size)]
    extents = [f"{w} {h} re\n" for w in range(size + 1) for h in range(size + 1)]
    return tuple(origins + extents)


def path_operators(matrix: QrMatrix) -> str:
    """PDF rectangles covering the dark modules, in module units with y pointing down.

    Each horizontal run of dark modules is a rectangle, and a run repeated with the same
    start and width in consecutive rows is merged into one taller rectangle.
    """
    n = matrix.size
    padded = np.zeros((n, n + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix.modules
    # Edges alternate +1 (a run starts) and -1 (it ends) along each row.
    rows, cols = np.nonzero(padded[:, 1:] - padded[:, :-1])
    run_rows, starts = rows[0::2], cols[0::2]
    widths = cols[1::2] - starts
    # Sort runs by (start, width, row): a run continues the previous rectangle when
    # its key is the previous key plus one row. Rows take n + 1 slots per (start,
    # width) so that row n - 1 plus one is the unused slot n, never row 0 of the next
    # width (which once merged a last-row run into a wider run in row 0).
    stride = n + 1
    keys = (starts * (n + 1) + widths) * stride + run_rows
    keys.sort()
    continues = np.zeros(len(keys), dtype=np.bool_)
    continues[1:] = keys[1:] == keys[:-1] + 1
    first = np.flatnonzero(~continues)
    heights = np.diff(first, append=len(keys))
    top_rows = keys[first] % stride
    start_width = keys[first] // stride
    index = np.empty(2 * len(first), dtype=np.intp)
    index[0::2] = (start_width // (n + 1)) * n + top_rows
    index[1::2] = n * n + (start_width % (n + 1)) * (n + 1) + heights
    pieces = operator.itemgetter(*index.tolist())(_rect_strings(n))
    return "".join(pieces)


def module_size(matrix: QrMatrix, side: float, border: int = QUIET_ZONE) -> float:
    """Module size in points when the symbol plus quiet zone fills ``side`` points."""
    return side / (matrix.size + 2 * border)


def draw_qr(
    canvas: Canvas,
    matrix: QrMatrix,
    x: float,
    y: float,
    side: float,
    *,
    border: int = QUIET_ZONE,
) -> None:
    """Draw matrix as one filled vector path in the square (x, y, side); quiet zone inside."""
    module = module_size(matrix, side, border)
    if module < MIN_MODULE_SIZE - 1e-9:
        needed = (matrix.size + 2 * border) * MIN_MODULE_SIZE / mm
        raise LayoutError(
            f"QR version {matrix.version} needs a {needed:.1f} mm square at 0.4 mm per "
            f"module; the layout gives {side / mm:.1f} mm"
        )
    left = x + border * module
    top = y + side - border * module
    # The transform puts module (col, row) at (col, row) with rows going down, so every
    # rectangle is written with small integers. Black fill inside q/Q leaves the
    # canvas's own colour state untouched.
    canvas.addLiteral(
        f"q {module:.4f} 0 0 {-module:.4f} {left:.3f} {top:.3f} cm 0 g\n{path_operators(matrix)}f Q"
    )
