"""The tus 1.0.0 endpoint, request by request: core, creation (with upload), checksum,
termination, expiration, X-HTTP-Method-Override, the photo rules on top (metadata,
quota, one live upload per photo id, the whole file's sha256) and what each leaves in
the database and in the store."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.db import utcnow
from backend.extensions import settings_of
from media import services, tus
from media.models import Photo, Upload
from media.storage import Storage
from tests.factories import World

BASE = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}
# What a server that decodes chunked bodies says (werkzeug's and gunicorn's do).
CHUNKED_SERVER = {"wsgi.input_terminated": True}


@pytest.fixture
def auth(world: World) -> dict[str, str]:
    return {**world.headers["teacher_a"], **TUS}


@pytest.fixture
def store(app: Flask) -> Storage:
    return services.storage(app)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def metadata(**pairs: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in pairs.items())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_photo(size: int = 300_000) -> tuple[str, bytes]:
    """A fresh photo id and fresh bytes (the store is shared by the whole session)."""
    return f"p-{uuid.uuid4().hex[:16]}", os.urandom(size)


def creation_headers(
    auth: dict[str, str], photo_id: str, data: bytes, **extra: str
) -> dict[str, str]:
    return {
        **auth,
        "Upload-Length": str(len(data)),
        "Upload-Metadata": metadata(
            photo_id=photo_id, sha256=sha(data), content_type="image/jpeg", filename="x.jpg"
        ),
        **extra,
    }


def create(client: FlaskClient, auth: dict[str, str], photo_id: str, data: bytes) -> str:
    """POST; the upload's path."""
    response = client.post(BASE, headers=creation_headers(auth, photo_id, data))
    assert response.status_code == 201, response.json
    return urlsplit(response.headers["Location"]).path


def patch(
    client: FlaskClient, path: str, auth: dict[str, str], offset: int, chunk: bytes, **extra: str
) -> TestResponse:
    headers = {**auth, **OCTETS, "Upload-Offset": str(offset), **extra}
    return client.patch(path, headers=headers, data=chunk)


def upload_id(path: str) -> uuid.UUID:
    return uuid.UUID(path.rsplit("/", 1)[1])


def row(session: Session, path: str) -> Upload:
    session.expire_all()
    upload = session.get(Upload, upload_id(path))
    assert upload is not None
    return upload


def photos(session: Session, photo_id: str) -> list[Photo]:
    session.expire_all()
    return list(session.scalars(sa.select(Photo).where(Photo.photo_id == photo_id)))


def parts(store: Storage, path: str) -> list[str]:
    return list(store.keys(f"parts/{upload_id(path)}/"))


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status, response.get_data(as_text=True))
    assert response.headers["Tus-Resumable"] == "1.0.0"
    if response.request.method == "HEAD":
        assert response.get_data() == b""  # a HEAD answer has no body
        return {}
    body = response.json
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert body["status"] == status and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


# --- core and capabilities -------------------------------------------------------------------


def test_options_advertises_the_server_without_auth_or_tus_resumable(
    client: FlaskClient, app: Flask
) -> None:
    for url in (BASE, f"{BASE}/{uuid.uuid4()}"):
        response = client.options(url)
        assert response.status_code == 204
        assert response.headers["Tus-Version"] == "1.0.0"
        assert response.headers["Tus-Extension"].split(",") == [
            "creation",
            "creation-with-upload",
            "termination",
            "checksum",
            "expiration",
        ]
        assert response.headers["Tus-Max-Size"] == str(settings_of(app).upload_max_bytes)
        assert response.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0"])
def test_tus_resumable_is_required_else_412(
    client: FlaskClient, world: World, session: Session, version: str | None
) -> None:
    auth = dict(world.headers["teacher_a"])
    if version:
        auth["Tus-Resumable"] = version
    photo_id, data = new_photo(10)
    for response in (
        client.post(BASE, headers=creation_headers(auth, photo_id, data)),
        client.head(f"{BASE}/{uuid.uuid4()}", headers=auth),
        client.patch(f"{BASE}/{uuid.uuid4()}", headers={**auth, **OCTETS}, data=b"x"),
        client.delete(f"{BASE}/{uuid.uuid4()}", headers=auth),
    ):
        assert response.status_code == 412
        assert response.headers["Tus-Version"] == "1.0.0"
        assert response.headers["Tus-Resumable"] == "1.0.0"
    body = client.post(BASE, headers=creation_headers(auth, photo_id, data)).json
    assert body is not None and body["code"] == "tus_version_unsupported"
    assert session.scalars(sa.select(Upload).where(Upload.photo_id == photo_id)).all() == []


