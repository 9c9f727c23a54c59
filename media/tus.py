"""tus 1.0.0 resumable uploads of photo evidence: the protocol's rules and an upload's life.

The HTTP side is ``media/api.py``. Here are the header parsers (pure), the body reader and
the transitions of an :class:`~media.models.Upload`::

    POST ─► in_progress ──PATCH…──► (last byte) ─┬─► complete (a Photo)
                 │                               └─► failed (sha256 mismatch)
                 ├──DELETE──► terminated
                 └──expires──► failed ("expired")

A chunk is read into a spool file first (bounded memory, and no database transaction open
while a phone trickles bytes in), checked, then stored as one object
``parts/<upload id>/<offset:012d>``: any server process can take the next chunk. When the
last byte arrives the parts are read in order, the whole file's sha256 is compared with
the one the phone declared, and the bytes become the photo
(:func:`media.services.complete_upload`). The parts are deleted once that commits.

Extensions: creation, creation-with-upload, termination, checksum (sha1, sha256; per
chunk) and expiration. No ``Upload-Defer-Length``: a photo's size is known up front.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import re
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, BinaryIO, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import http_date

from backend.auth.models import User
from backend.config import Settings
from backend.errors import DomainError
from media.models import Photo, Upload
from media.services import complete_upload, find_photo, sha256_of
from media.storage import CHUNK, Storage

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = ("creation", "creation-with-upload", "termination", "checksum", "expiration")
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
CHECKSUM_MISMATCH = 460  # the checksum extension's own status code

PHOTO_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
REQUIRED_METADATA = ("photo_id", "sha256", "content_type")
# A key: printable ASCII without space or comma (the pair and list separators).
METADATA_KEY = re.compile(r"[\x21-\x2b\x2d-\x7e]{1,100}")
MAX_METADATA_CHARS = 4096
DIGITS = re.compile(r"[0-9]{1,19}")

READ_SIZE = 64 * 1024  # one read of a request body
SPOOL_IN_MEMORY = 1024 * 1024  # a chunk beyond this is spooled to a temporary file


class TusError(DomainError):
    """A refusal in the tus protocol's terms: any status, the project's JSON shape."""

    def __init__(self, status: int, code: str, message: str, *, keep_changes: bool = False) -> None:
        super().__init__(message, code=code)
        self.status = status
        # True where the refusal records something (the upload failed) that must commit.
        self.keep_changes = keep_changes


def _bad(code: str, message: str) -> TusError:
    return TusError(400, code, message)


def gone(code: str, message: str) -> TusError:
    return TusError(410, code, message)


# --- headers (pure) ------------------------------------------------------------------------


def check_version(value: str | None) -> None:
    """``Tus-Resumable`` must say 1.0.0 on every request but OPTIONS (412 otherwise)."""
    if value != TUS_VERSION:
        said = f"Tus-Resumable: {value}" if value else "no Tus-Resumable header"
        raise TusError(
            412,
            "tus_version_unsupported",
            f"This server speaks tus {TUS_VERSION} only; the request has {said}",
        )


def parse_offset(value: str | None) -> int:
    if value is None:
        raise _bad("upload_offset_missing", "Upload-Offset is required")
    if not DIGITS.fullmatch(value.strip()):
        raise _bad("upload_offset_invalid", "Upload-Offset must be a non-negative integer")
    return int(value)


def parse_length(value: str | None, max_bytes: int) -> int:
    """``Upload-Length``: required, 1 … ``max_bytes`` (413 above, before any byte is read)."""
    if value is None:
        raise _bad("upload_length_missing", "Upload-Length is required")
    if not DIGITS.fullmatch(value.strip()):
        raise _bad("upload_length_invalid", "Upload-Length must be a non-negative integer")
    length = int(value)
    if length > max_bytes:
        raise TusError(
            413,
            "upload_too_large",
            f"Upload-Length {length} is over the limit of {max_bytes} bytes (Tus-Max-Size)",
        )
    if length == 0:
        raise _bad("upload_length_invalid", "Upload-Length is 0: an empty file is no photo")
    return length


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata: key base64,key2 base64,key3`` → {key: base64 value ('' if none)}.

    Values are kept encoded, as sent (HEAD echoes them); each must be valid base64.
    """
    if value is None or not value.strip():
        return {}
    if len(value) > MAX_METADATA_CHARS:
        raise _bad(
            "upload_metadata_invalid", f"Upload-Metadata is over {MAX_METADATA_CHARS} characters"
        )
    pairs: dict[str, str] = {}
    for item in value.split(","):
        parts = item.strip().split(" ")
        if len(parts) > 2 or not METADATA_KEY.fullmatch(parts[0]):
            raise _bad(
                "upload_metadata_invalid",
                f"Upload-Metadata: {item.strip()[:40]!r} is not 'key base64value'",
            )
        key, encoded = parts[0], parts[1] if len(parts) == 2 else ""
        if key in pairs:
            raise _bad("upload_metadata_invalid", f"Upload-Metadata: {key} is given twice")
        try:
            base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _bad(
                "upload_metadata_invalid", f"Upload-Metadata: the value of {key} is not base64"
            ) from exc
        pairs[key] = encoded
    return pairs


