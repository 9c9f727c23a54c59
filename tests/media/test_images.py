"""media.images: what is accepted, what is read from EXIF, what is served, and that nothing
an upload contains can make processing raise or balloon. Every image is generated here."""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageOps, TiffImagePlugin

from media.images import (
    REUSE_DISTANCE,
    THUMBNAIL_SIZE,
    VIEW_SIZE,
    ImageReport,
    phash_distance,
    process_image,
)

pytestmark = pytest.mark.db_independent  # runs once in CI, not per database

ROOT = Path(__file__).resolve().parents[2]
RED = (230, 20, 30)


# --- builders --------------------------------------------------------------------------------


def scene(size: tuple[int, int], seed: int) -> Image.Image:
    """A photo-like picture: smooth colour fields, a few shapes, a little sensor noise.
    Different seeds give genuinely different pictures."""
    rng = random.Random(seed)
    width, height = size
    grid = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(grid).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(14):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 20, width // 5)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
    noise = Image.effect_noise(size, 12).convert("RGB")
    return Image.blend(img, noise, 0.08)


def encode(img: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def phone_exif(
    *,
    orientation: int | None = 6,
    taken: str | None = "2026:09:21 07:55:12",
    offset: str | None = "+08:00",
    written: str | None = "2026:10:02 18:00:00",
    gps: dict[int, object] | None = None,
    make: str | None = "HUAWEI",
    model: str | None = "ALN-AL00",
) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    if written is not None:
        exif[0x0132] = written
    sub = exif.get_ifd(0x8769)
    if taken is not None:
        sub[0x9003] = taken
    if offset is not None:
        sub[0x9011] = offset
    if gps is None:
        gps = {1: "S", 2: (33.0, 52.0, 12.34), 3: "W", 4: (70.0, 39.0, 0.0)}
    exif.get_ifd(0x8825).update(gps)
    return exif.tobytes()


def jpeg_markers(data: bytes) -> list[int]:
    """The marker of every segment before the scan data (SOS included)."""
    assert data[:2] == b"\xff\xd8"
    markers, pos = [], 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return markers


def assert_served_clean(data: bytes | None, longest: int) -> Image.Image:
    """A derivative: a plain baseline JPEG of bounded size with no metadata at all."""
    assert data is not None
    assert data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    # APP0 (JFIF), DQT, SOF0, DHT, SOS only: no APP1 (EXIF/XMP), APP2 (ICC), APPn, COM.
    assert set(jpeg_markers(data)) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}
    assert b"Exif" not in data and b"http://ns.adobe.com/xap" not in data
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and img.mode == "RGB"
    assert max(img.size) <= longest
    assert len(img.getexif()) == 0
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(img.info)
    img.load()
    return img


def assert_valid(report: ImageReport, fmt: str) -> None:
    assert report.valid, report.reason
    assert report.reason == ""
    assert report.format == fmt
    assert report.phash is not None and len(report.phash) == 16
    assert_served_clean(report.view, VIEW_SIZE)
    assert_served_clean(report.thumbnail, THUMBNAIL_SIZE)


def assert_invalid(report: ImageReport, *words: str) -> None:
    assert not report.valid
    assert report.reason
    for word in words:
        assert word.lower() in report.reason.lower(), report.reason
    assert report.thumbnail is None and report.view is None and report.phash is None


# --- a phone photo ---------------------------------------------------------------------------


