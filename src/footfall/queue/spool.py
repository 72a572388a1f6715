"""The spool: the embedded queue, framed records in append-only segment files in the data dir.

Layout: `<folder>/<sequence>.seg` files, each a run of frames `length (u32 LE) | CRC32 (u32 LE) |
payload`. The newest segment is the one being appended to; every run of the process starts a new
one, so a tail torn by a crash is never appended to and is skipped on read (the CRC or the
length gives it away). A position is `"<sequence>:<offset>"`, the byte just after a record.

Durability: `append` hands all its frames to the kernel in one `os.write` before returning, so a
killed process loses nothing it acknowledged; `fsync` happens on segment rotation and every
`fsync_interval` seconds (0: before every `append` returns), which bounds what a power cut loses.
One process owns a spool folder (an exclusive `flock` on `<folder>/lock`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

from footfall.metrics import QUEUE_BYTES
from footfall.queue.base import Batch, QueueFull, QueueUnavailable, ShardKey

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SUFFIX = ".seg"
_MAX_RECORD_BYTES = 64 << 20  # a larger length can only be a damaged header
_READ_CHUNK_BYTES = 1 << 20
# batch_id = sequence << 40 | offset: deterministic for a batch starting at the same record
_OFFSET_BITS = 40


class SpoolLockedError(RuntimeError):
    """Another process holds the spool folder."""


def parse_position(position: str) -> tuple[int, int]:
    """Split a spool position `"<sequence>:<offset>"`; raises ValueError when malformed."""
    sequence, sep, offset = position.partition(":")
    if not sep or not sequence.isdigit() or not offset.isdigit():
        raise ValueError(f"not a spool position: {position!r} (expected '<segment>:<offset>')")
    return int(sequence), int(offset)


def frame(record: bytes) -> bytes:
    """One record as stored in a segment: length, CRC32, payload."""
    if len(record) > _MAX_RECORD_BYTES:
        raise ValueError(f"a queue record holds at most {_MAX_RECORD_BYTES} bytes")
    return _HEADER.pack(len(record), zlib.crc32(record)) + record


class Spool:
    """Producer and consumer of one spool folder (embedded mode: collector and writer share it).

    Any number of threads may `append`; one thread at a time consumes (`seek`, `fetch`, `ack`,
    `retire`).
    """

    def __init__(
        self,
        folder: Path,
        *,
        segment_bytes: int = 16 << 20,
        max_bytes: int = 1 << 30,
        fsync_interval: float = 1.0,
    ) -> None:
        self._folder = Path(folder)
        self._segment_bytes = max(1, segment_bytes)
        self._max_bytes = max_bytes
        self._fsync_interval = fsync_interval
        self._folder.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_folder(self._folder)

        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._fsync_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._closed = False
        self._dirty = False

        # Sizes of the segments held, sealed ones and the active one (guarded by _lock).
        self._sizes: dict[int, int] = {}
        try:
            found = _list_segments(self._folder)
            # Sequences only grow, even past deleted empty segments: a stored position never
            # points into a segment that was reused.
            self._active = max((sequence for sequence, _ in found), default=0) + 1
            self._active_fd = self._create_segment(self._active)
            for sequence, path in found:
                size = path.stat().st_size
                if size:
                    self._sizes[sequence] = size
                else:
                    path.unlink()  # an earlier run that queued nothing
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._sizes[self._active] = 0
        self._held = sum(self._sizes.values())
        QUEUE_BYTES.set(self._held)

        # Consumer cursor (guarded by _read_lock).
        self._cursor = (min(self._sizes), 0)
        self._read_fd: tuple[int, int] | None = None  # (sequence, fd)

        self._stop_timer = threading.Event()
        self._timer: threading.Thread | None = None
        if fsync_interval > 0:
            self._timer = threading.Thread(
                target=self._fsync_periodically, name="footfall-spool-fsync", daemon=True
            )
            self._timer.start()

    # -- producer ------------------------------------------------------------------------------

    def append(self, records: Sequence[bytes], shard_key: ShardKey = 0) -> None:
        """Write `records` to the active segment in one `os.write`; see the module docstring.

        `shard_key` is accepted for the Producer protocol; a spool has a single shard.
        Raises QueueFull past `max_bytes`, QueueUnavailable when the disk refuses the write and
        ValueError for a record over 64 MiB.
        """
        if not records:
            return
        data = frame(records[0]) if len(records) == 1 else b"".join(map(frame, records))
        sealed_fd: int | None = None
        with self._lock:
            if self._closed:
                raise QueueUnavailable("the spool is closed")
            if self._held + len(data) > self._max_bytes:
                raise QueueFull(
                    f"spool {self._folder} holds {self._held} bytes "
                    f"(FOOTFALL_SPOOL_MAX_BYTES={self._max_bytes})"
                )
            self._write_locked(data)
            if self._fsync_interval <= 0:
                os.fsync(self._active_fd)
            else:
                self._dirty = True
            if self._sizes[self._active] >= self._segment_bytes:
                sealed_fd = self._rotate_locked()
            QUEUE_BYTES.set(self._held)
            self._arrived.notify_all()
        if sealed_fd is not None:
            self._seal(sealed_fd)

    def depth_bytes(self) -> int:
        """Bytes held in segments not yet retired."""
        with self._lock:
            return self._held

    def _write_locked(self, data: bytes) -> None:
        size = self._sizes[self._active]
        try:
            written = os.write(self._active_fd, data)
        except OSError as exc:
            self._undo_partial_write(size)
            raise QueueUnavailable(f"spool write failed: {exc}") from exc
        if written != len(data):
            # A partial frame would hide every later record of this segment from the reader.
            self._undo_partial_write(size)
            raise QueueUnavailable(f"spool write was cut short ({written}/{len(data)} bytes)")
        self._sizes[self._active] = size + written
        self._held += written

    def _undo_partial_write(self, size: int) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self._active_fd, size)

    def _rotate_locked(self) -> int:
        """Start the next segment; returns the previous one's fd for `_seal` outside the lock."""
        sealed_fd = self._active_fd
        self._active += 1
        self._active_fd = self._create_segment(self._active)
        self._sizes[self._active] = 0
        self._dirty = False
        return sealed_fd

    def _seal(self, fd: int) -> None:
        # Under _fsync_lock so the timer thread never fsyncs an fd closed underneath it.
        with self._fsync_lock:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _create_segment(self, sequence: int) -> int:
        path = self._folder / _segment_name(sequence)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        _fsync_folder(self._folder)
        return fd

    def _fsync_periodically(self) -> None:
        while not self._stop_timer.wait(self._fsync_interval):
            self.sync()

    def sync(self) -> None:
        """fsync the active segment if anything was written since the last fsync."""
        with self._fsync_lock:
            if not self._dirty or self._closed:
                return
            self._dirty = False  # before fsync: a write racing with it marks the spool again
            try:
                os.fsync(self._active_fd)
            except OSError:
                self._dirty = True
                log.exception("spool fsync failed; will retry")

    # -- consumer ------------------------------------------------------------------------------

    def seek(self, position: str | None) -> None:
        """Resume reading after `position`; None or a position unknown here: the oldest record."""
        with self._read_lock, self._lock:
            oldest = min(self._sizes)
            if position is None:
                self._cursor = (oldest, 0)
                return
            sequence, offset = parse_position(position)
            if sequence > self._active or (
                sequence == self._active and offset > self._sizes[sequence]
            ):
                log.warning(
                    "stored queue position %s is ahead of spool %s (was the folder replaced?); "
                    "reading every record it holds",
                    position,
                    self._folder,
                )
                self._cursor = (oldest, 0)
            elif sequence not in self._sizes:
                self._cursor = (min(s for s in self._sizes if s > sequence), 0)
            else:
                self._cursor = (sequence, offset)

    def fetch(self, max_records: int, timeout: float) -> Batch | None:
        """Up to `max_records` records after the cursor, waiting up to `timeout` for the first."""
        deadline = time.monotonic() + timeout
        with self._read_lock:
            while True:
                if self._closed:
                    return None
                start = self._cursor
                records = self._read(max(1, max_records))
                if records:
                    sequence, offset = self._cursor
                    return Batch(
                        records=records,
                        position=f"{sequence}:{offset}",
                        batch_id=(start[0] << _OFFSET_BITS) | start[1],
                    )
                # An empty read leaves the cursor at the end of the active segment.
                with self._lock:
                    if self._cursor[1] < self._sizes[self._active]:
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._arrived.wait(remaining)

    def ack(self, batch: Batch) -> None:
        """Nothing to do: the cursor moved at `fetch`, and the store records the position."""

    def retire(self, position: str) -> None:
        """Delete the segments wholly before `position`'s segment (stored and checkpointed)."""
        sequence, _ = parse_position(position)
        with self._read_lock:
            with self._lock:
                doomed = [s for s in self._sizes if s < sequence and s != self._active]
                for doomed_sequence in doomed:
                    self._held -= self._sizes.pop(doomed_sequence)
                QUEUE_BYTES.set(self._held)
            if self._read_fd is not None and self._read_fd[0] in doomed:
                os.close(self._read_fd[1])
                self._read_fd = None
        for doomed_sequence in doomed:
            (self._folder / _segment_name(doomed_sequence)).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the fsync timer, make everything durable and release the folder."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._arrived.notify_all()
        self._stop_timer.set()
        if self._timer is not None:
            self._timer.join()
        self._seal(self._active_fd)
        with self._read_lock:
            if self._read_fd is not None:
                os.close(self._read_fd[1])
                self._read_fd = None
        os.close(self._lock_fd)

    def _limit(self, sequence: int) -> tuple[int, int | None]:
        """Readable bytes of `sequence`, and the next held segment (None: it is the active one)."""
        with self._lock:
            size = self._sizes.get(sequence, 0)
            if sequence == self._active:
                return size, None
            return size, min(s for s in self._sizes if s > sequence)

    def _read(self, max_records: int) -> list[bytes]:
        records: list[bytes] = []
        sequence, offset = self._cursor
        want = _READ_CHUNK_BYTES
        while len(records) < max_records:
            limit, following = self._limit(sequence)
            if offset >= limit:
                if following is None:
                    break
                sequence, offset, want = following, 0, _READ_CHUNK_BYTES
                continue
            data = os.pread(self._reader(sequence), min(limit - offset, want), offset)
            consumed, needed, damaged = _parse(data, records, max_records)
            offset += consumed
            if damaged or (needed and offset + needed > limit) or not data:
                # Only a crash or a damaged disk leaves such bytes; later segments are intact.
                log.warning(
                    "spool segment %s: %d unreadable bytes from offset %d skipped",
                    _segment_name(sequence),
                    limit - offset,
                    offset,
                )
                offset = limit
            want = max(_READ_CHUNK_BYTES, needed)
        self._cursor = (sequence, offset)
        return records

    def _reader(self, sequence: int) -> int:
        if self._read_fd is not None:
            if self._read_fd[0] == sequence:
                return self._read_fd[1]
            os.close(self._read_fd[1])
        fd = os.open(self._folder / _segment_name(sequence), os.O_RDONLY)
        self._read_fd = (sequence, fd)
        return fd