def encode_metadata(pairs: Mapping[str, str]) -> str:
    return ",".join(f"{key} {value}" if value else key for key, value in pairs.items())


def _metadata_text(pairs: Mapping[str, str], key: str) -> str:
    if key not in pairs:
        raise _bad(f"metadata_{key}_missing", f"Upload-Metadata must carry {key}")
    try:
        return base64.b64decode(pairs[key], validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise _bad(f"metadata_{key}_invalid", f"Upload-Metadata: {key} is not UTF-8 text") from exc


@dataclass(frozen=True)
class Creation:
    """What a POST asks for: a photo of ``length`` bytes whose sha256 the phone knows."""

    length: int
    photo_id: str
    sha256: str
    content_type: str
    metadata: dict[str, str]  # every pair as sent (unknown keys too), base64 values


def parse_creation(
    *, length: str | None, metadata: str | None, defer_length: bool, max_bytes: int
) -> Creation:
    """A POST's ``Upload-Length``, ``Upload-Metadata`` (and whether it sent
    ``Upload-Defer-Length``) as the upload to create; 400 naming what is wrong."""
    if defer_length:
        raise _bad(
            "upload_defer_length_unsupported",
            "Upload-Defer-Length is not supported: send Upload-Length",
        )
    size = parse_length(length, max_bytes)
    pairs = parse_metadata(metadata)
    photo_id = _metadata_text(pairs, "photo_id")
    if not PHOTO_ID.fullmatch(photo_id):
        raise _bad(
            "metadata_photo_id_invalid",
            "Upload-Metadata: photo_id must be 1–64 characters of A–Z a–z 0–9 _ . -",
        )
    sha256 = _metadata_text(pairs, "sha256")
    if not SHA256_HEX.fullmatch(sha256):
        raise _bad("metadata_sha256_invalid", "Upload-Metadata: sha256 must be 64 hex digits")
    content_type = _metadata_text(pairs, "content_type").strip().lower()
    if content_type not in CONTENT_TYPES:
        raise _bad(
            "metadata_content_type_invalid",
            f"Upload-Metadata: content_type must be one of {', '.join(CONTENT_TYPES)}",
        )
    return Creation(size, photo_id, sha256.lower(), content_type, pairs)


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes


def parse_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>`` (checksum extension), or None."""
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise _bad(
            "checksum_algorithm_unsupported",
            f"Upload-Checksum: {algorithm[:20]!r} is not supported; use "
            + " or ".join(CHECKSUM_ALGORITHMS),
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad("checksum_invalid", "Upload-Checksum: the digest is not base64") from exc
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise _bad("checksum_invalid", f"Upload-Checksum: that is no {algorithm} digest")
    return Checksum(algorithm, digest)


def expires_header(when: datetime) -> str:
    """An HTTP date (RFC 9110), as ``Upload-Expires`` carries it."""
    return http_date(when)


def too_much(remaining: int, sent: int | None = None) -> TusError:
    carries = f"; this request carries {sent}" if sent is not None else " and no more"
    return TusError(
        413,
        "upload_exceeds_length",
        f"Upload-Length allows {remaining} more bytes{carries}: nothing was stored",
    )


# --- request bodies ------------------------------------------------------------------------


@dataclass
class Received:
    """A chunk's bytes, spooled (memory up to 1 MiB, then a temporary file)."""

    file: BinaryIO
    size: int
    complete: bool  # False: the client went away before the end of its body

    def close(self) -> None:
        self.file.close()


def receive(stream: IO[bytes], limit: int, checksum: Checksum | None) -> Received:
    """Read a body of at most ``limit`` bytes, checking ``checksum`` if given.

    More than ``limit`` bytes → 413; a digest that differs → 460. Either way nothing is
    kept. A client that disconnects midway leaves what it sent (``complete=False``) —
    unless it sent a checksum, which a partial chunk cannot match (400).
    """
    spool = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY))  # noqa: SIM115 - Received.close()
    digest = hashlib.new(checksum.algorithm) if checksum else None
    size, complete = 0, True
    try:
        while True:
            try:
                block = stream.read(READ_SIZE)
            except ClientDisconnected:
                complete = False
                break
            except RequestEntityTooLarge as exc:
                raise too_much(limit) from exc
            if not block:
                break
            size += len(block)
            if size > limit:
                raise too_much(limit)
            spool.write(block)
            if digest is not None:
                digest.update(block)
        if not complete and checksum is not None:
            raise _bad(
                "body_incomplete",
                "The request body ended early; a partial chunk cannot be checked against"
                " Upload-Checksum, so nothing was kept",
            )
        if checksum is not None and digest is not None and digest.digest() != checksum.digest:
            raise TusError(
                CHECKSUM_MISMATCH,
                "checksum_mismatch",
                f"Upload-Checksum: the chunk's {checksum.algorithm} differs; it was discarded"
                " (the offset is unchanged: send it again)",
            )
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return Received(spool, size, complete)


