"""Reading log files into the queue: batch import from the saved offset, and `--follow`.

Lines are read in large chunks, converted, grouped by queue shard and appended with one call per
shard; the offset is saved once the queue took them, so a restart neither loses nor repeats a
line. Following survives both rotation styles: rename + new file (the old file is drained for a
grace period while the server still writes to it) and copytruncate (a file shorter than the
position read starts over from its beginning).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from footfall.importer.blocks import BlockConverter, Groups
from footfall.importer.build import convert_in_worker
from footfall.importer.offsets import Offset, OffsetBook
from footfall.importer.records import Counts
from footfall.queue.base import Producer, QueueError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
QUEUE_RETRY_S = 1.0


class LogImporter:
    """Imports log files for one site into `producer`, keeping offsets in `offsets`.

    With `pool` (a process pool started with `build.start_worker`), blocks are converted in
    the pool's processes, up to two per process in flight, and queued in log order.
    """

    def __init__(
        self,
        blocks: BlockConverter,
        producer: Producer,
        offsets: OffsetBook,
        *,
        pool: Executor | None = None,
        jobs: int = 1,
        chunk_bytes: int = CHUNK_BYTES,
        rotation_grace_s: float = 5.0,
    ) -> None:
        self._blocks = blocks
        self._producer = producer
        self._offsets = offsets
        self._pool = pool
        self.in_flight = 2 * jobs if pool is not None else 1
        self.chunk_bytes = chunk_bytes
        self.rotation_grace_s = rotation_grace_s
        self._stop = threading.Event()
        self.counts = Counts()
        self.rotations = 0
        self.truncations = 0

    def pending_bytes(self, path: Path) -> int:
        """Bytes of `path` after its saved offset (the batch progress bar's total)."""
        stat = os.stat(path)
        return stat.st_size - self._offsets.start(path, stat.st_dev, stat.st_ino, stat.st_size)

    def import_file(self, path: Path, progress: Callable[[int], None] | None = None) -> Counts:
        """Queue every complete line after the saved offset; a last unfinished line waits.

        Returns the counts of this file (`counts` holds the running totals).
        """
        tail = _Tail(path, self)
        if not tail.open():
            raise FileNotFoundError(f"{path}: no such file")
        before = self.counts
        self.counts = Counts()
        try:
            tail.drain(progress)
        finally:
            tail.close()
            done, self.counts = self.counts, before
            self.counts.add(done)
        return done

    def follow(self, paths: Sequence[Path], poll_s: float = 0.25) -> None:
        """Tail `paths` until `stop()`, following rotation; files may appear later."""
        tails = [_Tail(path, self) for path in paths]
        try:
            while not self._stop.is_set():
                moved = False
                for tail in tails:
                    moved = tail.poll() or moved
                if not moved:
                    self._stop.wait(poll_s)
        finally:
            for tail in tails:
                tail.close()

    def stop(self) -> None:
        """Ask `follow` (and a waiting queue retry) to return."""
        self._stop.set()

    def submit(self, block: bytes) -> Future[tuple[Counts, Groups]]:
        """Start converting `block` (complete lines), in the pool when there is one."""
        if self._pool is not None:
            return self._pool.submit(convert_in_worker, block)
        done: Future[tuple[Counts, Groups]] = Future()
        done.set_result(self._blocks.convert(block))
        return done

    def queue(self, converted: Future[tuple[Counts, Groups]]) -> None:
        """Wait for a converted block and append its records, counting its lines."""
        counts, groups = converted.result()
        self._append(groups)
        self.counts.add(counts)

    def consume(self, data: bytes, final: bool) -> int:
        """Queue the complete lines at the start of `data` now; returns the bytes they took.

        With `final`, a last line without its newline counts too (its file will not grow).
        """
        end = len(data) if final else data.rfind(b"\n") + 1
        if end > 0:
            self.queue(self.submit(data[:end]))
        return max(end, 0)

    def _append(self, groups: Groups) -> None:
        """Append each shard's records, waiting while the queue refuses (never dropping)."""
        waiting = list(groups.values())
        while waiting:
            key, records = waiting[0]
            try:
                self._producer.append(records, shard_key=key)
            except QueueError as exc:
                log.warning("queue refused %d lines, retrying: %s", len(records), exc)
                if self._stop.wait(QUEUE_RETRY_S):
                    raise
                continue
            waiting.pop(0)

    def save(self, path: Path, offset: Offset) -> None:
        """Record how far `path` was queued."""
        self._offsets.save(path, offset)

    def start_of(self, path: Path, device: int, inode: int, size: int) -> int:
        """Where a reader of this incarnation of `path` begins."""
        return self._offsets.start(path, device, inode, size)


@dataclass
class _Retired:
    """A file renamed away, drained until `deadline` while its server may still write to it."""

    handle: BinaryIO
    deadline: float
    pending: bytes


class _Tail:
    """One path being read: the open file, its identity and the position queued so far."""

    def __init__(self, path: Path, importer: LogImporter) -> None:
        self.path = path
        self._importer = importer
        self._file: BinaryIO | None = None
        # Queued up to _position; converted or converting up to _read_to.
        self._device = self._inode = self._position = self._read_to = 0
        self._pending = b""
        self._retired: list[_Retired] = []

    def open(self, from_start: bool = False) -> bool:
        """Open the path's current file at its saved offset (or at 0); False when absent."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open across polls
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        self._device, self._inode = stat.st_dev, stat.st_ino
        self._position = (
            0
            if from_start
            else self._importer.start_of(self.path, stat.st_dev, stat.st_ino, stat.st_size)
        )
        handle.seek(self._position)
        self._read_to = self._position
        self._file, self._pending = handle, b""
        return True

    def drain(self, progress: Callable[[int], None] | None = None) -> bool:
        """Queue what the open file holds up to its end; True when anything was read.

        Blocks are converted ahead (`in_flight` at most) and queued in order; the offset saved
        after each is the end of the last line queued.
        """
        handle, moved = self._file, False
        in_flight: deque[tuple[Future[tuple[Counts, Groups]], int]] = deque()
        try:
            while handle is not None:
                chunk = handle.read(self._importer.chunk_bytes)
                if not chunk:
                    break
                moved = True
                data = self._pending + chunk
                end = data.rfind(b"\n") + 1
                self._pending = data[end:]
                if end:
                    self._read_to += end
                    in_flight.append((self._importer.submit(data[:end]), self._read_to))
                while len(in_flight) >= self._importer.in_flight:
                    self._queue(in_flight.popleft())
                if progress is not None:
                    progress(len(chunk))
            while in_flight:
                self._queue(in_flight.popleft())
        finally:
            for converted, _ in in_flight:
                converted.cancel()
        return moved

    def _queue(self, item: tuple[Future[tuple[Counts, Groups]], int]) -> None:
        converted, position = item
        self._importer.queue(converted)
        self._position = position
        self._importer.save(self.path, Offset(self._device, self._inode, position))

    def poll(self) -> bool:
        """Read what arrived and notice rotation; True when there was something to read."""
        moved = self._drain_retired()
        if self._file is None and not self.open():
            return moved
        moved = self.drain() or moved
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return moved  # renamed away, the new file not created yet: keep reading the old
        if (stat.st_dev, stat.st_ino) != (self._device, self._inode):
            assert self._file is not None
            grace = time.monotonic() + self._importer.rotation_grace_s
            self._retired.append(_Retired(self._file, grace, self._pending))
            self._file = None
            self._importer.rotations += 1
            self.open(from_start=True)
            return True
        if stat.st_size < self._read_to + len(self._pending):
            # Copied and truncated: the file starts over.
            assert self._file is not None
            self._file.seek(0)
            self._position = self._read_to = 0
            self._pending = b""
            self._importer.truncations += 1
            return True
        return moved

    def _drain_retired(self) -> bool:
        moved = False
        for old in list(self._retired):
            expired = time.monotonic() >= old.deadline
            arrived = old.handle.read()
            moved = moved or bool(arrived)
            data = old.pending + arrived
            if data:
                old.pending = data[self._importer.consume(data, final=expired) :]
            if expired:
                old.handle.close()
                self._retired.remove(old)
        return moved

    def close(self) -> None:
        """Close the files; anything not yet queued is read again by the next run."""
        if self._file is not None:
            self._file.close()
            self._file = None
        for old in self._retired:
            old.handle.close()
        self._retired.clear()
