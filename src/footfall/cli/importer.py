"""`footfall import access-log`: web server access logs into the event queue, once or following."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from footfall.importer import (
    FORMATS,
    Counts,
    ImportSpec,
    LogImporter,
    OffsetBook,
    Shards,
    parser_for,
    start_worker,
)
from footfall.meta.db import make_engine
from footfall.meta.migrate import ensure_current
from footfall.queue import SpoolLockedError, open_queue
from footfall.settings import Settings, url_scheme

OFFSETS_FOLDER = "import-offsets"


def _shards(settings: Settings) -> Shards:
    """How the queue shards visitors, so that each append goes to one shard."""
    if url_scheme(settings.queue_url) in {"redis", "rediss"}:
        from footfall.queue.redis import RedisQueueConfig

        return Shards(RedisQueueConfig.from_url(settings.queue_url).shards)
    return Shards(1)


def _summary(counts: Counts, seconds: float) -> str:
    rate = counts.lines / seconds if seconds > 0 else 0.0
    return (
        f"{counts.lines} lines in {seconds:.1f} s ({rate:,.0f} lines/s): "
        f"{counts.pageviews} pageviews, {counts.clicks} clicks, {counts.opens} opens queued; "
        f"skipped {counts.assets} assets, {counts.bots} bots, {counts.errors} errors, "
        f"{counts.excluded} excluded, {counts.other} other, {counts.malformed} malformed"
    )


@contextmanager
def open_importer(
    settings: Settings,
    site: str,
    log_format: str = "combined",
    scheme: str = "https",
    jobs: int = 1,
) -> Iterator[LogImporter]:
    """An importer for `site` appending to the settings' queue; closes the queue on exit.

    With `jobs` > 1, batch imports convert lines in that many worker processes.
    """
    parser_for(log_format)  # an unknown format fails before anything is opened
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}: at least 1")
    settings = settings.with_secret()
    spec = ImportSpec(settings, site, log_format, scheme, _shards(settings))
    engine = make_engine(settings.database_url)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        ensure_current(engine)
        blocks = spec.block_converter(engine)
        try:
            producer, consumer = open_queue(settings)
        except SpoolLockedError as exc:
            raise ValueError(
                f"{exc}: stop `footfall serve` first, or import into a shared (redis://) queue"
            ) from exc
        # Both, as the embedded server does: for the spool they are one object.
        stack.callback(consumer.close)
        stack.callback(producer.close)
        pool = None
        if jobs > 1:
            # Spawned, not forked: this process runs threads (site and link directories).
            pool = stack.enter_context(
                ProcessPoolExecutor(
                    jobs,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_worker,
                    initargs=(spec,),
                )
            )
        offsets = OffsetBook(settings.data_dir / OFFSETS_FOLDER)
        yield LogImporter(blocks, producer, offsets, pool=pool, jobs=jobs)


def access_log(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Access log files.", dir_okay=False)],
    site: Annotated[str, typer.Option(help="The site the logged pages belong to.")],
    log_format: Annotated[
        str, typer.Option("--format", help=f"Log format: {' or '.join(FORMATS)}.")
    ] = "combined",
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep reading as lines arrive, across rotation.")
    ] = False,
    scheme: Annotated[str, typer.Option(help="Scheme of the site's page URLs.")] = "https",
    poll: Annotated[float, typer.Option(help="Seconds between checks in --follow mode.")] = 0.5,
    jobs: Annotated[
        int, typer.Option(help="Processes converting lines in batch mode (large logs).")
    ] = 1,
) -> None:
    """Import pageviews, link clicks and e-mail opens from web server access logs."""
    settings: Settings = ctx.obj.settings if ctx.obj is not None else Settings.load()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with open_importer(settings, site, log_format, scheme, 1 if follow else jobs) as importer:
        started = time.perf_counter()
        if follow:
            _follow(importer, files, poll)
        else:
            _batch(importer, files)
        elapsed = time.perf_counter() - started
    Console(stderr=True, highlight=False, soft_wrap=True).print(_summary(importer.counts, elapsed))


def _batch(importer: LogImporter, files: list[Path]) -> None:
    """Every file from its offset to its end, with a progress bar in bytes."""
    total = sum(importer.pending_bytes(path) for path in files)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("importing", total=total)
        for path in files:
            progress.update(task, description=path.name)
            importer.import_file(path, lambda done: progress.advance(task, done))


def _follow(importer: LogImporter, files: list[Path], poll: float) -> None:
    """Tail until SIGINT or SIGTERM; offsets are saved as lines are queued."""

    def stop(signum: int, frame: FrameType | None) -> None:
        importer.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        importer.follow(files, poll_s=poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
