"""Where photo bytes live, behind one small interface: local disk, S3, or memory (tests).

Keys are paths such as ``blobs/ab/<sha256>`` (originals, content-addressed: the same bytes
are stored once), ``derived/<sha256>/thumb.jpg`` and ``parts/<upload id>/<offset>`` (the
chunks of an unfinished tus upload — kept in the store itself, so any server process
can take the next chunk). Every media row records the backend's name beside its key.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from backend.config import Settings

CHUNK = 1024 * 1024


class Storage(Protocol):
    name: str

    def put(self, key: str, data: BinaryIO) -> int:
        """Store ``data`` (read to its end) at ``key``, replacing it; return its size."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, for reading; ``FileNotFoundError`` when absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is absent."""
        ...

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key that starts with ``prefix``, sorted."""
        ...


def _safe(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in {"", ".", ".."} for p in parts):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    """Files under a root folder; writes go to a temporary file renamed into place."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _safe(key)

    def put(self, key: str, data: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(data, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            Path(tmp).replace(path)  # atomic: a reader sees the old file or the new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def _file(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():  # a folder ("blobs/ab") is not a key
            raise FileNotFoundError(key)
        return path

    def open(self, key: str) -> BinaryIO:
        return self._file(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._file(key).stat().st_size

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> Iterator[str]:
        # Walk only the folder the prefix names, not the whole (ever-growing) store.
        folder = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return
        found = (
            p.relative_to(self.root).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".incoming-")
        )
        yield from sorted(k for k in found if k.startswith(prefix))


class MemoryStorage:
    """A dict, for tests and demos; shared between threads of one process."""

    name = "memory"

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: BinaryIO) -> int:
        content = data.read()
        with self._lock:
            self._blobs[_safe(key)] = content
        return len(content)

    def open(self, key: str) -> BinaryIO:
        with self._lock:
            if _safe(key) not in self._blobs:
                raise FileNotFoundError(key)
            return io.BytesIO(self._blobs[key])

    def exists(self, key: str) -> bool:
        with self._lock:
            return _safe(key) in self._blobs

    def size(self, key: str) -> int:
        with self._lock:
            if _safe(key) not in self._blobs:
                raise FileNotFoundError(key)
            return len(self._blobs[key])

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(_safe(key), None)

    def keys(self, prefix: str) -> Iterator[str]:
        with self._lock:
            found = sorted(k for k in self._blobs if k.startswith(prefix))
        yield from found


def storage_from_settings(settings: Settings) -> Storage:
    if settings.media_storage == "memory":
        return MemoryStorage()
    if settings.media_storage == "s3":
        from media.s3 import S3Storage

        return S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )
    return LocalStorage(settings.media_root)
