"""QR images of an employment code, sized for cheap phone cameras.

Error correction M and at most version 13 (69x69 modules) so low-end phones read it at
arm's length; a 4-module quiet zone. Modules are always black on white: the colour is
an optional frame *outside* the quiet zone, because tinted modules scan badly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from io import BytesIO

import qrcode
import qrcode.constants
from PIL import Image
from qrcode import util
from qrcode.exceptions import DataOverflowError

from .status import COLOUR_HEX, Colour

MAX_QR_VERSION = 13
QR_MAX_BYTES = 331
"""Byte-mode capacity of version 13 at level M: any payload up to this fits."""
QUIET_ZONE = 4
FRAME_MODULES = 2
ERROR_CORRECTION = "M"


class QRTooLargeError(ValueError):
    """The payload would need a QR version above MAX_QR_VERSION."""


@dataclass(frozen=True)
class QRSymbol:
    version: int
    error_correction: str
    modules: tuple[tuple[bool, ...], ...]
    """Dark-module matrix including the quiet zone."""

    @property
    def size(self) -> int:
        return len(self.modules)


_RUN = re.compile(r"0{5,}|1{5,}")
_FINDER_LIKE = re.compile(r"(?=10111010000|00001011101)")
_DATA_CELLS: dict[int, tuple[tuple[bool, ...], ...]] = {}


class _QRCode(qrcode.QRCode):
    """qrcode's encoder with a faster, equivalent mask choice.

    qrcode picks the mask by rendering the symbol eight times and scoring each in pure
    Python (~15 ms at version 13, most of an issue's time). Here the symbol is rendered
    once; the other seven are derived by re-masking the data cells on integer bit rows and
    scored with the same ISO/IEC 18004 penalty rules, so the choice (and the symbol) is
    identical to qrcode's own -- the tests compare them.
    """

    def map_data(self, data: list[int], mask_pattern: int) -> None:
        if self.version not in _DATA_CELLS:  # cells still unset here are the data cells
            _DATA_CELLS[self.version] = tuple(
                tuple(cell is None for cell in row) for row in self.modules
            )
        super().map_data(data, mask_pattern)

    def best_mask_pattern(self) -> int:
        self.makeImpl(True, 0)
        base = [_row_bits(row) for row in self.modules]
        mask0 = _mask_bits(self.version, 0)
        scores = []
        for pattern in range(8):
            mask = _mask_bits(self.version, pattern)
            rows = [b ^ m0 ^ m for b, m0, m in zip(base, mask0, mask, strict=True)]
            scores.append(_penalty(rows, len(rows)))
        return scores.index(min(scores))


def _row_bits(row: list[bool]) -> int:
    return int("".join("1" if cell else "0" for cell in row), 2)


@cache
def _mask_bits(version: int, pattern: int) -> tuple[int, ...]:
    """Per row: the data cells that mask `pattern` flips (column 0 = highest bit)."""
    flips = util.mask_func(pattern)
    return tuple(
        _row_bits([cell and flips(i, j) for j, cell in enumerate(row)])
        for i, row in enumerate(_DATA_CELLS[version])
    )


def _penalty(rows: list[int], n: int) -> int:
    """ISO/IEC 18004 mask penalty, scored exactly as qrcode.util.lost_point scores it."""
    lines = [format(r, f"0{n}b") for r in rows]
    text = ",".join(lines) + "," + ",".join("".join(col) for col in zip(*lines, strict=True))
    runs = _RUN.findall(text)
    score = sum(len(run) for run in runs) - 2 * len(runs)
    full = (1 << (n - 1)) - 1
    for a, b in zip(rows, rows[1:], strict=False):
        same_v = ~(a ^ b)
        score += 3 * (same_v & (same_v >> 1) & ~(a ^ (a >> 1)) & full).bit_count()
    score += 40 * len(_FINDER_LIKE.findall(text))
    dark = sum(r.bit_count() for r in rows)
    return score + 10 * int(abs(float(dark) / (n**2) * 100 - 50) / 5)


def encode_qr(data: str) -> QRSymbol:
    """Encode `data` at level M, refusing anything that needs more than version 13."""
    if len(data.encode("utf-8")) > 4 * QR_MAX_BYTES:
        raise QRTooLargeError(f"{len(data)} characters is far beyond QR version {MAX_QR_VERSION}")
    qr = _QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    qr.add_data(data)
    try:
        qr.make(fit=True)
    except DataOverflowError as exc:
        raise QRTooLargeError("payload does not fit any QR version") from exc
    if qr.version > MAX_QR_VERSION:
        raise QRTooLargeError(
            f"payload needs QR version {qr.version}; the limit is {MAX_QR_VERSION} "
            f"(at most {QR_MAX_BYTES} bytes)"
        )
    matrix = tuple(tuple(bool(m) for m in row) for row in qr.get_matrix())
    return QRSymbol(qr.version, ERROR_CORRECTION, matrix)


def qr_png(data: str, *, frame: Colour | None = None, scale: int = 8) -> bytes:
    """PNG bytes; `scale` pixels per module; optional coloured frame around the quiet zone."""
    symbol = encode_qr(data)
    pad = FRAME_MODULES if frame else 0
    total = symbol.size + 2 * pad
    # Palette indices: 0 white, 1 black, 2 frame colour.
    pixels = bytearray([2 if frame else 0]) * (total * total)
    for y, row in enumerate(symbol.modules):
        start = (y + pad) * total + pad
        pixels[start : start + symbol.size] = bytes(1 if dark else 0 for dark in row)
    image = Image.frombytes("P", (total, total), bytes(pixels))
    palette = [255, 255, 255, 0, 0, 0]
    if frame:
        palette += list(bytes.fromhex(COLOUR_HEX[frame].lstrip("#")))
    image.putpalette(palette)
    image = image.resize((total * scale, total * scale), Image.Resampling.NEAREST)
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_svg(data: str, *, frame: Colour | None = None, scale: int = 8) -> bytes:
    """SVG (UTF-8 bytes) in module units; dark runs merged into one path."""
    symbol = encode_qr(data)
    pad = FRAME_MODULES if frame else 0
    total = symbol.size + 2 * pad
    runs: list[str] = []
    for y, row in enumerate(symbol.modules):
        x = 0
        while x < symbol.size:
            if not row[x]:
                x += 1
                continue
            end = x
            while end < symbol.size and row[end]:
                end += 1
            runs.append(f"M{x + pad} {y + pad}h{end - x}v1h-{end - x}z")
            x = end
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total * scale}" '
        f'height="{total * scale}" viewBox="0 0 {total} {total}" shape-rendering="crispEdges">'
    ]
    if frame:
        parts.append(f'<rect width="{total}" height="{total}" fill="{COLOUR_HEX[frame]}"/>')
    parts.append(
        f'<rect x="{pad}" y="{pad}" width="{symbol.size}" height="{symbol.size}" fill="#FFFFFF"/>'
    )
    parts.append(f'<path fill="#000000" d="{"".join(runs)}"/></svg>')
    return "".join(parts).encode("utf-8")
