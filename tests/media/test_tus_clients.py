"""Real tus clients against a live server (real commits, real sockets): tuspy in this
process and tus-js-client (pinned in tests/e2e/package.json) under Node 20.

Each uploads a ~3 MB PNG in chunks, is cut off midway — its chunk loop stopped, its
network dropped mid-PATCH, or the app killed (``upload.abort()`` then the process exits)
— and resumes from a *new* client instance, found through the client's own URL storage
or by the URL. Every test then checks the server: the Photo with the declared sha256,
its blob stored once, the upload complete and its chunks gone.

Nothing here is skipped: without ``node`` or ``tests/e2e/node_modules`` the tus-js-client
tests fail and say how to install it (``npm ci --prefix tests/e2e``; ``.ci/run`` does it).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from PIL import Image
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.storage.filestorage import FileStorage

from backend.db import database_of
from media import services, tus
from media.models import Photo, Upload
from tests.live import LiveServer
from tests.node_clients import E2E, node_with

SCRIPT = E2E / "tus_upload.js"
PACKAGE = "tus-js-client"
TIMEOUT = 60.0  # seconds: bound of a Node run
CHUNK = 512 * 1024

Json = dict[str, Any]


# --- the photo, and the server's side of it -------------------------------------------------


@dataclass(frozen=True)
class PhotoFile:
    path: Path
    data: bytes
    photo_id: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def metadata(self) -> dict[str, str]:
        # What tus-js-client apps send besides ours (filename, filetype) is ignored.
        return {
            "photo_id": self.photo_id,
            "sha256": self.sha256,
            "content_type": "image/png",
            "filename": self.path.name,
            "filetype": "image/png",
        }


@pytest.fixture
def photo(tmp_path: Path) -> PhotoFile:
    """A fresh ~3 MB PNG (noise does not compress): new bytes for every test."""
    image = Image.frombytes("RGB", (1000, 1000), os.urandom(3_000_000))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    path = tmp_path / "evidence.png"
    path.write_bytes(out.getvalue())
    assert 2_900_000 < len(out.getvalue()) < 3_200_000
    return PhotoFile(path, out.getvalue(), f"tus-{uuid.uuid4().hex[:12]}")


def endpoint(live: LiveServer) -> str:
    return f"{live.base_url}/api/v1/uploads"


def uploads_of(live: LiveServer, photo: PhotoFile) -> list[Upload]:
    with database_of(live.app).unit_of_work() as session:
        rows = list(
            session.scalars(
                sa.select(Upload)
                .where(Upload.photo_id == photo.photo_id)
                .order_by(Upload.created_at)
            )
        )
        session.expunge_all()
    return rows


def the_upload(live: LiveServer, photo: PhotoFile) -> Upload:
    [upload] = uploads_of(live, photo)
    return upload


def part_keys(live: LiveServer, upload: Upload) -> list[str]:
    return list(services.storage(live.app).keys(tus.parts_prefix(upload.id)))


def assert_stored_once(live: LiveServer, photo: PhotoFile, owner_id: uuid.UUID) -> Photo:
    """The upload is complete, it made one Photo of the right bytes, and nothing is left."""
    upload = the_upload(live, photo)
    assert (upload.status, upload.upload_offset) == ("complete", len(photo.data))
    with database_of(live.app).unit_of_work() as session:
        [row] = session.scalars(sa.select(Photo).where(Photo.photo_id == photo.photo_id)).all()
        session.expunge(row)
    assert (row.owner_id, row.sha256, row.size) == (owner_id, photo.sha256, len(photo.data))
    assert upload.photo_pk == row.id
    store = services.storage(live.app)
    key = services.blob_key(photo.sha256)
    assert row.blob_key == key
    assert list(store.keys(key)) == [key]  # once
    with store.open(key) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == photo.sha256
    assert part_keys(live, upload) == []
    # Processed after the commit (in-process on the embedded default): a real PNG.
    assert (row.status, row.detected_format, row.width) == ("valid", "PNG", 1000)
    return row


# --- tuspy ------------------------------------------------------------------------------------


class _Unclosable(io.BytesIO):
    """The file for tuspy. With ``store_url`` tuspy 1.1.0 fingerprints a ``file_stream``
    inside ``with`` — closing the caller's stream (reference §5.3) — and with
    ``file_path`` it opens the file per request and never closes it (ResourceWarnings)."""

    def close(self) -> None:
        pass


def tuspy_uploader(
    live: LiveServer,
    headers: dict[str, str],
    photo: PhotoFile,
    *,
    url_file: Path | None = None,
    url: str | None = None,
    via: str | None = None,
    checksum: bool = True,
) -> Any:
    client = TusClient(via or endpoint(live), headers=headers)
    if url_file is not None:
        return client.uploader(
            file_stream=_Unclosable(photo.data),
            chunk_size=CHUNK,
            metadata=photo.metadata(),
            store_url=True,
            url_storage=FileStorage(str(url_file)),  # type: ignore[no-untyped-call]
            upload_checksum=checksum,
        )
    return client.uploader(
        file_stream=io.BytesIO(photo.data),
        url=url,
        chunk_size=CHUNK,
        metadata=photo.metadata(),
        upload_checksum=checksum,
    )


def test_tuspy_stopped_midway_resumes_from_a_new_client_via_its_url_storage(
    live: LiveServer, photo: PhotoFile, tmp_path: Path
) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    url_file = tmp_path / "tuspy-urls.json"
    cut = 3 * CHUNK + 12_345  # mid-chunk: the last request is a short one

    first = tuspy_uploader(live, headers, photo, url_file=url_file)
    assert first.url is None  # nothing stored yet: it will create
    first.upload(stop_at=cut)  # the app is stopped here
    assert first.offset == cut
    upload = the_upload(live, photo)
    assert first.url == f"{endpoint(live)}/{upload.id}"
    assert (upload.status, upload.upload_offset) == ("in_progress", cut)
    assert part_keys(live, upload) == [
        tus.part_key(upload.id, o) for o in (0, CHUNK, 2 * CHUNK, 3 * CHUNK)
    ]
    first.url_storage.close()

    # After a restart: a new client and uploader find the URL by the file's fingerprint,
    # ask HEAD for the offset, and send only what is missing.
    second = tuspy_uploader(live, headers, photo, url_file=url_file)
    assert (second.url, second.offset) == (first.url, cut)
    second.upload()
    assert second.offset == len(photo.data)
    second.url_storage.close()

    assert_stored_once(live, photo, world.users["teacher_a"].id)
    assert len(uploads_of(live, photo)) == 1


class CuttingProxy:
    """A TCP proxy in front of the live server that drops the connection of the next
    PATCH after ``cut`` bytes of its body — a phone losing its network mid-chunk. The
    server sees its client go away; the client sees a reset and no answer."""

    def __init__(self, port: int) -> None:
        self._target = ("127.0.0.1", port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.cut: int | None = None
        self.cut_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self._target)
        with client, upstream:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            cut, self.cut = (self.cut, None) if head.startswith(b"PATCH ") else (None, self.cut)
            if cut is None:
                upstream.sendall(head)
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(timeout=TIMEOUT)
                return
            header_end = head.index(b"\r\n\r\n") + 4
            body = head[header_end:]
            while len(body) < cut:
                data = client.recv(65536)
                if not data:
                    break
                body += data
            upstream.sendall(head[:header_end] + body[:cut])
            upstream.shutdown(socket.SHUT_WR)  # the server reads the end of its client
            while upstream.recv(65536):  # ... and has answered (and committed) once it closes
                pass
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.cut_done.set()  # the client gets a reset, not the answer


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def proxy(live: LiveServer) -> Iterator[CuttingProxy]:
    port = int(live.base_url.rsplit(":", 1)[1])
    cutting = CuttingProxy(port)
    yield cutting
    cutting.close()


@pytest.mark.parametrize("checksum", [False, True], ids=["plain", "upload-checksum"])
def test_tuspy_patch_cut_by_the_network_resumes_by_url_from_a_new_client(
    live: LiveServer, photo: PhotoFile, proxy: CuttingProxy, checksum: bool
) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    first = tuspy_uploader(
        live, headers, photo, via=f"{proxy.url}/api/v1/uploads", checksum=checksum
    )
    first.upload(stop_at=CHUNK)  # one whole chunk through the proxy
    upload = the_upload(live, photo)
    assert upload.upload_offset == CHUNK

    proxy.cut = 200_000
    with pytest.raises(TusCommunicationError):
        first.upload()  # the network drops 200 kB into the second chunk
    assert proxy.cut_done.wait(TIMEOUT)
    upload = the_upload(live, photo)
    # tus: the server keeps what arrived — unless the chunk came with a checksum, which a
    # partial chunk cannot match.
    kept = CHUNK if checksum else CHUNK + 200_000
    assert (upload.status, upload.upload_offset) == ("in_progress", kept)

    # A new uploader, given the URL (what an app keeps), asks HEAD and finishes directly.
    url = first.url.replace(proxy.url, live.base_url)
    second = tuspy_uploader(live, headers, photo, url=url, checksum=checksum)
    assert second.offset == kept
    second.upload()
    assert second.offset == len(photo.data)
    assert_stored_once(live, photo, world.users["teacher_a"].id)


def test_concurrent_patches_at_one_offset_store_one_chunk(
    live: LiveServer, photo: PhotoFile
) -> None:
    world = live.world()
    headers = {**world.headers["teacher_a"], "Tus-Resumable": "1.0.0"}
    created = requests.post(
        endpoint(live),
        headers={
            **headers,
            "Upload-Length": str(len(photo.data)),
            "Upload-Metadata": ",".join(
                f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in photo.metadata().items()
            ),
        },
        timeout=TIMEOUT,
    )
    assert created.status_code == 201
    url = created.headers["Location"]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def send(chunk: bytes) -> None:
        start.wait()
        response = requests.patch(
            url,
            headers={**headers, "Content-Type": tus.OFFSET_OCTET_STREAM, "Upload-Offset": "0"},
            data=chunk,
            timeout=TIMEOUT,
        )
        statuses.append(response.status_code)

    # Two devices (or a retry racing its original) send different first chunks at once.
    senders = [
        threading.Thread(target=send, args=(photo.data[: 2 * CHUNK],)),
        threading.Thread(target=send, args=(photo.data[: CHUNK + 7],)),
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(TIMEOUT)
    assert sorted(statuses) == [204, 409]
    upload = the_upload(live, photo)
    assert upload.upload_offset in (2 * CHUNK, CHUNK + 7)
    [key] = part_keys(live, upload)
    assert services.storage(live.app).size(key) == upload.upload_offset

    rest = requests.patch(
        url,
        headers={
            **headers,
            "Content-Type": tus.OFFSET_OCTET_STREAM,
            "Upload-Offset": str(upload.upload_offset),
        },
        data=photo.data[upload.upload_offset :],
        timeout=TIMEOUT,
    )
    assert rest.status_code == 204
    assert_stored_once(live, photo, world.users["teacher_a"].id)


# --- tus-js-client (Node) -----------------------------------------------------------------------


def _node() -> str:
    return node_with(PACKAGE)


def tus_js(live: LiveServer, headers: dict[str, str], photo: PhotoFile, **options: str) -> Json:
    """One run of tests/e2e/tus_upload.js (one app session); its JSON line."""
    env = {
        **os.environ,
        "TUS_ENDPOINT": endpoint(live),
        "TUS_TOKEN": headers["Authorization"].removeprefix("Bearer "),
        "TUS_FILE": str(photo.path),
        "TUS_METADATA": json.dumps(photo.metadata()),
        "TUS_CHUNK_SIZE": str(CHUNK),
        "TUS_TIMEOUT_MS": str(int(TIMEOUT * 1000)),
        **options,
    }
    done = subprocess.run(
        [_node(), str(SCRIPT)],
        cwd=E2E,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT + 10,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"expected one JSON line, got {done.stdout!r}; stderr: {done.stderr}"
    result: Json = json.loads(lines[0])
    result["exitCode"] = done.returncode
    result["stderr"] = done.stderr
    return result


def calls(result: Json) -> list[tuple[str, int | None, int]]:
    """(method, Upload-Offset sent, status) of every request the client made."""
    return [(r["override"] or r["method"], r["offset"], r["status"]) for r in result["requests"]]


def test_tus_js_client_aborted_then_restarted_resumes_from_its_url_storage(
    live: LiveServer, photo: PhotoFile, tmp_path: Path
) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    urls = str(tmp_path / "tus-js-urls.json")

    first = tus_js(
        live, headers, photo, TUS_URL_STORAGE=urls, TUS_RESUME="1", TUS_ABORT_AFTER=str(2 * CHUNK)
    )
    assert first["exitCode"] == 0 and first["ok"] and first["aborted"], first
    assert first["previousUploads"] == 0
    assert calls(first) == [("POST", None, 201), ("PATCH", 0, 204), ("PATCH", CHUNK, 204)]
    upload = the_upload(live, photo)
    assert first["url"] == f"{endpoint(live)}/{upload.id}"
    assert (upload.status, upload.upload_offset) == ("in_progress", 2 * CHUNK)
    assert len(part_keys(live, upload)) == 2

    # The app starts again: a new Upload finds the stored URL by the file's fingerprint.
    second = tus_js(live, headers, photo, TUS_URL_STORAGE=urls, TUS_RESUME="1")
    assert second["exitCode"] == 0 and second["ok"], second
    assert second["previousUploads"] == 1
    assert second["url"] == first["url"]
    sent = calls(second)
    assert sent[0] == ("HEAD", None, 200)
    assert second["requests"][0]["responseOffset"] == 2 * CHUNK
    assert [offset for _, offset, _ in sent[1:]] == list(range(2 * CHUNK, len(photo.data), CHUNK))
    assert {(method, status) for method, _, status in sent[1:]} == {("PATCH", 204)}

    assert_stored_once(live, photo, world.users["teacher_a"].id)


def test_tus_js_client_with_creation_upload_and_method_override(
    live: LiveServer, photo: PhotoFile
) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    options = {"TUS_DURING_CREATION": "1", "TUS_OVERRIDE_PATCH": "1"}

    done = tus_js(live, headers, photo, **options)
    assert done["exitCode"] == 0 and done["ok"], done
    sent = calls(done)
    # The first chunk rides on the POST; the rest go as POST + X-HTTP-Method-Override.
    assert sent[0] == ("POST", None, 201)
    assert done["requests"][0]["responseOffset"] == CHUNK
    assert [(method, status) for method, _, status in sent[1:]] == [("PATCH", 204)] * (
        len(sent) - 1
    )
    assert {r["method"] for r in done["requests"]} == {"POST"}
    assert_stored_once(live, photo, world.users["teacher_a"].id)

    # The same photo again, from scratch (no URL storage): the POST answers "complete".
    again = tus_js(live, headers, photo, **options)
    assert again["exitCode"] == 0 and again["ok"], again
    assert calls(again) == [("POST", None, 201)]
    assert again["requests"][0]["responseOffset"] == len(photo.data)
    assert again["url"] == done["url"]
    assert_stored_once(live, photo, world.users["teacher_a"].id)


@pytest.mark.parametrize(
    "during_creation", [False, True], ids=["post-then-patch", "creation-with-upload"]
)
def test_tus_js_client_starting_over_without_its_url_resumes_the_live_upload(
    live: LiveServer, photo: PhotoFile, during_creation: bool
) -> None:
    """A phone that lost its URL (reinstalled, storage cleared) POSTs again for the same
    photo id and gets the upload it began: only the missing bytes travel."""
    world = live.world()
    headers = world.headers["teacher_a"]
    flag = {"TUS_DURING_CREATION": "1" if during_creation else "0"}
    first = tus_js(live, headers, photo, TUS_ABORT_AFTER=str(3 * CHUNK), **flag)
    assert first["exitCode"] == 0 and first["aborted"], first
    cut = the_upload(live, photo).upload_offset
    assert cut == 3 * CHUNK

    if not during_creation:
        # reference §5.6: tus-js-client ignores the offset in a plain POST's answer and
        # PATCHes at 0. Without retries that 409 is the end ...
        stuck = tus_js(live, headers, photo, TUS_RETRY_DELAYS="null", **flag)
        assert stuck["exitCode"] == 1 and not stuck["ok"], stuck
        assert calls(stuck) == [("POST", None, 201), ("PATCH", 0, 409)]
        assert "409" in stuck["error"]

    again = tus_js(live, headers, photo, **flag)
    assert again["exitCode"] == 0 and again["ok"], again
    assert again["url"] == first["url"]  # the same upload
    sent = calls(again)
    assert sent[0] == ("POST", None, 201)
    assert again["requests"][0]["responseOffset"] == cut
    if during_creation:
        # The answer's offset is used: the client goes on from there at once.
        patches = sent[1:]
    else:
        # ... with them (the default), 409 → HEAD → resume at the server's offset.
        assert sent[1:3] == [("PATCH", 0, 409), ("HEAD", None, 200)]
        assert again["requests"][2]["responseOffset"] == cut
        patches = sent[3:]
    assert [offset for _, offset, _ in patches] == list(range(cut, len(photo.data), CHUNK))
    assert {status for _, _, status in patches} == {204}
    assert_stored_once(live, photo, world.users["teacher_a"].id)