def test_every_request_needs_a_token(client: FlaskClient) -> None:
    response = client.post(BASE, headers={**TUS, "Upload-Length": "10"})
    assert_error(response, 401)
    assert_error(client.head(f"{BASE}/{uuid.uuid4()}", headers=TUS), 401)


def test_create_head_and_patch_in_chunks_make_the_photo(
    client: FlaskClient, auth: dict[str, str], world: World, session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(300_000)
    before = utcnow()
    created = client.post(BASE, headers=creation_headers(auth, photo_id, data))
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location.startswith("http://localhost/api/v1/uploads/")  # absolute
    assert created.headers["Upload-Offset"] == "0"
    expires = parsedate_to_datetime(created.headers["Upload-Expires"])
    assert expires >= before + timedelta(days=7) - timedelta(seconds=1)
    assert created.headers["Tus-Resumable"] == "1.0.0"
    path = urlsplit(location).path

    upload = row(session, path)
    assert (upload.owner_id, upload.photo_id, upload.status) == (
        world.users["teacher_a"].id,
        photo_id,
        "in_progress",
    )
    assert (upload.length, upload.upload_offset, upload.declared_sha256) == (
        len(data),
        0,
        sha(data),
    )
    assert upload.content_type == "image/jpeg"

    head = client.head(path, headers=auth)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Upload-Expires"]
    assert tus.parse_metadata(head.headers["Upload-Metadata"]) == {
        "photo_id": b64(photo_id),
        "sha256": b64(sha(data)),
        "content_type": b64("image/jpeg"),
        "filename": b64("x.jpg"),
    }

    offsets = [0, 100_000, 200_000]
    for number, offset in enumerate(offsets):
        response = patch(client, path, auth, offset, data[offset : offset + 100_000])
        assert response.status_code == 204, response.json
        assert response.headers["Upload-Offset"] == str(offset + 100_000)
        if number < 2:
            assert response.headers["Upload-Expires"]
            assert row(session, path).upload_offset == offset + 100_000
            assert parts(store, path) == [
                tus.part_key(upload_id(path), o) for o in offsets[: number + 1]
            ]
    assert "Upload-Expires" not in response.headers  # complete: it no longer expires

    upload = row(session, path)
    assert upload.status == "complete" and upload.upload_offset == len(data)
    [photo] = photos(session, photo_id)
    assert upload.photo_pk == photo.id
    assert (photo.owner_id, photo.sha256, photo.size) == (
        world.users["teacher_a"].id,
        sha(data),
        len(data),
    )
    assert photo.declared_content_type == "image/jpeg"
    assert photo.blob_key == services.blob_key(sha(data))
    with store.open(photo.blob_key) as stream:
        assert stream.read() == data
    assert parts(store, path) == []  # the chunks went once the photo was committed

    head = client.head(path, headers=auth)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))