# --- parts: the chunks of an unfinished upload ---------------------------------------------


def parts_prefix(upload_id: uuid.UUID) -> str:
    return f"parts/{upload_id}/"


def part_key(upload_id: uuid.UUID, offset: int) -> str:
    return f"{parts_prefix(upload_id)}{offset:012d}"


class MissingPartsError(Exception):
    """The store lacks a part of an upload (lost, or deleted behind its back)."""


def part_keys(store: Storage, upload_id: uuid.UUID, length: int, *, strict: bool) -> list[str]:
    """The upload's parts in order: each starts where the one before ends.

    Found by walking sizes (no listing, which may be slow); ``strict`` requires the walk
    to end exactly at ``length``, else :class:`MissingPartsError`.
    """
    keys: list[str] = []
    offset = 0
    while offset < length:
        key = part_key(upload_id, offset)
        try:
            size = store.size(key)
        except FileNotFoundError:
            if strict:
                raise MissingPartsError(key) from None
            break
        if size <= 0:
            if strict:
                raise MissingPartsError(key)
            break
        keys.append(key)
        offset += size
    if strict and offset != length:
        raise MissingPartsError(f"parts of {upload_id} add up to {offset}, not {length}")
    return keys


class _Concatenated(io.RawIOBase):
    def __init__(self, store: Storage, keys: Iterable[str]) -> None:
        self._store = store
        self._keys = list(keys)
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while True:
            if self._current is None:
                if not self._keys:
                    return 0
                self._current = self._store.open(self._keys.pop(0))
            data = self._current.read(len(view))
            if data:
                view[: len(data)] = data
                return len(data)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


