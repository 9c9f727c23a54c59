"""Image processing for photo evidence: pure functions over bytes (no Flask, no DB, no storage).

:func:`process_image` decides whether uploaded bytes are a photo we accept, reads the EXIF
claims we keep as evidence (capture time, GPS, device), and makes the two derivatives that
are ever served (a 400 px thumbnail and a 1600 px view) plus a perceptual hash for spotting
a photo reused on another day. Originals are never served; the derivatives are re-encoded
from pixels only, so no metadata (GPS!) and no payload smuggled into the original survives.

Threat model (reference/reliability.md §2, Pillow's security handbook):

* S-1 format sniffing: ``Image.open`` picks a parser by magic bytes, so bytes named ``.jpg``
  can reach the TIFF, PSD or EPS parsers. We pass an explicit allow-list (``formats=``) and
  report the format detected from the bytes, never the file name or declared type.
* D-1 decompression bombs: the pixel count is checked from the header (``Image.open`` is
  lazy) before anything is decoded, and Pillow's ``DecompressionBombWarning`` is escalated
  to an error for the duration of the call. The global ``Image.MAX_IMAGE_PIXELS`` is left
  alone: it belongs to the whole process.
* Malformed input raises ``OSError``, ``UnidentifiedImageError``, ``SyntaxError`` and, per
  Pillow issue #9814, ``ValueError``/``IndexError``/``struct.error``: every failure becomes
  ``valid=False`` with a reason, never an exception (``MemoryError`` excepted, see below).
* T-1/I-1 metadata and polyglots: derivatives are new JPEGs made from RGB pixels with an
  empty ``info``, so no EXIF/XMP/ICC/comment and no trailing bytes are copied.

Not thread-safe: ``warnings.catch_warnings`` swaps the process-wide warning filters. Call it
from one thread per process (the RQ work-horse does), or serialise calls.
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import imagehash
import pillow_heif
from PIL import Image, UnidentifiedImageError

# HEIC is what iPhones shoot, so HEIF is added deliberately (reference §2, recipe step 2).
# Embedded thumbnails are disabled because pillow-heif's ``draft`` could otherwise decode a
# container's thumbnail, which need not show what the primary image shows; depth and
# auxiliary images are never used, so they are not parsed. (These options are global to
# pillow-heif; nothing else in the project opens HEIF.)
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Pillow format id -> the format we report. MPO is how Pillow names a JPEG that carries a
# Multi-Picture (MPF) index, as many phones write; its first frame is an ordinary JPEG.
_REPORTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIF"}
# The only parsers Image.open may try; MPO is reached through the JPEG opener.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
_ALLOWED_TEXT = "JPEG, PNG, WebP, HEIC/HEIF"

THUMBNAIL_SIZE = 400  # longest side, px
VIEW_SIZE = 1600
# Visually lossless for phone photos at these sizes; the thumbnail only needs to be
# recognisable in a list, so it trades a little quality for fewer bytes.
THUMBNAIL_QUALITY = 80
VIEW_QUALITY = 85
# Image.thumbnail()'s defaults: reduce() by an integer factor first (cheap box averaging),
# leaving a resample of at least 2x for BICUBIC. Against LANCZOS the mean pixel difference
# was 0.26 of 255 on the bench photo, and the view got about a quarter cheaper: resizing is
# the most expensive step after decoding.
_RESAMPLE = Image.Resampling.BICUBIC
_REDUCING_GAP = 2.0

# "The same photo re-saved or resized", in bits of the 64-bit pHash. Measured on 12
# synthetic photos (tests/media/test_images.py): re-saving at quality 70, resizing to 50 %,
# both, quality 40 at 25 %, +10 % brightness, and EXIF rotation versus rotated pixels moved
# the hash by 0-2 bits; distinct photos were >= 24 bits apart (mean 31, as for unrelated
# hashes). The same scene re-framed by 2 % moved 2-6 bits, by 5 % 6-14, by 10 % 14-24.
# 6 leaves a 3x margin over plain re-saving (messaging apps recompress and sharpen harder
# than the tests); a 2 % re-framing (a cropped copy) is caught, a 5 % one mostly not, a 10 %
# one never. A photo's pHash nearly always has 32 of 64 bits set, so distances are even and
# 6 and 7 act alike. A match is a flag for a human, never a verdict: two selfies taken from
# the same spot at a school gate can come close.
REUSE_DISTANCE = 6

# Exceptions Pillow, pillow-heif and the EXIF parser are known to raise on hostile or broken
# input. Listed so that a new kind shows up as "unreadable image: <type>" and gets a look.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,  # Pillow's historic "not a valid X file"
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
)
# EXIF is a TIFF structure of attacker-chosen offsets and types, parsed lazily by Pillow
# as we read it: values of an unexpected type, and IFDs that point back at each other.
_EXIF_ERRORS: tuple[type[BaseException], ...] = (*_DECODE_ERRORS, AttributeError, RecursionError)

_MAX_REASON = 300
_T = TypeVar("_T")

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME = 0x9010
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

# The EXIF orientation -> the transpose that undoes it; the same table as
# ImageOps.exif_transpose (a test checks they agree for all eight values).
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_EXIF_DATETIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\uffff]+")


@dataclass(frozen=True)
class ImageReport:
    """What :func:`process_image` found. Invalid reports carry only ``reason`` and, when the
    header was read, ``format``, ``width`` and ``height``."""

    valid: bool
    reason: str  # "" when valid; else a human-readable reason naming what is wrong
    format: str | None  # "JPEG" | "PNG" | "WEBP" | "HEIF", detected from the bytes
    width: int | None  # as displayed (EXIF orientation applied), like the derivatives;
    height: int | None  # as declared in the header when an invalid image got no further
    exif_taken_at: str | None  # "YYYY-MM-DDTHH:MM:SS[+HH:MM]": a claim, kept as evidence
    gps_latitude: float | None  # decimal degrees, S negative
    gps_longitude: float | None  # decimal degrees, W negative
    device_model: str | None  # EXIF Make + Model
    phash: str | None  # 16 hex chars, of the orientation-fixed image
    thumbnail: bytes | None  # JPEG, longest side <= 400 px, no metadata
    view: bytes | None  # JPEG, longest side <= 1600 px, no metadata


@dataclass(frozen=True)
class _Claims:
    """What EXIF says; every field is None when absent or not believable as data."""

    taken_at: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    device_model: str | None = None
    orientation: int = 1


class _Rejected(Exception):
    """The bytes decoded far enough to know they are not acceptable."""


def process_image(data: bytes, *, max_pixels: int = 50_000_000) -> ImageReport:
    """Validate ``data`` as a photo and derive what may be served; never raises on bad input.

    ``max_pixels`` caps width × height as declared in the header, before decoding. Pillow's
    own bomb limit (``Image.MAX_IMAGE_PIXELS``, 89 Mpx by default) still applies on top.
    Memory: JPEGs decode at 1/2-1/8 scale, but PNG, WebP and HEIF decode in full at 4 bytes
    a pixel: a 0.6 MB PNG of 49 Mpx raised peak RSS by 266 MB (RGB) and 453 MB (RGBA, which
    Pillow premultiplies in a copy to resize). Size worker memory limits for that, or pass a
    lower cap.
    Only the first (primary) frame of an MPO, APNG, animated WebP or HEIF sequence is used.
    """
    return _process(data, max_pixels=max_pixels, make_view=True)


def phash_distance(a: str, b: str) -> int:
    """Hamming distance of two 64-bit pHashes given as 16 hex chars (0 = identical)."""
    if not (_HEX16.fullmatch(a) and _HEX16.fullmatch(b)):
        raise ValueError("a pHash is 16 hexadecimal characters")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _process(data: bytes, *, max_pixels: int, make_view: bool) -> ImageReport:
    """The pipeline; ``make_view=False`` skips the 1600 px view (the benchmark compares the
    thumbnail path alone against raw Pillow)."""
    if not data:
        return _invalid("empty file")
    known: dict[str, Any] = {}  # format and size, once read, so a rejection can name them
    try:
        with warnings.catch_warnings():
            # Pillow reports odd metadata in a file ("Corrupt EXIF data", "malformed MPO",
            # "Invalid APNG") as UserWarning and carries on. That is the input's business,
            # already handled by parsing EXIF defensively, and must not depend on the
            # caller's filters (pytest makes warnings errors; production prints them).
            # Other categories (deprecations in how we call Pillow) still reach the caller.
            warnings.simplefilter("ignore", UserWarning)
            # Between 1x and 2x MAX_IMAGE_PIXELS Pillow only warns and then decodes the
            # bomb in full (reference §0.4: 137 KiB -> +138 MB RSS). Make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode_and_derive(data, max_pixels, make_view, known)
    except _Rejected as exc:
        return _invalid(str(exc), **known)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return _invalid(f"decompression bomb rejected: {exc}", **known)
    except UnidentifiedImageError:
        return _invalid(_unidentified_reason(data))
    except MemoryError:
        # Not swallowed: the pixel cap is enforced before decoding, so running out of
        # memory says this process is short of it, not that the photo is bad. Marking the
        # photo invalid would lose evidence for good; failing the job lets it be retried.
        raise
    except _DECODE_ERRORS as exc:
        what = known.get("format") or _sniff(data) or "image"
        return _invalid(f"corrupt or truncated {what}: {type(exc).__name__}: {exc}", **known)
    except Exception as exc:  # anything else the bytes provoke is still the input's fault
        return _invalid(f"unreadable image: {type(exc).__name__}", **known)


def _decode_and_derive(
    data: bytes, max_pixels: int, make_view: bool, known: dict[str, Any]
) -> ImageReport:
    with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
        reported = _REPORTED_FORMATS.get(img.format or "")
        if reported is None:  # belt and braces: the allow-list above should make this moot
            raise _Rejected(f"{img.format} is not an allowed image format ({_ALLOWED_TEXT})")
        width, height = img.size
        known.update(format=reported, width=width, height=height)
        if width < 1 or height < 1:
            raise _Rejected(f"{reported} declares an empty image ({width}×{height})")
        if width * height > max_pixels:
            raise _Rejected(
                f"image too large: {width}×{height} = {width * height:,} pixels exceeds the "
                f"limit of {max_pixels:,} (checked before decoding)"
            )

        first_size = VIEW_SIZE if make_view else THUMBNAIL_SIZE
        if reported == "JPEG" and max(width, height) > first_size:
            # libjpeg can decode at 1/2, 1/4 or 1/8 scale in the DCT, which skips most of
            # the work and memory (a 12 MP photo decodes as 3 MP for the view). Ask for the
            # smallest scale whose longest side is still >= the first derivative, so that
            # derivative is always a downscale of real pixels: draft() needs *both* sides
            # of the box to fit, so the box has the image's aspect ratio.
            img.draft("RGB", _draft_box((width, height), first_size))
        img.load()  # decodes; raises on truncated or corrupt data
        claims = _read_claims(img)

        frame = _resizable_mode(img)
        # Orientation is applied after downscaling: transposing commutes with resizing,
        # and it is a copy of 3 Mpx instead of 12.
        first = _orient(_downscale(frame, first_size), claims.orientation)
        first = _flatten_to_rgb(first)
        # The thumbnail is made from the view, not from the original: one decode serves
        # both, and 1600 -> 400 is a cheap, high-quality step.
        thumb = _downscale(first, THUMBNAIL_SIZE) if make_view else first
        view_bytes = _encode_jpeg(first, VIEW_QUALITY) if make_view else None
        thumb_bytes = _encode_jpeg(thumb, THUMBNAIL_QUALITY)
        # Hashed on the oriented thumbnail: pHash looks at a 32×32 greyscale version, so
        # a 400 px source gives the same bits as the original, and a photo and its rotated
        # twin (EXIF vs pixels) hash alike.
        phash = str(imagehash.phash(thumb))
        if claims.orientation in (5, 6, 7, 8):  # a quarter turn: report the size as shown
            width, height = height, width

    return ImageReport(
        valid=True,
        reason="",
        format=reported,
        width=width,
        height=height,
        exif_taken_at=claims.taken_at,
        gps_latitude=claims.latitude,
        gps_longitude=claims.longitude,
        device_model=claims.device_model,
        phash=phash,
        thumbnail=thumb_bytes,
        view=view_bytes,
    )


def _invalid(
    reason: str, *, format: str | None = None, width: int | None = None, height: int | None = None
) -> ImageReport:
    reason = reason.strip() or "unreadable image"
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 1] + "…"
    return ImageReport(
        valid=False,
        reason=reason,
        format=format,
        width=width,
        height=height,
        exif_taken_at=None,
        gps_latitude=None,
        gps_longitude=None,
        device_model=None,
        phash=None,
        thumbnail=None,
        view=None,
    )


# --- pixels ----------------------------------------------------------------------------------


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """``size`` scaled so its longest side is ``longest`` (never below 1 px)."""
    width, height = size
    side = max(width, height)
    return max(1, round(width * longest / side)), max(1, round(height * longest / side))


def _draft_box(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """The box for ``draft()``: rounded down, so that a scale whose longest side is still
    >= ``longest`` is never missed (draft picks the largest scale at which both sides of
    the image stay >= the box)."""
    width, height = size
    side = max(width, height)
    return max(1, width * longest // side), max(1, height * longest // side)


def _downscale(img: Image.Image, longest: int) -> Image.Image:
    if max(img.size) <= longest:
        return img  # never upscale: a small photo stays as small as it was taken
    return img.resize(_fit(img.size, longest), _RESAMPLE, reducing_gap=_REDUCING_GAP)


def _orient(img: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATION_FIX.get(orientation)
    return img if method is None else img.transpose(method)


def _resizable_mode(img: Image.Image) -> Image.Image:
    """Bring odd modes to one that resizes faithfully (P and 1 would go nearest-neighbour)."""
    if img.mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return img
    if img.mode.startswith("I"):
        # 16-bit greyscale PNG: Pillow's convert("L") clips at 255 (mostly white), so
        # scale 0-65535 down to 0-255 instead.
        return img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if img.mode == "PA" or (img.mode in ("P", "1") and "transparency" in img.info):
        return img.convert("RGBA")
    # P and 1 without transparency, YCbCr, LAB, HSV, F: plain RGB.
    return img.convert("RGB")


def _flatten_to_rgb(img: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent areas become white rather than whatever colour they hid."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _encode_jpeg(img: Image.Image, quality: int) -> bytes:
    # Pillow copies ``info`` into every derived image and its JPEG encoder writes
    # ``info["comment"]`` as a COM segment unless told otherwise, so a payload hidden in
    # the original's comment would be served. Empty it; pass no exif=, icc_profile= or
    # xmp=. Dropping ICC means wide-gamut (Display P3) photos look slightly less
    # saturated: acceptable for evidence, and it avoids a colour-management pass.
    img.info = {}
    out = io.BytesIO()
    # optimize/progressive would cost encode time for a few % of bytes.
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


# --- EXIF claims ---------------------------------------------------------------------------


def _read_claims(img: Image.Image) -> _Claims:
    """EXIF is read field by field; a broken field costs that field, never the photo."""
    try:
        exif = img.getexif()
    except _EXIF_ERRORS:
        return _Claims()
    exif_ifd = _ifd(exif, _EXIF_IFD)
    gps_ifd = _ifd(exif, _GPS_IFD)
    return _Claims(
        taken_at=_guard(lambda: _taken_at(exif, exif_ifd)),
        latitude=_guard(lambda: _coordinate(gps_ifd, _GPS_LAT, _GPS_LAT_REF, "N", "S", 90.0)),
        longitude=_guard(lambda: _coordinate(gps_ifd, _GPS_LON, _GPS_LON_REF, "E", "W", 180.0)),
        device_model=_guard(lambda: _device(exif)),
        orientation=_guard(lambda: _orientation(exif)) or 1,
    )


def _guard(read: Callable[[], _T | None]) -> _T | None:
    try:
        return read()
    except _EXIF_ERRORS:
        return None


def _ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except _EXIF_ERRORS:
        return {}


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    cleaned = " ".join(_NOT_PRINTABLE.sub(" ", value).split())
    return cleaned or None


def _taken_at(exif: Image.Exif, exif_ifd: dict[int, Any]) -> str | None:
    # DateTimeOriginal is when the shutter fired; DateTime (IFD0) is when the file was last
    # written, which an editor changes, so it is only the fallback. Each pairs with its own
    # offset tag.
    for stamp, offset in (
        (exif_ifd.get(_TAG_DATETIME_ORIGINAL), exif_ifd.get(_TAG_OFFSET_TIME_ORIGINAL)),
        (exif.get(_TAG_DATETIME), exif_ifd.get(_TAG_OFFSET_TIME)),
    ):
        parsed = _parse_exif_datetime(_text(stamp))
        if parsed is not None:
            return parsed + _parse_exif_offset(_text(offset))
    return None


def _parse_exif_datetime(stamp: str | None) -> str | None:
    match = _EXIF_DATETIME.match(stamp or "")
    if match is None:
        return None
    try:  # "0000:00:00 00:00:00" (unset clock) and other impossible dates are not claims
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _parse_exif_offset(offset: str | None) -> str:
    match = _EXIF_OFFSET.fullmatch(offset or "")
    if match is None:
        return ""
    sign, hours, minutes = match.groups()
    if int(hours) > 14 or int(minutes) > 59:  # UTC-12 .. UTC+14 exist, nothing beyond
        return ""
    return f"{sign}{hours}:{minutes}"


def _coordinate(
    gps: dict[int, Any], value_tag: int, ref_tag: int, positive: str, negative: str, limit: float
) -> float | None:
    ref = _text(gps.get(ref_tag))
    parts = gps.get(value_tag)
    # No reference means no hemisphere: guessing one would be a claim the phone never made.
    if ref not in (positive, negative) or not isinstance(parts, tuple) or len(parts) != 3:
        return None
    degrees, minutes, seconds = (float(part) for part in parts)
    if not all(math.isfinite(x) and x >= 0 for x in (degrees, minutes, seconds)):
        return None  # a zero denominator reads as NaN
    value = degrees + minutes / 60 + seconds / 3600
    if value > limit:
        return None
    return round(-value if ref == negative else value, 7)  # 7 decimals ≈ 1 cm


def _device(exif: Image.Exif) -> str | None:
    make = _text(exif.get(_TAG_MAKE))
    model = _text(exif.get(_TAG_MODEL))
    if make and model and model.lower().startswith(make.lower()):
        make = None  # "Canon" + "Canon EOS R5" -> "Canon EOS R5"
    device = " ".join(part for part in (make, model) if part)
    return device[:100] or None  # the column's width


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(_TAG_ORIENTATION, 1)
    return value if isinstance(value, int) and value in _ORIENTATION_FIX else 1


# --- reasons -------------------------------------------------------------------------------


def _unidentified_reason(data: bytes) -> str:
    """Name what the bytes look like; acceptance never depends on this, only the message."""
    kind = _sniff(data)
    if kind in ("JPEG", "PNG", "WebP", "HEIF"):
        return f"corrupt {kind}: the bytes start like {kind} but cannot be decoded"
    if kind is not None:
        return f"{kind} is not an allowed image format ({_ALLOWED_TEXT})"
    return f"not an image in an allowed format ({_ALLOWED_TEXT})"


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xffO\xffQ", "JPEG 2000"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"PK\x03\x04", "ZIP"),
    (b"qoif", "QOI"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def _sniff(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        return "HEIF" if brand in _HEIF_BRANDS else "ISO media (video?)"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") or head.startswith(b"<?xml"):
        if b"<svg" in head:
            return "SVG"
        if b"<html" in head or b"<!doctype html" in head:
            return "HTML"
        return "XML/markup text"
    return None