def test_creation_with_upload_stores_the_first_chunk(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(50_000)
    response = client.post(
        BASE, headers={**creation_headers(auth, photo_id, data), **OCTETS}, data=data[:20_000]
    )
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "20000"
    path = urlsplit(response.headers["Location"]).path
    assert row(session, path).upload_offset == 20_000
    assert parts(store, path) == [tus.part_key(upload_id(path), 0)]

    assert patch(client, path, auth, 20_000, data[20_000:]).status_code == 204
    assert row(session, path).status == "complete"
    assert [p.sha256 for p in photos(session, photo_id)] == [sha(data)]


def test_creation_with_upload_of_the_whole_file_completes_at_once(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(40_000)
    checksum = f"sha256 {base64.b64encode(hashlib.sha256(data).digest()).decode()}"
    response = client.post(
        BASE,
        headers={**creation_headers(auth, photo_id, data), **OCTETS, "Upload-Checksum": checksum},
        data=data,
    )
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == str(len(data))
    path = urlsplit(response.headers["Location"]).path
    assert row(session, path).status == "complete"
    assert [p.sha256 for p in photos(session, photo_id)] == [sha(data)]
    assert parts(store, path) == []


def test_a_body_of_another_type_is_415(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    for headers in ({"Content-Type": "application/json"}, {}):
        response = client.patch(
            path, headers={**auth, **headers, "Upload-Offset": "0"}, data=data[:10]
        )
        assert_error(response, 415)
    refused = client.post(
        BASE,
        headers={**creation_headers(auth, new_photo()[0], data), "Content-Type": "text/plain"},
        data=data,
    )
    assert refused.status_code == 415
    assert row(session, path).upload_offset == 0 and parts(store, path) == []


def test_a_wrong_offset_is_409_and_changes_nothing(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:400]).status_code == 204
    for offset in (0, 300, 401, 1000):
        body = assert_error(patch(client, path, auth, offset, data[offset:]), 409)
        assert body["code"] == "upload_offset_mismatch" and "400" in body["message"]
    assert row(session, path).upload_offset == 400
    assert parts(store, path) == [tus.part_key(upload_id(path), 0)]
    # ... and from the right offset it goes on.
    assert patch(client, path, auth, 400, data[400:]).status_code == 204
    assert row(session, path).status == "complete"


@pytest.mark.parametrize(
    ("header", "value", "status", "code"),
    [
        ("Upload-Offset", None, 400, "upload_offset_missing"),
        ("Upload-Offset", "-1", 400, "upload_offset_invalid"),
        ("Upload-Offset", "ten", 400, "upload_offset_invalid"),
        ("Upload-Offset", "9" * 40, 400, "upload_offset_invalid"),
        ("Upload-Checksum", "md5 1B2M2Y8AsgTpgAmY7PhCfg==", 400, "checksum_algorithm_unsupported"),
        ("Upload-Checksum", "sha1 not*base64", 400, "checksum_invalid"),
        ("Upload-Checksum", "sha1 " + b64("short"), 400, "checksum_invalid"),
    ],
)
def test_malformed_patch_headers_are_400_never_500(
    client: FlaskClient,
    auth: dict[str, str],
    session: Session,
    header: str,
    value: str | None,
    status: int,
    code: str,
) -> None:
    photo_id, data = new_photo(100)
    path = create(client, auth, photo_id, data)
    headers = {**auth, **OCTETS, "Upload-Offset": "0"}
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    assert_error(client.patch(path, headers=headers, data=data), status, code)
    assert row(session, path).upload_offset == 0


# --- checksum --------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_a_chunk_with_a_right_checksum_is_stored(
    client: FlaskClient, auth: dict[str, str], session: Session, algorithm: str
) -> None:
    photo_id, data = new_photo(5000)
    path = create(client, auth, photo_id, data)
    for offset in (0, 2500):
        chunk = data[offset : offset + 2500]
        digest = base64.b64encode(hashlib.new(algorithm, chunk).digest()).decode()
        response = patch(
            client, path, auth, offset, chunk, **{"Upload-Checksum": f"{algorithm} {digest}"}
        )
        assert response.status_code == 204
    assert row(session, path).status == "complete"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_a_chunk_with_a_wrong_checksum_is_460_and_discarded(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage, algorithm: str
) -> None:
    photo_id, data = new_photo(5000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:1000]).status_code == 204
    wrong = base64.b64encode(hashlib.new(algorithm, b"other bytes").digest()).decode()
    response = patch(
        client, path, auth, 1000, data[1000:3000], **{"Upload-Checksum": f"{algorithm} {wrong}"}
    )
    body = assert_error(response, 460, "checksum_mismatch")
    assert response.status == "460 Checksum Mismatch"
    assert "discarded" in body["message"]
    upload = row(session, path)
    assert upload.upload_offset == 1000 and upload.status == "in_progress"
    assert parts(store, path) == [tus.part_key(upload_id(path), 0)]
    assert client.head(path, headers=auth).headers["Upload-Offset"] == "1000"
    # Sent again, right, it is taken.
    assert patch(client, path, auth, 1000, data[1000:]).status_code == 204
    assert row(session, path).status == "complete"


