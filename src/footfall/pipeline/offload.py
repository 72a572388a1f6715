"""Enrichment in a child process, so the server's GIL stays with the collectors.

Decoding, enriching and row-building cost about as much Python time per event as answering the
request; in one process both share one interpreter lock. `EnrichmentProcess` runs them in a
spawned child that writes each batch as a Parquet file; the writer thread then has DuckDB load
the file with the lock released (`DuckDBEventStore.insert_file`), together with the queue
position, in one transaction. The child holds no durable state: its sessionizer is restored from
the store whenever it (re)starts, and a batch it did not finish is sent again.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from footfall.pipeline.steps import Enricher
from footfall.pipeline.writer import decode_records, enrich_batch
from footfall.store.duckdb import BatchFileWriter, DuckDBEventStore

log = logging.getLogger(__name__)

SessionRows = list[tuple[int, int, int, int]]

# A batch larger than this many seconds of enrichment means the child is stuck, not busy.
_BATCH_TIMEOUT_S = 300.0


class EnrichmentProcessError(RuntimeError):
    """The child process died or did not answer; the batch is retried with a fresh child."""


class EnrichmentProcess:
    """Parent side: sends raw queue records, gets back the path of an enriched batch file."""

    def __init__(
        self,
        *,
        secret_key: bytes,
        session_timeout_s: int,
        max_visitors: int,
        work_dir: Path,
        recent_sessions: Callable[[], SessionRows],
    ) -> None:
        self._options = (secret_key, session_timeout_s, max_visitors)
        self._work_dir = work_dir
        self._recent_sessions = recent_sessions  # read again whenever a new child starts
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None

    def start(self, open_sessions: SessionRows | None = None) -> None:
        """Spawn the child (a fresh interpreter: no threads or open files are inherited)."""
        shutil.rmtree(self._work_dir, ignore_errors=True)  # leftovers of a crashed run
        self._work_dir.mkdir(parents=True)
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_child_main,
            args=(child, *self._options),
            name="footfall-enrich",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        sessions = self._recent_sessions() if open_sessions is None else open_sessions
        self._call(("restore", list(sessions)))

    def enrich_to_file(self, records: Sequence[bytes], batch_id: int) -> tuple[Path, int]:
        """Enrich raw records into a batch file; returns its path and its row count."""
        path = self._work_dir / f"batch-{batch_id}.parquet"
        rows = self._call(("batch", list(records), batch_id, str(path)))
        return path, int(rows)

    def close(self) -> None:
        """Ask the child to exit; kill it if it does not."""
        if self._conn is not None:
            with contextlib.suppress(OSError, EOFError):
                self._conn.send(("stop",))
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
            self._process = None
        shutil.rmtree(self._work_dir, ignore_errors=True)

    def _call(self, message: tuple[Any, ...]) -> Any:
        if self._conn is None or self._process is None or not self._process.is_alive():
            self._restart("the enrichment process is not running")
        assert self._conn is not None
        try:
            self._conn.send(message)
            if not self._conn.poll(_BATCH_TIMEOUT_S):
                raise EnrichmentProcessError("the enrichment process did not answer")
            status, value = self._conn.recv()
        except (OSError, EOFError) as exc:
            self._discard()
            raise EnrichmentProcessError(f"the enrichment process died: {exc}") from exc
        except EnrichmentProcessError:
            self._discard()
            raise
        if status != "ok":
            raise EnrichmentProcessError(f"enrichment failed: {value}")
        return value

    def _restart(self, reason: str) -> None:
        log.warning("%s; starting a new one", reason)
        self._discard()
        self.start()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
            self._process = None


def _child_main(
    conn: multiprocessing.connection.Connection,
    secret_key: bytes,
    session_timeout_s: int,
    max_visitors: int,
) -> None:
    """Child loop: answers ("ok", value) or ("error", text) to each message until told to stop.

    It exits when the parent goes away (EOF on the pipe), so a killed server leaves no child.
    """
    enricher = Enricher(
        secret_key=secret_key, session_timeout_s=session_timeout_s, max_visitors=max_visitors
    )
    writer = BatchFileWriter()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        try:
            if message[0] == "restore":
                enricher.restore_sessions(message[1])
                conn.send(("ok", None))
            else:
                _, records, batch_id, path = message
                events = enrich_batch(enricher, decode_records(records), batch_id)
                conn.send(("ok", writer.write(events, Path(path))))
        except Exception as exc:  # reported to the parent, which retries; the child lives on
            log.exception("enrichment process: %s failed", message[0])
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class OffloadedLoader:
    """The writer's loader in the server: enrich in the child, DuckDB loads the batch file."""

    def __init__(self, store: DuckDBEventStore, process: EnrichmentProcess) -> None:
        self._store = store
        self._process = process

    def start(self, open_sessions: list[tuple[int, int, int, int]]) -> None:
        """Spawn the enrichment process, handing it the open visits."""
        self._process.start(open_sessions)

    def load(
        self, records: list[bytes], *, batch_id: int, position: str | None, dedupe: bool
    ) -> int:
        """Enrich in the child, then insert the file with the position in one transaction."""
        path, _ = self._process.enrich_to_file(records, batch_id)
        try:
            return self._store.insert_file(path, position=position, dedupe=dedupe)
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the enrichment process."""
        self._process.close()