def _parse(data: bytes, records: list[bytes], max_records: int) -> tuple[int, int, bool]:
    """Append whole, intact frames of `data` to `records`.

    Returns (bytes consumed, bytes the next frame needs if `data` ends inside it, damaged).
    """
    position = 0
    end = len(data)
    header_size = _HEADER.size
    while len(records) < max_records:
        if position + header_size > end:
            return position, (header_size if position < end else 0), False
        length, checksum = _HEADER.unpack_from(data, position)
        if length > _MAX_RECORD_BYTES:
            return position, 0, True
        stop = position + header_size + length
        if stop > end:
            return position, header_size + length, False
        payload = data[position + header_size : stop]
        if zlib.crc32(payload) != checksum:
            return position, 0, True
        records.append(payload)
        position = stop
    return position, 0, False


def _segment_name(sequence: int) -> str:
    return f"{sequence:016d}{_SUFFIX}"


def _list_segments(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in folder.iterdir():
        stem = path.name.removesuffix(_SUFFIX)
        if path.name.endswith(_SUFFIX) and stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)


def _lock_folder(folder: Path) -> int:
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            raise SpoolLockedError(
                f"spool folder {folder} is in use by another Footfall process; stop it first "
                "(one process owns an embedded spool)"
            ) from exc
        raise
    return fd


def _fsync_folder(folder: Path) -> None:
    # A new segment's directory entry must survive a power cut along with its contents.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