def test_a_whole_file_that_is_not_the_declared_sha256_fails_the_upload(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(3000)
    claimed = hashlib.sha256(b"the photo the phone meant").hexdigest()
    headers = creation_headers(auth, photo_id, data)
    headers["Upload-Metadata"] = metadata(
        photo_id=photo_id, sha256=claimed, content_type="image/png"
    )
    response = client.post(BASE, headers=headers)
    path = urlsplit(response.headers["Location"]).path
    assert patch(client, path, auth, 0, data[:1500]).status_code == 204

    response = patch(client, path, auth, 1500, data[1500:])
    body = assert_error(response, 460, "sha256_mismatch")
    assert sha(data) in body["message"] and claimed in body["message"]
    upload = row(session, path)
    assert upload.status == "failed" and "sha256 mismatch" in upload.failure
    assert upload.photo_pk is None
    assert photos(session, photo_id) == []
    assert parts(store, path) == []
    assert not store.exists(services.blob_key(sha(data)))
    assert not store.exists(services.blob_key(claimed))
    # The upload is over: HEAD says so, and a new POST starts afresh.
    assert_error(client.head(path, headers=auth), 410, "upload_failed")
    again = client.post(BASE, headers=headers)
    assert again.status_code == 201 and urlsplit(again.headers["Location"]).path != path


# --- creation: limits and metadata ------------------------------------------------------------


def test_over_the_maximum_size_is_413_before_any_byte_is_stored(
    client: FlaskClient, auth: dict[str, str], app: Flask, session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(100)
    limit = settings_of(app).upload_max_bytes
    headers = creation_headers(auth, photo_id, data)
    headers["Upload-Length"] = str(limit + 1)
    body = assert_error(client.post(BASE, headers=headers), 413, "upload_too_large")
    assert str(limit) in body["message"]
    with_body = client.post(BASE, headers={**headers, **OCTETS}, data=data)
    assert_error(with_body, 413, "upload_too_large")
    session.expire_all()
    assert session.scalars(sa.select(Upload).where(Upload.photo_id == photo_id)).all() == []
    # At the limit it is accepted.
    headers["Upload-Length"] = str(limit)
    assert client.post(BASE, headers=headers).status_code == 201


def test_unfinished_uploads_over_the_quota_are_413(
    client: FlaskClient, auth: dict[str, str], app: Flask, world: World
) -> None:
    settings = settings_of(app)
    size, quota = settings.upload_max_bytes, settings.upload_quota_bytes
    fits = quota // size
    declared = b""
    for _ in range(fits):
        photo_id = new_photo(0)[0]
        headers = creation_headers(auth, photo_id, declared)
        headers["Upload-Length"] = str(size)
        assert client.post(BASE, headers=headers).status_code == 201
    headers = creation_headers(auth, new_photo(0)[0], declared)
    headers["Upload-Length"] = str(quota - fits * size + 1)
    body = assert_error(client.post(BASE, headers=headers), 413, "upload_quota_exceeded")
    assert "quota" in body["message"] and str(quota) in body["message"]
    # Another user has a quota of their own.
    teacher_b = {**world.headers["teacher_b"], **TUS}
    assert client.post(BASE, headers={**headers, **teacher_b}).status_code == 201


def test_terminated_uploads_free_the_quota(
    client: FlaskClient, auth: dict[str, str], app: Flask
) -> None:
    settings = settings_of(app)
    paths = []
    for _ in range(settings.upload_quota_bytes // settings.upload_max_bytes):
        headers = creation_headers(auth, new_photo(0)[0], b"")
        headers["Upload-Length"] = str(settings.upload_max_bytes)
        paths.append(urlsplit(client.post(BASE, headers=headers).headers["Location"]).path)
    headers = creation_headers(auth, new_photo(0)[0], b"x")
    assert client.post(BASE, headers=headers).status_code == 413
    assert client.delete(paths[0], headers=auth).status_code == 204
    assert client.post(BASE, headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("pairs", "code"),
    [
        ({"sha256": "0" * 64, "content_type": "image/jpeg"}, "metadata_photo_id_missing"),
        (
            {"photo_id": "a b", "sha256": "0" * 64, "content_type": "image/jpeg"},
            "metadata_photo_id_invalid",
        ),
        (
            {"photo_id": "x" * 65, "sha256": "0" * 64, "content_type": "image/jpeg"},
            "metadata_photo_id_invalid",
        ),
        ({"photo_id": "p1", "content_type": "image/jpeg"}, "metadata_sha256_missing"),
        (
            {"photo_id": "p1", "sha256": "0" * 63, "content_type": "image/jpeg"},
            "metadata_sha256_invalid",
        ),
        (
            {"photo_id": "p1", "sha256": "g" * 64, "content_type": "image/jpeg"},
            "metadata_sha256_invalid",
        ),
        ({"photo_id": "p1", "sha256": "0" * 64}, "metadata_content_type_missing"),
        (
            {"photo_id": "p1", "sha256": "0" * 64, "content_type": "image/gif"},
            "metadata_content_type_invalid",
        ),
        (
            {"photo_id": "p1", "sha256": "0" * 64, "content_type": "text/html"},
            "metadata_content_type_invalid",
        ),
    ],
)
def test_metadata_must_name_the_photo_else_400_naming_the_key(
    client: FlaskClient, auth: dict[str, str], pairs: dict[str, str], code: str
) -> None:
    headers = {**auth, "Upload-Length": "10", "Upload-Metadata": metadata(**pairs)}
    body = assert_error(client.post(BASE, headers=headers), 400, code)
    key = code.removeprefix("metadata_").rsplit("_", 1)[0]
    assert key in body["message"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Upload-Length": None}, "upload_length_missing"),
        ({"Upload-Length": "-5"}, "upload_length_invalid"),
        ({"Upload-Length": "1e3"}, "upload_length_invalid"),
        ({"Upload-Length": "0"}, "upload_length_invalid"),
        ({"Upload-Length": None, "Upload-Defer-Length": "1"}, "upload_defer_length_unsupported"),
        ({"Upload-Metadata": "photo_id"}, "metadata_photo_id_invalid"),
        ({"Upload-Metadata": "photo_id %%%"}, "upload_metadata_invalid"),
        ({"Upload-Metadata": "photo_id a b c"}, "upload_metadata_invalid"),
        (
            {"Upload-Metadata": "photo_id " + base64.b64encode(b"\xff\xfe").decode()},
            "metadata_photo_id_invalid",
        ),
        (
            {"Upload-Metadata": f"photo_id {b64('a')},photo_id {b64('b')}"},
            "upload_metadata_invalid",
        ),
        ({"Upload-Metadata": "x " + "A" * 5000}, "upload_metadata_invalid"),
    ],
)
def test_malformed_creation_headers_are_400_never_500(
    client: FlaskClient, auth: dict[str, str], headers: dict[str, str | None], code: str
) -> None:
    photo_id, data = new_photo(10)
    sent = creation_headers(auth, photo_id, data)
    for name, value in headers.items():
        if value is None:
            sent.pop(name, None)
        else:
            sent[name] = value
    assert_error(client.post(BASE, headers=sent), 400, code)


def test_unknown_metadata_keys_are_accepted_and_echoed(
    client: FlaskClient, auth: dict[str, str], session: Session
) -> None:
    photo_id, data = new_photo(10)
    sent = (
        metadata(
            filename="课堂.jpg",
            filetype="image/jpeg",
            photo_id=photo_id,
            sha256=sha(data).upper(),
            content_type="IMAGE/JPEG",
        )
        + ",flag"
    )
    headers = {**auth, "Upload-Length": str(len(data)), "Upload-Metadata": sent}
    path = urlsplit(client.post(BASE, headers=headers).headers["Location"]).path
    upload = row(session, path)
    assert upload.declared_sha256 == sha(data) and upload.content_type == "image/jpeg"
    assert client.head(path, headers=auth).headers["Upload-Metadata"] == sent


# --- one upload per photo id -------------------------------------------------------------------


def test_posting_again_for_a_live_photo_id_returns_that_upload(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(10_000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:4000]).status_code == 204

    again = client.post(BASE, headers=creation_headers(auth, photo_id, data))
    assert again.status_code == 201
    assert urlsplit(again.headers["Location"]).path == path
    assert again.headers["Upload-Offset"] == "4000"
    # creation-with-upload from scratch: the first bytes are there already, so the body
    # is not written, and the client is told where to go on.
    with_body = client.post(
        BASE, headers={**creation_headers(auth, photo_id, data), **OCTETS}, data=data[:6000]
    )
    assert urlsplit(with_body.headers["Location"]).path == path
    assert with_body.headers["Upload-Offset"] == "4000"
    session.expire_all()
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(Upload).where(Upload.photo_id == photo_id)
        )
        == 1
    )
    assert parts(store, path) == [tus.part_key(upload_id(path), 0)]
    assert patch(client, path, auth, 4000, data[4000:]).status_code == 204
    assert [p.sha256 for p in photos(session, photo_id)] == [sha(data)]


