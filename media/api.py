"""``/api/v1/uploads``: photo evidence over tus 1.0.0 resumable uploads (see media/tus.py).

Extensions: creation, creation-with-upload, termination, checksum (sha1, sha256),
expiration; ``X-HTTP-Method-Override`` for proxies that block PATCH or DELETE. Every
upload belongs to the caller (another user's upload URL is 404). ``Upload-Metadata`` must
carry ``photo_id``, ``sha256`` and ``content_type``; the whole file's sha256 is checked
when its last byte arrives.

No database transaction is open while a body arrives: the request checks what it can,
ends its transaction, reads the body into a spool, then locks the upload row, checks the
offset again (a concurrent PATCH may have won) and stores the chunk.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from werkzeug.exceptions import MethodNotAllowed, RequestEntityTooLarge

from backend.auth.policy import current_principal, public, requires
from backend.db import db, utcnow
from backend.extensions import Blueprint, settings_of
from media import tus
from media.models import Upload
from media.services import storage

uploads_blp = Blueprint(
    "uploads",
    __name__,
    url_prefix="/api/v1/uploads",
    description=(
        "Photo uploads, tus 1.0.0 (https://tus.io/protocols/resumable-upload). Extensions: "
        + ", ".join(tus.EXTENSIONS)
        + ". Send `Tus-Resumable: 1.0.0` on every request but OPTIONS. `Upload-Metadata` "
        "must carry `photo_id` (your id for the photo), `sha256` (hex, of the whole file) "
        "and `content_type` (" + ", ".join(tus.CONTENT_TYPES) + "). POSTing again for a "
        "photo id resumes its upload. `X-HTTP-Method-Override` is honoured on POST."
    ),
)

_OVERRIDABLE = ("PATCH", "DELETE", "HEAD")


@uploads_blp.before_request
def _require_tus_version() -> None:
    if request.method != "OPTIONS":
        tus.check_version(request.headers.get("Tus-Resumable"))


@uploads_blp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = tus.TUS_VERSION
    if response.status_code == 412:
        response.headers["Tus-Version"] = tus.TUS_VERSION
    if response.status_code == tus.CHECKSUM_MISMATCH:
        response.status = f"{tus.CHECKSUM_MISMATCH} Checksum Mismatch"
    return response


# --- responses -----------------------------------------------------------------------------


def _empty(status: int, headers: dict[str, str]) -> Response:
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]  # no body, no type
    return response


def _capabilities() -> Response:
    settings = settings_of(current_app)
    return _empty(
        204,
        {
            "Tus-Version": tus.TUS_VERSION,
            "Tus-Extension": ",".join(tus.EXTENSIONS),
            "Tus-Max-Size": str(settings.upload_max_bytes),
            "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
        },
    )


def _state(upload: Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.upload_offset)}
    if upload.status == "in_progress":
        headers["Upload-Expires"] = tus.expires_header(upload.expires_at)
    return headers


def _location(upload: Upload) -> str:
    return url_for("uploads.upload", upload_id=upload.id, _external=True)


# --- bodies --------------------------------------------------------------------------------


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def _require_offset_stream() -> None:
    if request.mimetype != tus.OFFSET_OCTET_STREAM:
        raise tus.TusError(
            415,
            "unsupported_media_type",
            f"Content-Type must be {tus.OFFSET_OCTET_STREAM}, not {request.mimetype or '(none)'}",
        )


def _receive(remaining: int, checksum: tus.Checksum | None) -> tus.Received:
    """The request body, at most ``remaining`` bytes; call with no transaction open."""
    declared = request.content_length
    if declared is not None and declared > remaining:
        raise tus.too_much(remaining, declared)
    # One byte over the limit shows a client sending too much (the app's own cap, meant
    # for JSON, does not apply to chunks).
    request.max_content_length = remaining + 1
    try:
        stream = request.stream
    except RequestEntityTooLarge as exc:  # pragma: no cover - Content-Length checked above
        raise tus.too_much(remaining, declared) from exc
    return tus.receive(stream, remaining, checksum)


# --- the protocol --------------------------------------------------------------------------


def _create() -> Response:
    settings = settings_of(current_app)
    creation = tus.parse_creation(
        length=request.headers.get("Upload-Length"),
        metadata=request.headers.get("Upload-Metadata"),
        defer_length="Upload-Defer-Length" in request.headers,
        max_bytes=settings.upload_max_bytes,
    )
    checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
    body: tus.Received | None = None
    owner_id = current_principal().user_id
    session, store, now = db.session, storage(), utcnow()
    if _has_body():
        _require_offset_stream()
        declared = request.content_length
        if declared is not None and declared > creation.length:
            raise tus.too_much(creation.length, declared)
        plan = tus.plan_creation(session, owner_id, creation, now, settings.upload_quota_bytes)
        if plan.takes_body:
            session.rollback()  # hold no transaction (SQLite: no write lock) while bytes arrive
            body = _receive(creation.length, checksum)
    try:
        upload = tus.create_upload(session, store, owner_id, creation, settings, now, body)
    finally:
        if body is not None:
            body.close()
    return _empty(201, {"Location": _location(upload), **_state(upload)})


def _head(upload_id: uuid.UUID) -> Response:
    upload = tus.find_upload(db.session, current_principal().user_id, upload_id)
    tus.check_usable(upload, utcnow())
    headers = {
        **_state(upload),
        "Upload-Length": str(upload.length),
        "Cache-Control": "no-store",
    }
    if upload.upload_metadata:
        headers["Upload-Metadata"] = tus.encode_metadata(upload.upload_metadata)
    return _empty(200, headers)


def _patch(upload_id: uuid.UUID) -> Response:
    _require_offset_stream()
    offset = tus.parse_offset(request.headers.get("Upload-Offset"))
    checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
    owner_id = current_principal().user_id
    session, store = db.session, storage()

    upload = tus.find_upload(session, owner_id, upload_id)
    tus.check_usable(upload, utcnow())
    _check_offset(upload, offset)
    remaining = upload.length - upload.upload_offset
    session.rollback()  # hold no transaction (SQLite: no write lock) while bytes arrive

    body = _receive(remaining, checksum)
    try:
        upload = tus.find_upload(session, owner_id, upload_id, for_update=True)
        now = utcnow()
        tus.check_usable(upload, now)
        _check_offset(upload, offset)  # a concurrent PATCH may have moved it meanwhile
        tus.append(session, store, upload, body, settings_of(current_app), now)
    finally:
        body.close()
    return _empty(204, _state(upload))


def _check_offset(upload: Upload, offset: int) -> None:
    if offset != upload.upload_offset:
        raise tus.TusError(
            409,
            "upload_offset_mismatch",
            f"Upload-Offset is {offset} but the upload is at {upload.upload_offset}:"
            " ask HEAD and resume from there",
        )


def _delete(upload_id: uuid.UUID) -> Response:
    session = db.session
    upload = tus.find_upload(session, current_principal().user_id, upload_id, for_update=True)
    tus.terminate(session, storage(), upload)
    return _empty(204, {})


# --- OpenAPI -------------------------------------------------------------------------------


def _header(name: str, description: str, *, required: bool = True, kind: str = "string") -> Any:
    return {
        "in": "header",
        "name": name,
        "required": required,
        "description": description,
        "schema": {"type": kind},
    }


_ERROR = {
    "description": "",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_TUS_RESUMABLE = _header("Tus-Resumable", "1.0.0 (else 412, with Tus-Version)")
_CHECKSUM = _header(
    "Upload-Checksum",
    "`sha1 <base64 digest>` or `sha256 <base64 digest>` of this request's body",
    required=False,
)
_OFFSET_HEADERS = {
    "Upload-Offset": {"schema": {"type": "integer"}, "description": "bytes received so far"},
    "Upload-Expires": {
        "schema": {"type": "string"},
        "description": "HTTP date after which an unfinished upload is gone",
    },
    "Tus-Resumable": {"schema": {"type": "string"}},
}
_OCTETS = {"content": {tus.OFFSET_OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}}}


def _errors(**described: str) -> dict[str, Any]:
    return {
        status.removeprefix("e"): {**_ERROR, "description": text}
        for status, text in described.items()
    }


_OPTIONS_DOC = {
    "security": [],
    "responses": {
        "204": {
            "description": "The server's tus capabilities",
            "headers": {
                name: {"schema": {"type": "string"}}
                for name in (
                    "Tus-Version",
                    "Tus-Extension",
                    "Tus-Max-Size",
                    "Tus-Checksum-Algorithm",
                )
            },
        }
    },
}
_PATCH_DOC: dict[str, Any] = {
    "parameters": [
        _TUS_RESUMABLE,
        _header("Upload-Offset", "where this chunk starts: the upload's offset", kind="integer"),
        _CHECKSUM,
    ],
    "requestBody": {"required": True, **_OCTETS},
    "responses": {
        "204": {
            "description": "Chunk stored (the last one completes it)",
            "headers": _OFFSET_HEADERS,
        },
        **_errors(
            e400="Malformed header; or the body ended early (what arrived was kept)",
            e404="No such upload of yours",
            e409="Upload-Offset is not the upload's offset; or the photo id was stored"
            " meanwhile with other bytes",
            e410="The upload expired, failed or was terminated: start a new one",
            e412="Tus-Resumable missing or not 1.0.0",
            e413="More bytes than Upload-Length allows; nothing stored",
            e415="Content-Type is not application/offset+octet-stream",
            e460="Upload-Checksum mismatch (chunk discarded, offset unchanged); or the whole"
            " file's sha256 differs from the declared one (upload failed, bytes discarded)",
        ),
    },
}


# --- routes --------------------------------------------------------------------------------


@uploads_blp.route("", endpoint="uploads")
class Uploads(MethodView):
    @public
    @uploads_blp.doc(**_OPTIONS_DOC)
    def options(self) -> Response:
        """The server's tus version, extensions, maximum size and checksum algorithms."""
        return _capabilities()

    @requires(None)
    @uploads_blp.doc(
        parameters=[
            _TUS_RESUMABLE,
            _header("Upload-Length", "the file's size in bytes (≤ Tus-Max-Size)", kind="integer"),
            _header(
                "Upload-Metadata",
                "`key base64,…`: photo_id, sha256 (hex), content_type; other keys are ignored",
            ),
            _CHECKSUM,
        ],
        requestBody={"required": False, **_OCTETS},
        responses={
            "201": {
                "description": "Created — or, for a photo id already being uploaded, that"
                " upload (resume at its Upload-Offset); for a photo already stored with the"
                " same sha256, a complete upload (Upload-Offset = Upload-Length)",
                "headers": {
                    "Location": {"schema": {"type": "string"}, "description": "the upload"},
                    **_OFFSET_HEADERS,
                },
            },
            **_errors(
                e400="Upload-Length or Upload-Metadata missing or invalid (the key is named);"
                " Upload-Defer-Length is not supported",
                e409="The photo id is stored or being uploaded with another sha256",
                e412="Tus-Resumable missing or not 1.0.0",
                e413="Over Tus-Max-Size, or over your quota of unfinished uploads",
                e415="A body that is not application/offset+octet-stream",
                e460="creation-with-upload: Upload-Checksum mismatch",
            ),
        },
    )
    def post(self) -> Response:
        """Create an upload (creation; creation-with-upload: the body is its first chunk)."""
        return _create()