def concatenated(store: Storage, keys: Iterable[str]) -> BinaryIO:
    """One reader over the parts, in order, never holding more than a buffer of them."""
    return cast(BinaryIO, io.BufferedReader(_Concatenated(store, keys), CHUNK))


def delete_parts(store: Storage, upload_id: uuid.UUID, length: int) -> None:
    for key in part_keys(store, upload_id, length, strict=False):
        store.delete(key)


_DISCARD_KEY = "media.tus.discard_parts"


def discard_parts_after_commit(
    session: Session, store: Storage, upload_id: uuid.UUID, length: int
) -> None:
    """Delete the upload's parts once this transaction commits (never before: if it rolls
    back, the upload is still where it was and needs them)."""
    session.info.setdefault(_DISCARD_KEY, []).append((store, upload_id, length))


@event.listens_for(Session, "after_commit")
def _discard_committed(session: Session) -> None:
    for store, upload_id, length in session.info.pop(_DISCARD_KEY, ()):
        try:
            delete_parts(store, upload_id, length)
        except Exception:  # committed already; expire_uploads sweeps what is left
            log.exception("could not delete the parts of upload %s", upload_id)


@event.listens_for(Session, "after_rollback")
def _forget_discards(session: Session) -> None:
    session.info.pop(_DISCARD_KEY, None)


# --- the upload's life ---------------------------------------------------------------------


def is_expired(upload: Upload, now: datetime) -> bool:
    return upload.status == "in_progress" and upload.expires_at <= now


def find_upload(
    session: Session, owner_id: uuid.UUID, upload_id: uuid.UUID, *, for_update: bool = False
) -> Upload:
    """The caller's upload; anyone else's is not found (404), like one that never was."""
    stmt = sa.select(Upload).where(Upload.id == upload_id, Upload.owner_id == owner_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    upload = session.scalars(stmt).one_or_none()
    if upload is None:
        raise TusError(404, "not_found", f"No upload {upload_id}")
    return upload


def check_usable(upload: Upload, now: datetime) -> None:
    """410 for an upload that can take no more bytes: the client must start a new one."""
    if upload.status == "terminated":
        raise gone("upload_terminated", "This upload was terminated; start a new one")
    if upload.status == "failed":
        raise gone("upload_failed", f"This upload failed ({upload.failure}); start a new one")
    if is_expired(upload, now):
        raise gone("upload_expired", "This upload expired; start a new one")


def _fail(session: Session, store: Storage, upload: Upload, reason: str) -> None:
    upload.status = "failed"
    upload.failure = reason[:500]
    discard_parts_after_commit(session, store, upload.id, upload.length)


def _live_upload(session: Session, owner_id: uuid.UUID, photo_id: str) -> Upload | None:
    return session.scalars(
        sa.select(Upload)
        .where(
            Upload.owner_id == owner_id,
            Upload.photo_id == photo_id,
            Upload.status == "in_progress",
        )
        .with_for_update()
    ).one_or_none()


def _in_progress_bytes(session: Session, owner_id: uuid.UUID, now: datetime) -> int:
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Upload.length), 0)).where(
            Upload.owner_id == owner_id,
            Upload.status == "in_progress",
            Upload.expires_at > now,
        )
    )
    return int(total or 0)


@dataclass
class Plan:
    """What a POST gets: an existing upload, the stored photo, or (neither) a new upload."""

    upload: Upload | None = None  # the live upload of this photo id
    photo: Photo | None = None  # the photo already stored with these bytes

    @property
    def takes_body(self) -> bool:
        """Whether creation-with-upload bytes (offset 0) would be written."""
        return self.photo is None and (self.upload is None or self.upload.upload_offset == 0)