def test_another_sha256_for_a_live_photo_id_is_409(
    client: FlaskClient, auth: dict[str, str], session: Session
) -> None:
    photo_id, data = new_photo(1000)
    create(client, auth, photo_id, data)
    response = client.post(BASE, headers=creation_headers(auth, photo_id, data[:999] + b"!"))
    assert_error(response, 409, "photo_conflict")


def test_posting_a_stored_photo_again_answers_complete(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(2000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data).status_code == 204

    for extra in ({}, OCTETS):
        again = client.post(
            BASE,
            headers={**creation_headers(auth, photo_id, data), **extra},
            data=data if extra else None,
        )
        assert again.status_code == 201
        assert again.headers["Upload-Offset"] == str(len(data))
        head = client.head(urlsplit(again.headers["Location"]).path, headers=auth)
        assert head.status_code == 200
        assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))
    assert len(photos(session, photo_id)) == 1
    assert list(store.keys(services.blob_key(sha(data)))) == [services.blob_key(sha(data))]

    conflict = client.post(BASE, headers=creation_headers(auth, photo_id, b"other bytes"))
    body = assert_error(conflict, 409, "photo_conflict")
    assert photo_id in body["message"]


def test_a_stored_photo_without_its_upload_row_still_answers_complete(
    client: FlaskClient, auth: dict[str, str], session: Session
) -> None:
    photo_id, data = new_photo(500)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data).status_code == 204
    session.execute(sa.delete(Upload).where(Upload.photo_id == photo_id))
    session.flush()
    again = client.post(BASE, headers=creation_headers(auth, photo_id, data))
    assert again.status_code == 201 and again.headers["Upload-Offset"] == str(len(data))
    assert row(session, urlsplit(again.headers["Location"]).path).status == "complete"


