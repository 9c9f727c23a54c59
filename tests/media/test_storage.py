"""One contract for every storage backend: local disk, memory and S3.

S3 runs against moto's server mode, started here on 127.0.0.1 — the real client, real HTTP,
real multipart uploads — with dummy credentials and the AWS config files pointed away from
the developer's own, so no real AWS endpoint (or instance metadata service) can be reached;
conftest's socket guard would refuse it anyway.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from backend.config import ConfigError, Settings
from media.s3 import S3Storage
from media.storage import LocalStorage, MemoryStorage, Storage, storage_from_settings

pytestmark = pytest.mark.db_independent  # runs once in CI, not per database

MB = 1024 * 1024
SECRET = "test-secret-key-that-is-long-enough-for-hs256"
UNSAFE_KEYS = ["../x", "/abs", "a//b", "", "a/../b", "a/./b", "a/", ".", ".."]

BACKENDS = ["local", "memory", "s3"]


# --- moto ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An S3 look-alike on a free loopback port, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_admin(moto_endpoint: str) -> Any:
    """A client of the test's own (explicit dummy credentials) to make and inspect buckets."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials through the standard chain, and nothing of the developer's own."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def bucket(s3_admin: Any) -> str:
    """A fresh bucket per test, so listings see only the test's own keys."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=name)
    return name


# --- the backends ----------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    if request.param == "memory":
        return MemoryStorage()
    request.getfixturevalue("aws_env")
    endpoint: str = request.getfixturevalue("moto_endpoint")
    return S3Storage(bucket=request.getfixturevalue("bucket"), endpoint_url=endpoint)


class Trickle(io.RawIOBase):
    """An unseekable stream that hands out at most ``step`` bytes a read, like a socket.

    A raw stream, not a ``BinaryIO`` to the type checker (no more than a WSGI input is):
    :meth:`stream` says it is one, as callers of ``put`` do.
    """

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__()
        self._data = memoryview(data)
        self._step = step
        self.reads = 0

    def readable(self) -> bool:
        return True

    def stream(self) -> BinaryIO:
        return cast(BinaryIO, self)

    def readinto(self, buffer: Any) -> int:
        self.reads += 1
        n = min(len(buffer), self._step, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def body(size: int, seed: bytes = b"") -> bytes:
    """``size`` bytes that differ from part to part (a byte mix-up cannot go unseen)."""
    block = hashlib.sha256(seed).digest() * (MB // 32)
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += counter.to_bytes(8, "big") + block[: MB - 8]
        counter += 1
    return bytes(out[:size])


def read_all(store: Storage, key: str, step: int = 100_000) -> bytes:
    parts = []
    with store.open(key) as stream:
        while piece := stream.read(step):
            assert len(piece) <= step
            parts.append(piece)
    return b"".join(parts)


# --- the contract ----------------------------------------------------------------------


def test_put_then_open_round_trips(store: Storage) -> None:
    assert store.put("blobs/ab/one", io.BytesIO(b"hello photo")) == 11
    with store.open("blobs/ab/one") as stream:
        assert stream.read() == b"hello photo"


def test_open_reads_exactly_n_bytes(store: Storage) -> None:
    data = bytes(range(256)) * 10
    store.put("k/v", io.BytesIO(data))
    with store.open("k/v") as stream:
        assert stream.read(3) == data[:3]
        assert stream.read(253) == data[3:256]
        assert stream.read(2000) == data[256:2256]
        assert stream.read(10_000) == data[2256:]
        assert stream.read(1) == b""


def test_empty_body(store: Storage) -> None:
    assert store.put("empty", io.BytesIO(b"")) == 0
    assert store.exists("empty")
    assert store.size("empty") == 0
    assert read_all(store, "empty") == b""


def test_big_body_round_trips(store: Storage) -> None:
    """12 MB: above S3's multipart threshold, so it goes up in two parts."""
    data = body(12 * MB, b"big")
    assert store.put("blobs/bb/big", io.BytesIO(data)) == len(data)
    assert store.size("blobs/bb/big") == len(data)
    assert read_all(store, "blobs/bb/big", step=MB + 7) == data


def test_put_reads_from_the_stream_position(store: Storage) -> None:
    stream = io.BytesIO(b"headerPAYLOAD")
    stream.seek(6)
    assert store.put("k", stream) == 7
    assert read_all(store, "k") == b"PAYLOAD"


def test_put_of_a_stream_read_in_chunks(store: Storage) -> None:
    """A stream that returns short reads is stored whole, however big."""
    data = body(10 * MB + 12_345, b"trickle")
    source = Trickle(data, step=64 * 1024 + 3)
    assert store.put("parts/u1/0", source.stream()) == len(data)
    assert source.reads > 100
    assert store.size("parts/u1/0") == len(data)
    assert read_all(store, "parts/u1/0") == data


def test_put_replaces(store: Storage) -> None:
    store.put("derived/ab/x/thumb.jpg", io.BytesIO(b"old and longer"))
    assert store.put("derived/ab/x/thumb.jpg", io.BytesIO(b"new")) == 3
    assert store.size("derived/ab/x/thumb.jpg") == 3
    assert read_all(store, "derived/ab/x/thumb.jpg") == b"new"
    assert list(store.keys("derived/")) == ["derived/ab/x/thumb.jpg"]


