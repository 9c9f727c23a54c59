"""Photo bytes in an S3 bucket: Amazon S3 or an S3-compatible store (MinIO, Aliyun OSS).

:class:`S3Storage` owns one bucket's objects under the keys described in
:mod:`media.storage` and nothing else: it never creates, configures or deletes the bucket
(provisioning is the operator's job) and it never chooses credentials — those come from the
standard AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and the
shared config files, web identity, container or instance roles).

Nothing touches the network until the first operation: the client is made on first use,
because the app factory must do no I/O. It is then shared by every thread (boto3 clients are
thread-safe; sessions are not, so each store has a session of its own).

Why path-style addressing when ``endpoint_url`` is given: a self-hosted store (MinIO, moto,
Ceph) is usually reached by an IP address, ``localhost`` or a single host name, where a
bucket cannot be a DNS sub-domain (``bucket.127.0.0.1`` resolves nowhere, and a TLS
certificate rarely covers ``*.host``). Path style (``https://host/bucket/key``) always
works there. Amazon S3 itself (no ``endpoint_url``) keeps botocore's default, virtual-hosted
style, which AWS requires for new buckets. Some providers refuse path style — Aliyun OSS
accepts only virtual-hosted requests — so an explicit ``addressing_style`` argument, or
``s3 = addressing_style = virtual`` in the AWS config profile, wins over this default.

With an ``endpoint_url`` the request checksums that botocore ≥ 1.36 adds by default (CRC
trailers sent with ``aws-chunked`` encoding) are only sent when an operation requires them:
many S3-compatible stores reject them (``InvalidArgument``, ``NotImplemented``).

A missing object is :class:`FileNotFoundError`; any other failure (access denied, a missing
bucket on ``open``, the store unreachable after retries) is botocore's or boto3's own
exception. HeadObject answers a bare 404 with no error code, so ``exists`` and ``size``
cannot tell a missing bucket from a missing object. For a missing object to be a 404 rather
than "403 Forbidden", the credentials need ``s3:ListBucket`` on the bucket as well as the
object permissions.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import boto3
import botocore.session
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from media.storage import CHUNK, _safe

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

AddressingStyle = Literal["auto", "path", "virtual"]

# What S3 answers for an absent object: GetObject says NoSuchKey; HeadObject has no body,
# so only its status is left. NoSuchBucket is deliberately not here: a misconfigured bucket
# must fail loudly, not look like an empty store.
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})

# Objects of this size and above go up in parts of PART_SIZE, up to CONCURRENCY at a time.
MULTIPART_THRESHOLD = 8 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
CONCURRENCY = 4


def _is_missing(exc: ClientError) -> bool:
    response: Mapping[str, Any] = exc.response
    error: Mapping[str, Any] = response.get("Error") or {}
    return str(error.get("Code", "")) in _MISSING


class _FullReads(io.RawIOBase):
    """A source stream, read-only and unseekable, whose ``read(n)`` returns ``n`` bytes
    unless the stream ends first, counting what it hands out.

    boto3 takes a short read of an unseekable stream for a short body: a stream that
    returns at most 64 KiB per read (a socket, a WSGI input) would be stored in one
    PutObject held whole in memory, or in multipart parts below S3's 5 MiB minimum. Being
    unseekable, every byte is read exactly once (boto3 buffers each part for its retries),
    so the count is the stored size.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            pieces = []
            while piece := self._source.read(CHUNK):
                pieces.append(piece)
            data = b"".join(pieces)
        else:
            buffer = bytearray()
            while len(buffer) < size:
                piece = self._source.read(size - len(buffer))
                if not piece:
                    break
                buffer += piece
            data = bytes(buffer)
        self.count += len(data)
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Body(io.RawIOBase):
    """botocore's ``StreamingBody`` as a raw stream, to be buffered into a real file object."""

    def __init__(self, body: Any) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data: bytes = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()  # gives the connection back (or drops it if unread)
        super().close()


class S3Storage:
    """One bucket of an S3 or S3-compatible store (see the module's documentation)."""

    name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        addressing_style: AddressingStyle | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 60,
        max_attempts: int = 5,
    ) -> None:
        if not bucket:
            raise ValueError("S3Storage needs a bucket")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.addressing_style = addressing_style
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self._client: Any = None
        self._lock = threading.Lock()
        self._transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=PART_SIZE,
            max_concurrency=CONCURRENCY,
            preferred_transfer_client="classic",
        )

    def __repr__(self) -> str:
        where = self.endpoint_url or "aws"
        return f"S3Storage(bucket={self.bucket!r}, endpoint={where!r}, region={self.region!r})"

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use (credentials are resolved then)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        core = botocore.session.Session()
        profile_s3: Mapping[str, Any] = core.get_config_variable("s3") or {}
        s3: dict[str, Any] = {}
        if self.addressing_style is not None:
            s3["addressing_style"] = self.addressing_style
        elif self.endpoint_url and "addressing_style" not in profile_s3:
            s3["addressing_style"] = "path"
        options: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            # "standard": exponential back-off with jitter on throttling, 5xx and
            # connection errors; attempts counts the first try as well.
            "retries": {"mode": "standard", "total_max_attempts": self.max_attempts},
            "max_pool_connections": max(10, CONCURRENCY * 2),
            "s3": s3 or None,
        }
        if self.endpoint_url:
            options["request_checksum_calculation"] = "when_required"
            options["response_checksum_validation"] = "when_required"
        session = boto3.session.Session(botocore_session=core, region_name=self.region)
        return session.client("s3", endpoint_url=self.endpoint_url, config=Config(**options))

    def put(self, key: str, data: BinaryIO) -> int:
        key = _safe(key)
        source = _FullReads(data)
        self.client.upload_fileobj(source, self.bucket, key, Config=self._transfer)
        return source.count

    def open(self, key: str) -> BinaryIO:
        key = _safe(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(key) from exc
            raise
        return io.BufferedReader(_Body(response["Body"]), CHUNK)

    def _head(self, key: str) -> Mapping[str, Any]:
        try:
            head: Mapping[str, Any] = self.client.head_object(Bucket=self.bucket, Key=_safe(key))
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(key) from exc
            raise
        return head

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def delete(self, key: str) -> None:
        key = _safe(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if not _is_missing(exc):  # S3 says 204 either way; some look-alikes say 404
                raise

    def keys(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        found: list[str] = [item["Key"] for page in pages for item in page.get("Contents", ())]
        yield from sorted(found)