def test_the_same_bytes_from_two_users_are_stored_once(
    client: FlaskClient, world: World, app: Flask, session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(3000)
    for name in ("teacher_a", "teacher_b"):
        auth = {**world.headers[name], **TUS}
        path = create(client, auth, photo_id, data)
        assert patch(client, path, auth, 0, data).status_code == 204
    owners = {p.owner_id for p in photos(session, photo_id)}
    assert owners == {world.users["teacher_a"].id, world.users["teacher_b"].id}
    assert list(store.keys(services.blob_key(sha(data)))) == [services.blob_key(sha(data))]


# --- whose upload, termination, override ------------------------------------------------------


def test_another_users_upload_is_not_found(
    client: FlaskClient, world: World, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:500]).status_code == 204
    other = {**world.headers["teacher_b"], **TUS}
    assert_error(client.head(path, headers=other), 404, "not_found")
    assert_error(patch(client, path, other, 500, data[500:]), 404, "not_found")
    assert_error(client.delete(path, headers=other), 404, "not_found")
    override = {**other, "X-HTTP-Method-Override": "DELETE"}
    assert_error(client.post(path, headers=override), 404, "not_found")
    # Nor is an upload that never was.
    assert_error(client.head(f"{BASE}/{uuid.uuid4()}", headers=auth), 404)
    assert client.head(f"{BASE}/not-a-uuid", headers=auth).status_code == 404
    upload = row(session, path)
    assert (upload.status, upload.upload_offset) == ("in_progress", 500)
    assert parts(store, path) == [tus.part_key(upload_id(path), 0)]


def test_termination_deletes_the_chunks_and_the_upload_is_gone(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:300]).status_code == 204
    assert patch(client, path, auth, 300, data[300:600]).status_code == 204
    assert len(parts(store, path)) == 2

    response = client.delete(path, headers=auth)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert row(session, path).status == "terminated"
    assert parts(store, path) == []
    assert_error(client.head(path, headers=auth), 410, "upload_terminated")
    assert_error(patch(client, path, auth, 600, data[600:]), 410, "upload_terminated")
    assert_error(client.delete(path, headers=auth), 410)
    # The photo id is free again.
    assert (
        urlsplit(
            client.post(BASE, headers=creation_headers(auth, photo_id, data)).headers["Location"]
        ).path
        != path
    )