@uploads_blp.route("/<uuid:upload_id>", endpoint="upload")
class UploadResource(MethodView):
    @public
    @uploads_blp.doc(**_OPTIONS_DOC)
    def options(self, upload_id: uuid.UUID) -> Response:
        """The server's tus capabilities."""
        return _capabilities()

    @requires(None)
    @uploads_blp.doc(
        parameters=[_TUS_RESUMABLE],
        responses={
            "200": {
                "description": "Where the upload stands (no body)",
                "headers": {
                    **_OFFSET_HEADERS,
                    "Upload-Length": {"schema": {"type": "integer"}},
                    "Upload-Metadata": {"schema": {"type": "string"}},
                    "Cache-Control": {"schema": {"type": "string"}},
                },
            },
            **_errors(
                e404="No such upload of yours",
                e410="The upload expired, failed or was terminated: start a new one",
                e412="Tus-Resumable missing or not 1.0.0",
            ),
        },
    )
    def head(self, upload_id: uuid.UUID) -> Response:
        """The upload's offset: resume from there."""
        return _head(upload_id)

    @requires(None)
    @uploads_blp.doc(**_PATCH_DOC)
    def patch(self, upload_id: uuid.UUID) -> Response:
        """Append a chunk at Upload-Offset."""
        return _patch(upload_id)

    @requires(None)
    @uploads_blp.doc(
        parameters=[_TUS_RESUMABLE],
        responses={
            "204": {"description": "Terminated; its chunks are deleted"},
            **_errors(
                e404="No such upload of yours",
                e409="The upload is complete: its photo stays",
                e410="Terminated or failed already",
                e412="Tus-Resumable missing or not 1.0.0",
            ),
        },
    )
    def delete(self, upload_id: uuid.UUID) -> Response:
        """Terminate the upload (termination)."""
        return _delete(upload_id)

    @requires(None)
    @uploads_blp.doc(
        parameters=[
            _header(
                "X-HTTP-Method-Override",
                "PATCH, DELETE or HEAD: the request is that method (for proxies that block"
                " them); PATCH takes the same headers and body",
            ),
            _TUS_RESUMABLE,
            _header("Upload-Offset", "with PATCH", required=False, kind="integer"),
            _CHECKSUM,
        ],
        requestBody={"required": False, **_OCTETS},
        responses={
            **_PATCH_DOC["responses"],
            "200": {"description": "HEAD: as HEAD answers"},
            **_errors(e405="No X-HTTP-Method-Override, or not PATCH, DELETE or HEAD"),
        },
    )
    def post(self, upload_id: uuid.UUID) -> Response:
        """PATCH, DELETE or HEAD through a proxy that blocks them (X-HTTP-Method-Override)."""
        method = request.headers.get("X-HTTP-Method-Override", "").strip().upper()
        if method == "PATCH":
            return _patch(upload_id)
        if method == "DELETE":
            return _delete(upload_id)
        if method == "HEAD":
            return _head(upload_id)
        raise MethodNotAllowed(
            valid_methods=["OPTIONS", "HEAD", "PATCH", "DELETE"],
            description="POST to an upload needs X-HTTP-Method-Override: "
            + ", ".join(_OVERRIDABLE),
        )