def plan_creation(
    session: Session, owner_id: uuid.UUID, creation: Creation, now: datetime, quota: int
) -> Plan:
    """Where a POST for ``creation`` lands, or its refusal: 409 when the photo id is
    stored or being uploaded with other bytes, 413 over the caller's quota."""
    photo = find_photo(session, owner_id, creation.photo_id)
    if photo is not None:
        if photo.sha256 != creation.sha256:
            raise TusError(
                409,
                "photo_conflict",
                f"Photo {creation.photo_id} is stored already with another sha256"
                f" ({photo.sha256}); a photo id names one photo",
            )
        return Plan(photo=photo)
    live = _live_upload(session, owner_id, creation.photo_id)
    if live is not None and not is_expired(live, now):
        if (live.declared_sha256, live.length) != (creation.sha256, creation.length):
            raise TusError(
                409,
                "photo_conflict",
                f"Photo {creation.photo_id} is being uploaded with another sha256 or length;"
                " terminate that upload (DELETE) or let it finish",
            )
        return Plan(upload=live)
    used = _in_progress_bytes(session, owner_id, now)
    if used + creation.length > quota:
        raise TusError(
            413,
            "upload_quota_exceeded",
            f"Your unfinished uploads hold {used} bytes; {creation.length} more would pass"
            f" the upload quota of {quota} bytes. Finish or terminate some first.",
        )
    return Plan()


def _upload_of_photo(
    session: Session, photo: Photo, creation: Creation, settings: Settings, now: datetime
) -> Upload:
    """A complete upload standing for a stored photo (HEAD: offset == length)."""
    done = session.scalars(
        sa.select(Upload)
        .where(Upload.photo_pk == photo.id, Upload.status == "complete")
        .order_by(Upload.created_at.desc())
        .limit(1)
    ).first()
    if done is None:
        done = Upload(
            id=uuid.uuid4(),
            owner_id=photo.owner_id,
            photo_id=photo.photo_id,
            declared_sha256=photo.sha256,
            content_type=photo.declared_content_type,
            length=photo.size,
            upload_offset=photo.size,
            expires_at=now + settings.upload_expiry,
            status="complete",
            upload_metadata=creation.metadata,
            photo_pk=photo.id,
        )
        session.add(done)
        session.flush()
    return done


def create_upload(
    session: Session,
    store: Storage,
    owner_id: uuid.UUID,
    creation: Creation,
    settings: Settings,
    now: datetime,
    body: Received | None = None,
) -> Upload:
    """POST: a new upload, or the one that already stands for this photo id.

    A live upload of the photo comes back as it is (a phone that lost its URL, or starts
    over, resumes it); a stored photo with the same sha256 comes back as a complete
    upload. ``body`` (creation-with-upload) is written only where it fits: at offset 0.
    """
    # One creation at a time per user, so the quota and the one-live-upload rule hold.
    session.execute(
        sa.select(User.id).where(User.id == owner_id).with_for_update(key_share=True)
    ).one()
    plan = plan_creation(session, owner_id, creation, now, settings.upload_quota_bytes)
    if plan.photo is not None:
        return _upload_of_photo(session, plan.photo, creation, settings, now)
    upload = plan.upload
    if upload is None:
        stale = _live_upload(session, owner_id, creation.photo_id)
        if stale is not None:  # expired, not yet swept by the job
            _fail(session, store, stale, "expired")
            session.flush()
        upload = Upload(
            id=uuid.uuid4(),
            owner_id=owner_id,
            photo_id=creation.photo_id,
            declared_sha256=creation.sha256,
            content_type=creation.content_type,
            length=creation.length,
            upload_offset=0,
            expires_at=now + settings.upload_expiry,
            status="in_progress",
            upload_metadata=creation.metadata,
        )
        session.add(upload)
        session.flush()
    if body is not None and upload.upload_offset == 0:
        append(session, store, upload, body, settings, now)
    return upload