def test_a_complete_upload_cannot_be_terminated(
    client: FlaskClient, auth: dict[str, str], session: Session
) -> None:
    photo_id, data = new_photo(100)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data).status_code == 204
    assert_error(client.delete(path, headers=auth), 409, "upload_complete")
    assert row(session, path).status == "complete" and len(photos(session, photo_id)) == 1


def test_x_http_method_override_tunnels_patch_head_and_delete(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(2000)
    path = create(client, auth, photo_id, data)

    patched = client.post(
        path,
        headers={**auth, **OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"},
        data=data[:1200],
    )
    assert patched.status_code == 204 and patched.headers["Upload-Offset"] == "1200"
    head = client.post(path, headers={**auth, "X-HTTP-Method-Override": "HEAD"})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "1200"
    assert head.headers["Upload-Length"] == "2000" and head.get_data() == b""
    assert_error(client.post(path, headers=auth), 405)
    assert_error(client.post(path, headers={**auth, "X-HTTP-Method-Override": "GET"}), 405)

    deleted = client.post(path, headers={**auth, "X-HTTP-Method-Override": "delete"})
    assert deleted.status_code == 204
    assert row(session, path).status == "terminated" and parts(store, path) == []

    other_id, other = new_photo(700)
    path = create(client, auth, other_id, other)
    done = client.post(
        path,
        headers={**auth, **OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"},
        data=other,
    )
    assert done.status_code == 204
    assert [p.sha256 for p in photos(session, other_id)] == [sha(other)]


# --- bodies ----------------------------------------------------------------------------------


def test_bytes_beyond_the_upload_length_are_refused_and_nothing_is_stored(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:600]).status_code == 204

    body = assert_error(patch(client, path, auth, 600, data[600:] + b"extra"), 413)
    assert body["code"] == "upload_exceeds_length" and "400" in body["message"]
    chunked = client.patch(
        path,
        headers={**auth, **OCTETS, "Upload-Offset": "600", "Transfer-Encoding": "chunked"},
        input_stream=io.BytesIO(data[600:] + b"extra"),
        environ_overrides=CHUNKED_SERVER,
    )
    assert_error(chunked, 413, "upload_exceeds_length")
    too_long = client.post(
        BASE, headers={**creation_headers(auth, new_photo()[0], b"abc"), **OCTETS}, data=b"abcd"
    )
    assert_error(too_long, 413, "upload_exceeds_length")
    upload = row(session, path)
    assert (upload.upload_offset, upload.status) == (600, "in_progress")
    assert parts(store, path) == [tus.part_key(upload_id(path), 0)]

    # A chunked body of exactly the bytes left is fine.
    exact = client.patch(
        path,
        headers={**auth, **OCTETS, "Upload-Offset": "600", "Transfer-Encoding": "chunked"},
        input_stream=io.BytesIO(data[600:]),
        environ_overrides=CHUNKED_SERVER,
    )
    assert exact.status_code == 204
    assert [p.sha256 for p in photos(session, photo_id)] == [sha(data)]


def test_a_chunk_larger_than_the_json_request_cap_is_taken(
    client: FlaskClient, auth: dict[str, str], app: Flask, session: Session
) -> None:
    cap = app.config["MAX_CONTENT_LENGTH"]
    photo_id, data = new_photo(cap + 100_000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data).status_code == 204
    assert [p.size for p in photos(session, photo_id)] == [len(data)]


def test_a_body_cut_short_keeps_what_arrived(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    cut = client.patch(
        path,
        headers={**auth, **OCTETS, "Upload-Offset": "0"},
        input_stream=io.BytesIO(data[:400]),
        environ_overrides={"CONTENT_LENGTH": "1000"},  # the phone announced more, then went
    )
    assert_error(cut, 400, "body_incomplete")
    assert row(session, path).upload_offset == 400
    assert client.head(path, headers=auth).headers["Upload-Offset"] == "400"
    # With a checksum the partial chunk cannot be verified: nothing is kept.
    digest = base64.b64encode(hashlib.sha1(data[400:], usedforsecurity=False).digest()).decode()
    cut = client.patch(
        path,
        headers={**auth, **OCTETS, "Upload-Offset": "400", "Upload-Checksum": f"sha1 {digest}"},
        input_stream=io.BytesIO(data[400:700]),
        environ_overrides={"CONTENT_LENGTH": "600"},
    )
    assert cut.status_code == 400
    assert row(session, path).upload_offset == 400
    assert patch(client, path, auth, 400, data[400:]).status_code == 204
    assert [p.sha256 for p in photos(session, photo_id)] == [sha(data)]
    assert parts(store, path) == []


def test_an_empty_patch_changes_nothing(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(100)
    path = create(client, auth, photo_id, data)
    response = patch(client, path, auth, 0, b"")
    assert response.status_code == 204 and response.headers["Upload-Offset"] == "0"
    assert parts(store, path) == []


# --- expiration ------------------------------------------------------------------------------


def test_an_expired_upload_is_gone_and_the_job_sweeps_it(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:500]).status_code == 204
    live_id, live = new_photo(100)
    live_path = create(client, auth, live_id, live)
    assert patch(client, live_path, auth, 0, live[:50]).status_code == 204

    upload = row(session, path)
    upload.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()

    assert_error(client.head(path, headers=auth), 410, "upload_expired")
    assert_error(patch(client, path, auth, 500, data[500:]), 410, "upload_expired")
    assert row(session, path).upload_offset == 500

    assert tus.expire_uploads(session, store, utcnow()) == 1
    upload = row(session, path)
    assert (upload.status, upload.failure) == ("failed", "expired")
    assert parts(store, path) == []
    assert row(session, live_path).status == "in_progress"  # not expired: untouched
    assert parts(store, live_path) == [tus.part_key(upload_id(live_path), 0)]
    assert tus.expire_uploads(session, store, utcnow()) == 0


def test_expiry_moves_on_with_each_chunk(
    client: FlaskClient, auth: dict[str, str], session: Session
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    upload = row(session, path)
    upload.expires_at = utcnow() + timedelta(minutes=1)
    session.flush()
    response = patch(client, path, auth, 0, data[:10])
    expires = parsedate_to_datetime(response.headers["Upload-Expires"])
    assert expires > utcnow() + timedelta(days=6)


def test_a_new_post_replaces_an_expired_upload_of_the_photo(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:500]).status_code == 204
    row(session, path).expires_at = utcnow() - timedelta(seconds=1)
    session.flush()

    fresh = create(client, auth, photo_id, data)
    assert fresh != path
    assert (row(session, path).status, row(session, path).failure) == ("failed", "expired")
    assert parts(store, path) == []
    assert row(session, fresh).upload_offset == 0
    assert patch(client, fresh, auth, 0, data).status_code == 204
    assert [p.sha256 for p in photos(session, photo_id)] == [sha(data)]


def test_expire_uploads_deletes_chunks_left_by_ended_uploads(
    client: FlaskClient, auth: dict[str, str], session: Session, store: Storage
) -> None:
    photo_id, data = new_photo(1000)
    path = create(client, auth, photo_id, data)
    assert patch(client, path, auth, 0, data[:500]).status_code == 204
    # A crash between the commit and the deletion: the row says terminated, parts remain.
    row(session, path).status = "terminated"
    session.flush()
    orphan = f"parts/{uuid.uuid4()}/000000000000"  # no row: its creation may not have committed
    store.put(orphan, io.BytesIO(b"x"))
    assert parts(store, path)

    assert tus.expire_uploads(session, store, utcnow()) == 0
    assert parts(store, path) == []
    assert store.exists(orphan)
    store.delete(orphan)


# --- the document ----------------------------------------------------------------------------


def test_the_endpoints_are_documented(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec is not None
    assert set(spec["paths"][BASE]) >= {"options", "post"}
    item = spec["paths"][f"{BASE}/{{upload_id}}"]
    assert set(item) >= {"options", "head", "patch", "delete", "post"}
    assert "Upload-Offset" in item["patch"]["responses"]["204"]["headers"]
    assert "460" in item["patch"]["responses"]
    assert "Location" in spec["paths"][BASE]["post"]["responses"]["201"]["headers"]
    assert spec["paths"][BASE]["options"]["security"] == []
