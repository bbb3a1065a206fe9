"""QR images: level M, version 13 or lower, quiet zone, and they decode back to the code."""

from __future__ import annotations

import io
import random
import re
import secrets
import string
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import qrcode
import qrcode.constants
import zxingcpp
from PIL import Image, ImageDraw

from huimin.employment_code import (
    DEFINITIONS,
    MAX_QR_VERSION,
    Colour,
    EmploymentCodes,
    KeyRing,
    QRTooLargeError,
    Status,
    definition,
    encode_qr,
    generate_key,
    new_subject_id,
    qr_png,
    qr_svg,
)
from huimin.platform.settings import EmploymentCodeSettings

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
SCALE = 4


@pytest.fixture(scope="module")
def codes(tmp_path_factory: pytest.TempPathFactory) -> EmploymentCodes:
    key_dir = tmp_path_factory.mktemp("keys")
    generate_key("2025-06", key_dir, activates_at=NOW)
    settings = EmploymentCodeSettings()
    ring = KeyRing.from_directory(key_dir, retire_after_seconds=settings.retire_after_seconds)
    return EmploymentCodes(ring, settings)


def decode(image: Image.Image) -> zxingcpp.Barcode:
    results = zxingcpp.read_barcodes(image.convert("L"))
    assert len(results) == 1
    return results[0]


def svg_to_image(svg: bytes) -> Image.Image:
    """Rasterise our SVG (rects + one path of `M x y h w v1 h-w z` runs) for the decoder."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    size = int(root.attrib["viewBox"].split()[2])
    image = Image.new("RGB", (size * SCALE, size * SCALE), "white")
    draw = ImageDraw.Draw(image)
    for rect in root.iter(f"{ns}rect"):
        x, y = int(rect.get("x", 0)), int(rect.get("y", 0))
        w, h = int(rect.attrib["width"]), int(rect.attrib["height"])
        box = (x * SCALE, y * SCALE, (x + w) * SCALE - 1, (y + h) * SCALE - 1)
        draw.rectangle(box, fill=rect.attrib["fill"])
    path = root.find(f"{ns}path")
    assert path is not None and path.attrib["fill"] == "#000000"
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path.attrib["d"])
    assert "".join(f"M{x} {y}h{w}v1h-{w2}z" for x, y, w, w2 in runs) == path.attrib["d"]
    for x, y, w, _ in runs:
        x0, y0, w0 = int(x), int(y), int(w)
        box = (x0 * SCALE, y0 * SCALE, (x0 + w0) * SCALE - 1, (y0 + 1) * SCALE - 1)
        draw.rectangle(box, fill="black")
    return image


@pytest.mark.parametrize("status", list(Status))
def test_code_symbol_is_level_m_and_small_enough(codes: EmploymentCodes, status: Status) -> None:
    code = codes.issue(new_subject_id(), status, now=NOW).code
    symbol = encode_qr(code)
    assert symbol.error_correction == "M"
    assert symbol.version <= MAX_QR_VERSION
    assert symbol.size == 17 + 4 * symbol.version + 2 * 4  # modules plus quiet zone


@pytest.mark.parametrize("frame", [None, *Colour])
def test_png_decodes_back_to_the_code(codes: EmploymentCodes, frame: Colour | None) -> None:
    code = codes.issue(new_subject_id(), Status.JOB_SEEKING, now=NOW).code
    png = qr_png(code, frame=frame, scale=SCALE)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    result = decode(Image.open(io.BytesIO(png)))
    assert result.text == code
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    assert result.ec_level == "M"
    assert int(result.extra["Version"]) <= MAX_QR_VERSION
    assert codes.verify(result.text, now=NOW).valid


def test_png_quiet_zone_is_white_and_frame_is_outside_it(codes: EmploymentCodes) -> None:
    code = codes.issue(new_subject_id(), Status.PRIORITY, now=NOW).code
    image = Image.open(io.BytesIO(qr_png(code, frame=Colour.ORANGE, scale=SCALE))).convert("RGB")
    modules = encode_qr(code).size
    frame = 2
    assert image.size == ((modules + 2 * frame) * SCALE,) * 2
    orange = tuple(bytes.fromhex(definition(Status.PRIORITY).hex[1:]))
    assert image.getpixel((0, 0)) == orange
    assert image.getpixel((frame * SCALE - 1, image.height // 2)) == orange
    inner = frame * SCALE
    for i in range(4 * SCALE):  # the 4-module quiet zone along each edge is white
        for j in range(inner, image.width - inner):
            for xy in ((inner + i, j), (j, inner + i)):
                assert image.getpixel(xy) == (255, 255, 255)
    # Modules stay pure black on white: no tint inside the symbol.
    symbol_box = image.crop((inner, inner, image.width - inner, image.height - inner))
    assert {c for _, c in symbol_box.getcolors()} == {(0, 0, 0), (255, 255, 255)}


@pytest.mark.parametrize("frame", [None, Colour.GREEN, Colour.GREY])
def test_svg_decodes_back_to_the_code(codes: EmploymentCodes, frame: Colour | None) -> None:
    code = codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW).code
    svg = qr_svg(code, frame=frame)
    root = ET.fromstring(svg)
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    if frame:
        expected = next(d.hex for d in DEFINITIONS.values() if d.colour is frame)
        assert rects[0].attrib["fill"] == expected
    assert rects[-1].attrib["fill"] == "#FFFFFF"
    result = decode(svg_to_image(svg))
    assert result.text == code and result.ec_level == "M"


def test_payload_needing_version_14_fails_loudly() -> None:
    assert encode_qr("a" * 331).version == 13
    with pytest.raises(QRTooLargeError, match="version 14"):
        encode_qr("a" * 332)
    with pytest.raises(QRTooLargeError):
        qr_png(secrets.token_urlsafe(400))
    with pytest.raises(QRTooLargeError):
        qr_svg("x" * 5000)


def test_code_written_to_disk_is_a_real_png(codes: EmploymentCodes, tmp_path: Path) -> None:
    code = codes.issue(new_subject_id(), Status.NOT_IN_LABOUR_MARKET, now=NOW).code
    path = tmp_path / "code.png"
    path.write_bytes(qr_png(code, frame=Colour.GREY))
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 77 * 8
        assert decode(image).text == code


def test_symbol_is_exactly_what_qrcode_itself_would_make(codes: EmploymentCodes) -> None:
    """encode_qr picks the mask faster than qrcode does; the result must be identical."""
    rng = random.Random(20250601)
    alphabet = string.ascii_letters + string.digits + "-_."
    payloads = [codes.issue(new_subject_id(), s, now=NOW).code for s in Status]
    payloads += ["".join(rng.choices(alphabet, k=rng.randint(1, 331))) for _ in range(40)]
    payloads += ["0123456789" * 20, "HELLO WORLD " * 20, "就业码"]
    versions = set()
    for data in payloads:
        reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        reference.add_data(data)
        reference.make(fit=True)
        symbol = encode_qr(data)
        assert symbol.version == reference.version
        assert symbol.modules == tuple(tuple(row) for row in reference.get_matrix())
        versions.add(symbol.version)
    assert len(versions) >= 8  # many sizes, so many data-cell layouts, were compared