def test_size_and_exists(store: Storage) -> None:
    assert not store.exists("a/b")
    store.put("a/b", io.BytesIO(b"12345"))
    assert store.exists("a/b")
    assert store.size("a/b") == 5
    assert not store.exists("a/b2")
    assert not store.exists("a")  # a prefix of a key is not a key


def test_delete_and_delete_again(store: Storage) -> None:
    store.put("a/b", io.BytesIO(b"x"))
    store.put("a/c", io.BytesIO(b"y"))
    store.delete("a/b")
    assert not store.exists("a/b")
    assert store.exists("a/c")
    store.delete("a/b")  # absent: nothing happens
    store.delete("never/was")
    with pytest.raises(FileNotFoundError):
        store.open("a/b")
    assert list(store.keys("")) == ["a/c"]


def test_keys_are_sorted_and_filtered_by_prefix(store: Storage) -> None:
    for key in ["parts/u2/0", "blobs/ff/f", "parts/u1/10", "parts/u10/0", "parts/u1/2"]:
        store.put(key, io.BytesIO(key.encode()))
    assert list(store.keys("parts/u1/")) == ["parts/u1/10", "parts/u1/2"]
    # A prefix is a string prefix, not a folder.
    assert list(store.keys("parts/u1")) == ["parts/u1/10", "parts/u1/2", "parts/u10/0"]
    assert list(store.keys("parts/")) == [
        "parts/u1/10",
        "parts/u1/2",
        "parts/u10/0",
        "parts/u2/0",
    ]
    assert list(store.keys("")) == sorted(
        ["blobs/ff/f", "parts/u1/10", "parts/u1/2", "parts/u10/0", "parts/u2/0"]
    )
    assert list(store.keys("nothing/")) == []


def test_keys_of_an_empty_store(store: Storage) -> None:
    assert list(store.keys("")) == []


@pytest.mark.parametrize("operation", ["open", "size"])
def test_missing_key_is_file_not_found(store: Storage, operation: str) -> None:
    with pytest.raises(FileNotFoundError):
        getattr(store, operation)("blobs/00/missing")


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_put_refuses_unsafe_keys(store: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="not a storage key"):
        store.put(key, io.BytesIO(b"x"))
    assert list(store.keys("")) == []


@pytest.mark.parametrize("operation", ["open", "exists", "size", "delete"])
@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", ""])
def test_every_operation_refuses_unsafe_keys(store: Storage, key: str, operation: str) -> None:
    with pytest.raises(ValueError, match="not a storage key"):
        getattr(store, operation)(key)


def test_a_folder_is_not_a_key(store: Storage) -> None:
    store.put("blobs/ab/abc", io.BytesIO(b"x"))
    assert not store.exists("blobs/ab")
    with pytest.raises(FileNotFoundError):
        store.size("blobs/ab")
    with pytest.raises(FileNotFoundError):
        store.open("blobs/ab")


# --- S3 specifics ----------------------------------------------------------------------