def append(
    session: Session,
    store: Storage,
    upload: Upload,
    body: Received,
    settings: Settings,
    now: datetime,
) -> None:
    """PATCH (or the POST body): store ``body`` at the upload's offset, which moves on.

    The caller has locked the upload and checked that the client's offset is this one.
    A body cut short is kept (tus: store as many bytes as possible) and the request
    answered 400 — the client asks HEAD where to resume. The last byte completes it.
    """
    if body.size:
        store.put(part_key(upload.id, upload.upload_offset), body.file)
        upload.upload_offset += body.size
        upload.expires_at = now + settings.upload_expiry
        session.flush()
    if not body.complete:
        raise TusError(
            400,
            "body_incomplete",
            f"The request body ended early; {body.size} bytes were kept. Ask HEAD for the"
            " offset and resume",
            keep_changes=True,
        )
    if upload.status == "in_progress" and upload.upload_offset == upload.length:
        finish(session, store, upload)


def finish(session: Session, store: Storage, upload: Upload) -> None:
    """The last byte is in: verify the whole file, then it becomes the owner's photo."""
    try:
        keys = part_keys(store, upload.id, upload.length, strict=True)
    except MissingPartsError:
        log.exception("upload %s lost parts", upload.id)
        _fail(session, store, upload, "stored chunks missing")
        raise TusError(
            410,
            "upload_lost",
            "Chunks of this upload are missing from storage; start a new upload",
            keep_changes=True,
        ) from None
    with concatenated(store, keys) as reader:
        digest, size = sha256_of(reader)
    if (digest, size) != (upload.declared_sha256, upload.length):
        _fail(session, store, upload, f"sha256 mismatch: received {digest}")
        raise TusError(
            CHECKSUM_MISMATCH,
            "sha256_mismatch",
            f"The file's sha256 is {digest}, but Upload-Metadata declared"
            f" {upload.declared_sha256}: the bytes were discarded; start a new upload",
            keep_changes=True,
        )
    photo = find_photo(session, upload.owner_id, upload.photo_id)
    if photo is not None and photo.sha256 != upload.declared_sha256:
        _fail(session, store, upload, "photo id stored meanwhile with another sha256")
        raise TusError(
            409,
            "photo_conflict",
            f"Photo {upload.photo_id} was stored meanwhile with another sha256",
            keep_changes=True,
        )
    with concatenated(store, keys) as reader:
        complete_upload(session, store, upload, reader)
    discard_parts_after_commit(session, store, upload.id, upload.length)
    session.flush()


def terminate(session: Session, store: Storage, upload: Upload) -> None:
    """DELETE (termination): the upload ends and its parts go. A complete upload is a
    photo, which is evidence and stays (409)."""
    if upload.status == "complete":
        raise TusError(
            409, "upload_complete", "This upload is complete: its photo is kept, not deleted"
        )
    if upload.status in {"terminated", "failed"}:
        raise gone(f"upload_{upload.status}", f"This upload has {upload.status} already")
    upload.status = "terminated"
    discard_parts_after_commit(session, store, upload.id, upload.length)
    session.flush()


def expire_uploads(session: Session, store: Storage, now: datetime) -> int:
    """Fail in-progress uploads past their ``expires_at`` and delete their parts; return
    how many. Also deletes parts left behind by uploads that ended (a crash between the
    commit and the deletion). For a periodic job; safe to run concurrently.

    Deleting before the caller commits is safe here: whatever happens to this
    transaction, an upload past its expiry takes no more bytes.
    """
    expired = session.scalars(
        sa.select(Upload)
        .where(Upload.status == "in_progress", Upload.expires_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    for upload in expired:
        upload.status = "failed"
        upload.failure = "expired"
        delete_parts(store, upload.id, upload.length)
    session.flush()

    leftovers: dict[uuid.UUID, list[str]] = {}
    for key in store.keys("parts/"):
        try:
            leftovers.setdefault(uuid.UUID(key.split("/")[1]), []).append(key)
        except (IndexError, ValueError):
            continue
    if leftovers:
        ended = session.scalars(
            sa.select(Upload.id).where(
                Upload.id.in_(list(leftovers)), Upload.status != "in_progress"
            )
        ).all()
        # Parts of an id with no row are left alone: its creation may not have committed.
        for upload_id in ended:
            for key in leftovers[upload_id]:
                store.delete(key)
    return len(expired)