def test_12_megapixel_phone_jpeg_is_read_oriented_and_stripped() -> None:
    stored = scene((4000, 3000), seed=1)
    # A red mark in the stored top-left corner. Orientation 6 means "rotate 90° clockwise
    # to display", which moves it to the displayed top-right.
    ImageDraw.Draw(stored).rectangle((0, 0, 600, 450), fill=RED)
    data = encode(stored, quality=90, exif=phone_exif(orientation=6))
    assert len(data) > 500_000

    report = process_image(data)

    assert_valid(report, "JPEG")
    assert (report.width, report.height) == (3000, 4000)  # as displayed
    assert report.exif_taken_at == "2026-09-21T07:55:12+08:00"  # Original, not DateTime
    assert report.gps_latitude == pytest.approx(-(33 + 52 / 60 + 12.34 / 3600), abs=1e-6)
    assert report.gps_longitude == pytest.approx(-(70 + 39 / 60), abs=1e-6)
    assert report.device_model == "HUAWEI ALN-AL00"

    view = assert_served_clean(report.view, VIEW_SIZE)
    thumb = assert_served_clean(report.thumbnail, THUMBNAIL_SIZE)
    assert view.size == (1200, 1600) and thumb.size == (300, 400)
    # Decoding at 1/2 scale in the DCT (draft) gives what a full decode would have given.
    full = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    reference = full.resize((1200, 1600), Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(view, np.int16) - np.asarray(reference, np.int16))
    assert diff.mean() < 3, diff.mean()
    for img in (view, thumb):
        w, _ = img.size
        mark = img.getpixel((w - 1 - w // 40, w // 40))
        unmarked = img.getpixel((w // 40, w // 40))
        assert isinstance(mark, tuple) and isinstance(unmarked, tuple)
        assert mark[0] > 180 and mark[1] < 90 and mark[2] < 90, mark
        assert not (unmarked[0] > 180 and unmarked[1] < 90), unmarked


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_is_applied_as_pillow_does(orientation: int) -> None:
    stored = Image.new("RGB", (120, 80), (20, 20, 200))
    draw = ImageDraw.Draw(stored)
    draw.rectangle((0, 0, 59, 39), fill=RED)
    draw.rectangle((60, 40, 119, 79), fill=(20, 200, 20))
    draw.rectangle((0, 40, 29, 79), fill=(250, 250, 250))
    data = encode(stored, quality=95, exif=phone_exif(orientation=orientation))

    report = process_image(data)

    assert report.valid, report.reason
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    view = Image.open(io.BytesIO(report.view or b"")).convert("RGB")
    assert view.size == expected.size == (report.width, report.height)
    diff = np.abs(np.asarray(view, np.int16) - np.asarray(expected, np.int16))
    assert diff.mean() < 4, diff.mean()


@pytest.mark.parametrize(
    ("exif", "expected"),
    [
        pytest.param(
            {"taken": None, "written": "2026:09:21 07:00:00", "offset": "+08:00"},
            {"exif_taken_at": "2026-09-21T07:00:00"},  # DateTime pairs with OffsetTime only
            id="falls-back-to-DateTime",
        ),
        pytest.param(
            {"taken": "0000:00:00 00:00:00", "written": None},
            {"exif_taken_at": None},
            id="unset-clock",
        ),
        pytest.param(
            {"taken": "2026:02:30 07:00:00", "written": None},
            {"exif_taken_at": None},
            id="impossible-date",
        ),
        pytest.param({"offset": "+99:00"}, {"exif_taken_at": "2026-09-21T07:55:12"}, id="odd-tz"),
        pytest.param(
            {"gps": {2: (33.0, 52.0, 0.0), 4: (70.0, 39.0, 0.0)}},
            {"gps_latitude": None, "gps_longitude": None},
            id="gps-without-hemisphere",
        ),
        pytest.param(
            {
                "gps": {
                    1: "N",
                    2: (TiffImagePlugin.IFDRational(33, 0), 1.0, 1.0),
                    3: "E",
                    4: (200.0, 0.0, 0.0),
                }
            },
            {"gps_latitude": None, "gps_longitude": None},
            id="gps-zero-denominator-and-out-of-range",
        ),
        pytest.param(
            {"gps": {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}},
            {
                "gps_latitude": pytest.approx(39.9075),
                "gps_longitude": pytest.approx(116.38806, abs=1e-5),
            },
            id="gps-north-east",
        ),
        pytest.param(
            {"make": "Canon", "model": "Canon EOS R5\x00  "},
            {"device_model": "Canon EOS R5"},
            id="model-repeats-make",
        ),
        pytest.param(
            {"make": " Xiaomi ", "model": None}, {"device_model": "Xiaomi"}, id="make-only"
        ),
        pytest.param({"make": None, "model": None}, {"device_model": None}, id="no-device"),
    ],
)
def test_exif_claims_are_read_defensively(
    exif: dict[str, object], expected: dict[str, object]
) -> None:
    data = encode(scene((320, 240), seed=2), exif=phone_exif(**exif))  # type: ignore[arg-type]

    report = process_image(data)

    assert report.valid, report.reason
    for field, value in expected.items():
        assert getattr(report, field) == value, field


def test_broken_exif_costs_the_claims_not_the_photo() -> None:
    good = encode(scene((320, 240), seed=3))
    # An APP1 "Exif" segment whose TIFF structure points nowhere.
    app1 = b"Exif\x00\x00MM\x00*\x00\x00\xff\xf0" + b"\x00\x05\xff\xff" * 8
    data = good[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + good[2:]

    report = process_image(data)

    assert_valid(report, "JPEG")
    assert report.exif_taken_at is None and report.gps_latitude is None
    assert report.device_model is None


# --- the allow-list --------------------------------------------------------------------------


def _rgba_png() -> bytes:
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((50, 50, 250, 150), fill=(200, 30, 30, 255))
    return encode(img, "PNG")


def _grey16_png() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (64, 1))
    return encode(Image.fromarray(ramp), "PNG")


def _mpo() -> bytes:
    frames = [scene((320, 240), seed=4), scene((320, 240), seed=5)]
    return encode(frames[0], "MPO", save_all=True, append_images=frames[1:])


def _heic() -> bytes:
    exif = phone_exif(orientation=6)
    return encode(scene((320, 240), seed=6), "HEIF", quality=80, exif=exif)


ALLOWED: dict[str, tuple[Callable[[], bytes], str]] = {
    "jpeg-baseline": (lambda: encode(scene((640, 480), seed=7)), "JPEG"),
    "jpeg-progressive": (lambda: encode(scene((640, 480), seed=7), progressive=True), "JPEG"),
    "jpeg-greyscale": (lambda: encode(scene((640, 480), seed=7).convert("L")), "JPEG"),
    "jpeg-cmyk": (lambda: encode(scene((640, 480), seed=7).convert("CMYK")), "JPEG"),
    "jpeg-mpo": (_mpo, "JPEG"),
    "png-rgb": (lambda: encode(scene((640, 480), seed=8), "PNG"), "PNG"),
    "png-rgba": (_rgba_png, "PNG"),
    "png-palette": (lambda: encode(scene((640, 480), seed=8).quantize(64), "PNG"), "PNG"),
    "png-grey16": (_grey16_png, "PNG"),
    "webp-lossy": (lambda: encode(scene((640, 480), seed=9), "WEBP", quality=80), "WEBP"),
    "webp-lossless": (lambda: encode(scene((200, 150), seed=9), "WEBP", lossless=True), "WEBP"),
    "heic": (_heic, "HEIF"),
}


@pytest.mark.parametrize("kind", ALLOWED)
def test_allowed_formats_are_valid(kind: str) -> None:
    build, fmt = ALLOWED[kind]

    report = process_image(build())

    assert_valid(report, fmt)


def test_transparency_becomes_white_and_16_bit_grey_keeps_its_tones() -> None:
    rgba = process_image(_rgba_png())
    corner = Image.open(io.BytesIO(rgba.view or b"")).getpixel((2, 2))
    assert isinstance(corner, tuple) and min(corner) > 240, corner

    grey = Image.open(io.BytesIO(process_image(_grey16_png()).view or b"")).convert("L")
    left, middle = grey.getpixel((3, 32)), grey.getpixel((128, 32))
    assert isinstance(left, int) and isinstance(middle, int)
    assert left < 20 and 100 < middle < 160, (left, middle)  # a ramp, not clipped to white


def test_heic_orientation_is_applied_by_libheif_and_reported_as_displayed() -> None:
    report = process_image(_heic())

    assert_valid(report, "HEIF")
    assert (report.width, report.height) == (240, 320)
    assert Image.open(io.BytesIO(report.view or b"")).size == (240, 320)
    assert report.device_model == "HUAWEI ALN-AL00"
    assert report.exif_taken_at == "2026-09-21T07:55:12+08:00"


def _psd_header() -> bytes:
    # Signature, version 1, reserved, 3 channels, 64×64, depth 8, RGB, then empty sections.
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 64, 64, 8, 3) + b"\x00" * 16


DISALLOWED: dict[str, tuple[Callable[[], bytes], str]] = {
    "tiff": (lambda: encode(scene((64, 48), 1), "TIFF"), "TIFF"),
    "tiff-jpeg-compressed": (
        lambda: encode(scene((64, 48), 1), "TIFF", compression="jpeg"),
        "TIFF",
    ),
    "gif": (lambda: encode(scene((64, 48), 1), "GIF"), "GIF"),
    "bmp": (lambda: encode(scene((64, 48), 1), "BMP"), "BMP"),
    "ico": (lambda: encode(scene((64, 48), 1), "ICO"), "ICO"),
    "pdf": (lambda: encode(scene((64, 48), 1), "PDF"), "PDF"),
    "jpeg2000": (lambda: encode(scene((64, 48), 1), "JPEG2000"), "JPEG 2000"),
    "avif": (lambda: encode(scene((64, 48), 1), "AVIF"), "AVIF"),
    "eps": (lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n", "EPS"),
    "psd": (_psd_header, "PSD"),
    "svg": (lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
    "html": (lambda: b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML"),
    "zip": (lambda: b"PK\x03\x04" + b"\x00" * 60, "ZIP"),
    "garbage": (lambda: bytes(random.Random(1).randrange(256) for _ in range(4096)), "allowed"),
    "empty": (lambda: b"", "empty"),
    "jpeg-magic-only": (lambda: b"\xff\xd8\xff\xe0", "JPEG"),
}


@pytest.mark.parametrize("kind", DISALLOWED)
def test_other_formats_are_invalid_whatever_they_are_called(kind: str) -> None:
    build, named = DISALLOWED[kind]

    report = process_image(build())

    assert_invalid(report, named)
    assert report.format is None


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: encode(scene((640, 480), 10)), id="jpeg"),
        pytest.param(lambda: encode(scene((640, 480), 10), progressive=True), id="progressive"),
        pytest.param(lambda: encode(scene((640, 480), 10), "PNG"), id="png"),
        pytest.param(lambda: encode(scene((640, 480), 10), "WEBP"), id="webp"),
        pytest.param(lambda: encode(scene((320, 240), 10), "HEIF"), id="heic"),
    ],
)
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_images_are_invalid(build: Callable[[], bytes], keep: float) -> None:
    data = build()

    report = process_image(data[: int(len(data) * keep)])

    assert_invalid(report)


def test_a_jpeg_missing_only_its_end_marker_is_invalid() -> None:
    data = encode(scene((640, 480), 11))

    assert_invalid(process_image(data[:-2]), "truncated")


# --- decompression bombs ---------------------------------------------------------------------


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bomb(side: int, *, complete: bool = True) -> bytes:
    """A black greyscale PNG of side×side whose pixel data really is there (complete) or
    only starts (a header that merely declares the size): ~1 KiB per 1 Mpx of zeros."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    rows = side if complete else 16
    block = b"\x00" * (side + 1) * 256
    parts = [compressor.compress(block) for _ in range(rows // 256)]
    parts.append(compressor.compress(b"\x00" * (side + 1) * (rows % 256)))
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bomb_header(side: int) -> bytes:
    sof = struct.pack(">BHHB", 8, side, side, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sos = b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return (
        b"\xff\xd8\xff\xc0"
        + struct.pack(">H", len(sof) + 2)
        + sof
        + b"\xff\xda"
        + struct.pack(">H", len(sos) + 2)
        + sos
        + b"\xff\xd9"
    )


_RSS_PROBE = """
import json, sys, time
from pathlib import Path
from media.images import process_image

def peak_mib():
    # VmHWM, the peak RSS of this address space. Not getrusage's ru_maxrss: Linux carries
    # it over from the parent across fork+exec, so it starts at pytest's own peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")

*bomb_paths, control_path, warm_path = sys.argv[1:]
bombs = [Path(p).read_bytes() for p in bomb_paths]
control = Path(control_path).read_bytes()
assert process_image(Path(warm_path).read_bytes()).valid  # first-call allocations
before = peak_mib()
reports, slowest = [], 0.0
for data in bombs:
    started = time.perf_counter()
    report = process_image(data)
    slowest = max(slowest, time.perf_counter() - started)
    reports.append([report.valid, report.reason])
after_bombs = peak_mib()
# Proof that the probe sees a decode: the same 64 Mpx PNG, allowed this time.
control_valid = process_image(control, max_pixels=100_000_000).valid
after_control = peak_mib()
print(json.dumps({
    "reports": reports, "slowest_s": slowest, "before_mib": before,
    "bomb_mib": after_bombs - before, "control_mib": after_control - after_bombs,
    "control_valid": control_valid,
}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_decompression_bombs_are_rejected_without_a_memory_spike(tmp_path: Path) -> None:
    bombs = {
        "png-declares-900Mpx": png_bomb(30_000, complete=False),  # > 2x Pillow's limit
        "png-144Mpx-real": png_bomb(12_000),  # Pillow would only warn, then decode it all
        "png-64Mpx-real": png_bomb(8_000),  # under Pillow's limit, over ours
        "jpeg-declares-3600Mpx": jpeg_bomb_header(60_000),
    }
    paths = []
    for name, data in bombs.items():
        assert len(data) < 200_000  # small files, huge images
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    paths.append(tmp_path / "png-64Mpx-real")  # the control
    warm = tmp_path / "warm.png"
    warm.write_bytes(encode(scene((200, 150), 1), "PNG"))
    paths.append(warm)

    # A fresh interpreter: peak RSS is a high-water mark, so the pytest process's own
    # history would hide a spike.
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _RSS_PROBE, *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)

    for name, (valid, reason) in zip(bombs, probe["reports"], strict=True):
        assert not valid, name
        assert "bomb" in reason or "too large" in reason, (name, reason)
    assert probe["bomb_mib"] < 100, probe
    assert probe["slowest_s"] < 1.0, probe
    # The probe is sensitive enough: decoding one of these bombs shows up.
    assert probe["control_valid"] and probe["control_mib"] > 50, probe


def test_the_pixel_cap_is_the_callers_and_leaves_global_state_alone() -> None:
    data = encode(scene((200, 100), 12))
    filters = list(warnings.filters)
    limit = Image.MAX_IMAGE_PIXELS

    capped = process_image(data, max_pixels=19_999)
    allowed = process_image(data, max_pixels=20_000)

    assert_invalid(capped, "too large", "200×100")
    assert (capped.format, capped.width, capped.height) == ("JPEG", 200, 100)
    assert allowed.valid
    assert limit == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters


# --- fuzzing ---------------------------------------------------------------------------------


def _fuzz_seeds() -> list[bytes]:
    small = scene((96, 64), 13)
    exif = phone_exif(orientation=8)
    return [
        encode(small, quality=80, exif=exif),
        encode(small, quality=80, progressive=True, comment=b"hello"),
        encode(small, "PNG"),
        encode(small.quantize(16), "PNG", transparency=0),
        encode(small, "WEBP", quality=70, exif=exif),
        encode(small, "HEIF", quality=50),
        _mpo(),
    ]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        pos = rng.randrange(len(buf)) if buf else 0
        op = rng.randrange(7)
        if op == 0:  # a few random bytes
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 1:  # one bit
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 2:  # truncation
            del buf[pos:]
        elif op == 3:  # insertion
            buf[pos:pos] = rng.randbytes(rng.randint(1, 64))
        elif op == 4:  # deletion of a run
            del buf[pos : pos + rng.randint(1, 64)]
        elif op == 5:  # a duplicated run
            buf[pos:pos] = buf[pos : pos + rng.randint(1, 256)]
        else:  # an extreme 16/32-bit field (sizes, lengths, offsets live in these)
            value = rng.choice((b"\xff\xff", b"\x00\x00", b"\x7f\xff\xff\xff", b"\xff" * 4))
            buf[pos : pos + len(value)] = value
        if not buf:
            break
    return bytes(buf)


def test_mutated_images_never_raise_and_always_explain_themselves() -> None:
    rng = random.Random(20261122)
    seeds = _fuzz_seeds()
    outcomes = {True: 0, False: 0}
    for i in range(3_150):
        data = _mutate(seeds[i % len(seeds)], rng)

        report = process_image(data)  # must not raise

        assert isinstance(report, ImageReport)
        outcomes[report.valid] += 1
        if report.valid:
            assert report.reason == "" and report.format in {"JPEG", "PNG", "WEBP", "HEIF"}
            assert report.thumbnail and report.thumbnail.startswith(b"\xff\xd8")
            assert report.view and report.view.endswith(b"\xff\xd9")
            assert report.phash is not None and len(report.phash) == 16
        else:
            assert report.reason.strip(), data[:32]
            assert report.thumbnail is None and report.view is None
    # Both paths were exercised: the mutations neither always break nor never break.
    assert outcomes[True] > 100 and outcomes[False] > 300, outcomes


# --- polyglots -------------------------------------------------------------------------------

HTML_PAYLOAD = b"<html><body><script>alert('polyglot')</script></body></html>"


def _zip_payload() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("evil.html", HTML_PAYLOAD)
    return out.getvalue()


def _trailing_polyglot() -> bytes:
    return encode(scene((800, 600), 14), quality=90) + _zip_payload() + HTML_PAYLOAD


def _comment_polyglot() -> bytes:
    return encode(scene((800, 600), 14), quality=90, comment=HTML_PAYLOAD + b"PK\x03\x04")


def _app15_polyglot() -> bytes:
    jpeg = encode(scene((800, 600), 14), quality=90)
    segment = HTML_PAYLOAD + _zip_payload()
    return jpeg[:2] + b"\xff\xef" + struct.pack(">H", len(segment) + 2) + segment + jpeg[2:]


@pytest.mark.parametrize(
    "build",
    [_trailing_polyglot, _comment_polyglot, _app15_polyglot],
    ids=["trailing", "COM", "APP15"],
)
def test_polyglot_jpegs_are_served_without_their_payload(build: Callable[[], bytes]) -> None:
    data = build()
    assert b"<script>" in data and Image.open(io.BytesIO(data)).format == "JPEG"
    if build is _trailing_polyglot:
        assert zipfile.ZipFile(io.BytesIO(data)).read("evil.html") == HTML_PAYLOAD

    report = process_image(data)

    assert_valid(report, "JPEG")
    for served in (report.thumbnail or b"", report.view or b""):
        for needle in (b"<script", b"<html", b"PK\x03\x04", b"PK\x05\x06", b"evil.html"):
            assert needle not in served, needle


# --- reuse -----------------------------------------------------------------------------------


def _hash(data: bytes) -> str:
    report = process_image(data)
    assert report.valid and report.phash is not None, report.reason
    return report.phash


@pytest.mark.parametrize("seed", range(4))
def test_a_resaved_or_resized_photo_is_within_the_reuse_distance(seed: int) -> None:
    photo = scene((1600, 1200), seed=100 + seed)
    original = encode(photo, quality=92)
    decoded = Image.open(io.BytesIO(original))
    rotated_exif = Image.Exif()
    rotated_exif[0x0112] = 6
    copies = {
        "quality 70": encode(decoded, quality=70),
        "50 %": encode(decoded.resize((800, 600), Image.Resampling.LANCZOS), quality=92),
        "50 % at quality 70": encode(decoded.resize((800, 600)), quality=70),
        "25 % at quality 40": encode(decoded.resize((400, 300)), quality=40),
        "as PNG": encode(decoded, "PNG"),
        "10 % brighter": encode(ImageEnhance.Brightness(decoded).enhance(1.1), quality=85),
        # the same pixels stored sideways with an EXIF rotation
        "EXIF-rotated": encode(
            decoded.transpose(Image.Transpose.ROTATE_90), quality=92, exif=rotated_exif.tobytes()
        ),
    }
    base = _hash(original)

    distances = {name: phash_distance(base, _hash(copy)) for name, copy in copies.items()}

    assert max(distances.values()) <= REUSE_DISTANCE, distances


def test_different_photos_are_beyond_the_reuse_distance() -> None:
    hashes = [_hash(encode(scene((1024, 768), seed=200 + seed))) for seed in range(10)]
    # Two different scenes of the same kind, and a new shot of one scene framed 10 % apart.
    photo = scene((1600, 1200), seed=300)
    reframed = photo.crop((160, 120, 1600, 1200)).resize((1600, 1200))

    closest = min(phash_distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :])
    reframed_distance = phash_distance(_hash(encode(photo)), _hash(encode(reframed)))

    assert closest > REUSE_DISTANCE, closest
    assert reframed_distance > REUSE_DISTANCE, reframed_distance


def test_phash_distance() -> None:
    assert phash_distance("0" * 16, "0" * 16) == 0
    assert phash_distance("0" * 16, "f" * 16) == 64
    assert phash_distance("8000000000000001", "0000000000000000") == 2
    assert phash_distance("ABCDEF0123456789", "abcdef0123456789") == 0
    for bad in ("", "0" * 15, "0" * 17, "g" * 16, " " + "0" * 15):
        with pytest.raises(ValueError, match="16 hexadecimal"):
            phash_distance(bad, "0" * 16)