@pytest.fixture
def s3_store(aws_env: None, moto_endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(bucket=bucket, endpoint_url=moto_endpoint)


def test_s3_big_body_goes_up_in_parts(s3_store: S3Storage, s3_admin: Any) -> None:
    s3_store.put("blobs/bb/big", io.BytesIO(body(12 * MB)))
    s3_store.put("parts/u1/0", Trickle(body(17 * MB), step=10_000).stream())
    s3_store.put("small", io.BytesIO(b"small"))
    etag = s3_admin.head_object(Bucket=s3_store.bucket, Key="blobs/bb/big")["ETag"]
    assert etag.strip('"').endswith("-2")  # the ETag of a two-part upload
    etag = s3_admin.head_object(Bucket=s3_store.bucket, Key="parts/u1/0")["ETag"]
    assert etag.strip('"').endswith("-3")  # parts of 8 MB, not of 10 kB
    etag = s3_admin.head_object(Bucket=s3_store.bucket, Key="small")["ETag"]
    assert "-" not in etag


def test_s3_keys_reads_every_page(s3_store: S3Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listings come a page at a time (1000 keys on S3); pages of 2 here, to see them joined."""
    names = [f"parts/u/{i}" for i in range(12)]
    for name in reversed(names):
        s3_store.put(name, io.BytesIO(b""))
    s3_store.put("other", io.BytesIO(b""))
    pages: list[int] = []
    real = s3_store.client.get_paginator

    def small_pages(operation: str) -> Any:
        paginator = real(operation)
        paginate = paginator.paginate

        def in_twos(**kwargs: Any) -> Iterator[Any]:
            for page in paginate(PaginationConfig={"PageSize": 2}, **kwargs):
                pages.append(page["KeyCount"])
                yield page

        paginator.paginate = in_twos
        return paginator

    monkeypatch.setattr(s3_store.client, "get_paginator", small_pages)
    assert list(s3_store.keys("parts/")) == sorted(names)  # "parts/u/10" before "parts/u/2"
    assert pages == [2] * 6


def test_s3_open_streams_lazily_and_closes(s3_store: S3Storage) -> None:
    s3_store.put("k", io.BytesIO(body(3 * MB)))
    stream = s3_store.open("k")
    assert stream.readable()
    assert stream.read(5) == body(5)
    stream.close()
    assert stream.closed


def test_s3_missing_bucket_is_not_a_missing_file(aws_env: None, moto_endpoint: str) -> None:
    store = S3Storage(bucket="no-such-bucket-here", endpoint_url=moto_endpoint)
    with pytest.raises(ClientError, match="NoSuchBucket"):
        store.open("k")


def test_s3_construction_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app factory builds its store without a client, a credential or a socket."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("S3Storage made a client at construction")

    monkeypatch.setattr("boto3.session.Session", boom)
    monkeypatch.setattr("botocore.session.Session", boom)
    store = S3Storage(bucket="b")  # no endpoint: it would be real AWS
    assert store.name == "s3"
    assert "S3Storage(bucket='b'" in repr(store)


def test_s3_refuses_an_empty_bucket_name() -> None:
    with pytest.raises(ValueError, match="bucket"):
        S3Storage(bucket="")


def _config(store: S3Storage) -> Any:
    return store.client.meta.config


def test_s3_path_style_for_an_endpoint(aws_env: None) -> None:
    store = S3Storage(bucket="b", endpoint_url="http://127.0.0.1:9")
    config = _config(store)
    assert config.s3 == {"addressing_style": "path"}
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (5, 60)
    assert config.request_checksum_calculation == "when_required"
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert store.client is store.client  # made once


def test_s3_aws_keeps_the_default_addressing(aws_env: None) -> None:
    store = S3Storage(bucket="b", region="eu-central-1")
    config = _config(store)
    assert not (config.s3 or {}).get("addressing_style")
    assert config.request_checksum_calculation == "when_supported"
    assert store.client.meta.region_name == "eu-central-1"


def _url_of(store: S3Storage, key: str) -> str:
    """Where a GET of ``key`` would go (signed offline: nothing is sent)."""
    params = {"Bucket": store.bucket, "Key": key}
    url: str = store.client.generate_presigned_url("get_object", Params=params)
    return url.split("?")[0]


def test_s3_addressing_style_can_be_chosen(aws_env: None) -> None:
    store = S3Storage(bucket="photos", endpoint_url="https://s3.example.test")
    assert _url_of(store, "k") == "https://s3.example.test/photos/k"
    store = S3Storage(
        bucket="photos", endpoint_url="https://s3.example.test", addressing_style="virtual"
    )
    assert _config(store).s3 == {"addressing_style": "virtual"}
    assert _url_of(store, "k") == "https://photos.s3.example.test/k"


def test_s3_addressing_style_from_the_aws_profile(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_file = tmp_path / "aws-config"
    config_file.write_text("[default]\ns3 =\n    addressing_style = virtual\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    store = S3Storage(bucket="photos", endpoint_url="https://oss.example.test")
    assert _config(store).s3 == {"addressing_style": "virtual"}  # not forced to path
    assert _url_of(store, "k") == "https://photos.oss.example.test/k"


# --- storage_from_settings -------------------------------------------------------------


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": SECRET, **env})


def test_settings_pick_local_by_default(tmp_path: Path) -> None:
    store = storage_from_settings(_settings(tmp_path))
    assert isinstance(store, LocalStorage)
    assert store.root == tmp_path / "media"
    store = storage_from_settings(_settings(tmp_path, MEDIA_ROOT=str(tmp_path / "elsewhere")))
    assert isinstance(store, LocalStorage)
    assert store.root == tmp_path / "elsewhere"


def test_settings_pick_memory(tmp_path: Path) -> None:
    assert isinstance(
        storage_from_settings(_settings(tmp_path, MEDIA_STORAGE="memory")), MemoryStorage
    )


def test_settings_pick_s3(tmp_path: Path, aws_env: None, moto_endpoint: str, bucket: str) -> None:
    settings = _settings(
        tmp_path,
        MEDIA_STORAGE="s3",
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=moto_endpoint,
        S3_REGION="eu-west-1",
    )
    store = storage_from_settings(settings)
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.endpoint_url, store.region) == (bucket, moto_endpoint, "eu-west-1")
    assert store.put("blobs/ab/x", io.BytesIO(b"through settings")) == 16
    assert read_all(store, "blobs/ab/x") == b"through settings"


def test_settings_s3_defaults_to_aws(tmp_path: Path) -> None:
    store = storage_from_settings(_settings(tmp_path, MEDIA_STORAGE="s3", S3_BUCKET="photos"))
    assert isinstance(store, S3Storage)
    assert (store.endpoint_url, store.region) == (None, "us-east-1")


def test_settings_s3_without_bucket_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        _settings(tmp_path, MEDIA_STORAGE="s3")


def test_settings_unknown_storage_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MEDIA_STORAGE"):
        _settings(tmp_path, MEDIA_STORAGE="ftp")
