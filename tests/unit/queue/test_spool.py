"""The spool queue: framing, torn tails, rotation, retirement, resume, bounds and concurrency."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from footfall.queue import QueueFull, QueueUnavailable, Spool, SpoolLockedError, open_queue
from footfall.queue.spool import frame, parse_position
from footfall.settings import Settings


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def spool(folder: Path) -> Iterator[Spool]:
    queue = Spool(folder)
    yield queue
    queue.close()


def drain(spool: Spool, max_records: int = 1000) -> list[bytes]:
    """Every record readable now, in order."""
    records: list[bytes] = []
    while (batch := spool.fetch(max_records, 0)) is not None:
        records.extend(batch.records)
    return records


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.seg"))


def test_round_trip_in_order_with_positions(spool: Spool) -> None:
    spool.append([b"one"])
    spool.append([b"two", b"three", b""])
    first = spool.fetch(2, 0)
    assert first is not None
    assert first.records == [b"one", b"two"]
    rest = spool.fetch(100, 0)
    assert rest is not None
    assert rest.records == [b"three", b""]
    assert first.position is not None and rest.position is not None
    first_segment, first_offset = parse_position(first.position)
    rest_segment, rest_offset = parse_position(rest.position)
    assert first_segment == rest_segment
    assert first_offset == len(frame(b"one")) + len(frame(b"two"))
    assert rest_offset == first_offset + len(frame(b"three")) + len(frame(b""))
    assert first.batch_id != rest.batch_id
    assert spool.fetch(100, 0) is None


def test_fetch_wakes_when_a_record_arrives(spool: Spool) -> None:
    got: list[list[bytes]] = []

    def consume() -> None:
        batch = spool.fetch(10, 30)
        got.append(batch.records if batch else [])

    consumer = threading.Thread(target=consume)
    consumer.start()
    spool.append([b"late"])
    consumer.join(30)
    assert got == [[b"late"]]


def test_reopening_resumes_after_a_stored_position(folder: Path) -> None:
    first = Spool(folder)
    first.append([b"a", b"b"])
    first.append([b"c"])
    batch = first.fetch(2, 0)
    assert batch is not None and batch.position is not None
    first.close()

    second = Spool(folder)
    try:
        second.append([b"d"])
        second.seek(batch.position)
        assert drain(second) == [b"c", b"d"]
        second.seek(None)
        assert drain(second) == [b"a", b"b", b"c", b"d"]
    finally:
        second.close()


def test_torn_tail_is_skipped_and_later_records_still_read(folder: Path) -> None:
    first = Spool(folder)
    first.append([b"kept-1", b"kept-2"])
    first.close()
    [segment] = segments(folder)
    with segment.open("ab") as handle:
        handle.write(frame(b"torn by a crash")[:-4])

    second = Spool(folder)
    try:
        second.append([b"after restart"])
        assert drain(second) == [b"kept-1", b"kept-2", b"after restart"]
    finally:
        second.close()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data, at: data[:at] + b"\xff" * 8 + data[at + 8 :], id="huge-length"),
        pytest.param(lambda data, at: data[: at + 9] + b"X" + data[at + 10 :], id="bad-crc"),
        pytest.param(lambda data, at: data[: at + 3], id="short-header"),
    ],
)
def test_damaged_records_end_their_segment_without_crashing(
    folder: Path, damage: Callable[[bytes, int], bytes]
) -> None:
    first = Spool(folder)
    first.append([b"good-1", b"good-2", b"lost-3", b"lost-4"])
    first.close()
    [segment] = segments(folder)
    data = segment.read_bytes()
    at = len(frame(b"good-1")) + len(frame(b"good-2"))
    segment.write_bytes(damage(data, at))

    second = Spool(folder)
    try:
        second.append([b"next-run"])
        assert drain(second) == [b"good-1", b"good-2", b"next-run"]
    finally:
        second.close()


def test_rotation_spreads_records_over_segments(folder: Path) -> None:
    spool = Spool(folder, segment_bytes=100)
    try:
        records = [f"record-{index:03d}".encode() * 3 for index in range(50)]
        for record in records:
            spool.append([record])
        assert len(segments(folder)) > 10
        assert drain(spool, max_records=7) == records
    finally:
        spool.close()


def test_retire_deletes_only_whole_segments_before_the_position(folder: Path) -> None:
    spool = Spool(folder, segment_bytes=64)
    try:
        for index in range(20):
            spool.append([f"{index:02d}".encode() * 16])
        held_before = spool.depth_bytes()
        first = spool.fetch(10, 0)
        assert first is not None and first.position is not None
        spool.retire(first.position)
        retired_upto, _ = parse_position(first.position)
        remaining = [int(path.stem) for path in segments(folder)]
        assert min(remaining) == retired_upto
        assert spool.depth_bytes() < held_before
        assert spool.depth_bytes() == sum(path.stat().st_size for path in segments(folder))
        assert REGISTRY.get_sample_value("footfall_queue_bytes") == spool.depth_bytes()
        assert len(drain(spool)) == 10
    finally:
        spool.close()


def test_queue_full_refuses_without_writing_then_recovers_after_retire(folder: Path) -> None:
    record = b"x" * 100
    spool = Spool(folder, segment_bytes=len(frame(record)) * 2, max_bytes=len(frame(record)) * 4)
    try:
        for _ in range(4):
            spool.append([record])
        with pytest.raises(QueueFull):
            spool.append([record])
        assert spool.depth_bytes() == len(frame(record)) * 4
        batch = spool.fetch(4, 0)
        assert batch is not None and batch.position is not None
        spool.retire(batch.position)
        spool.append([b"fits again"])
        assert drain(spool) == [b"fits again"]
    finally:
        spool.close()


def test_concurrent_appends_lose_and_interleave_nothing(folder: Path) -> None:
    spool = Spool(folder, segment_bytes=4096)
    threads, per_thread = 8, 500

    def produce(worker: int) -> None:
        for index in range(0, per_thread, 2):
            spool.append([f"{worker}:{index}".encode(), f"{worker}:{index + 1}".encode()])

    try:
        workers = [threading.Thread(target=produce, args=(worker,)) for worker in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        records = drain(spool, max_records=333)
    finally:
        spool.close()
    assert len(records) == threads * per_thread
    for worker in range(threads):
        mine = [int(r.split(b":")[1]) for r in records if r.startswith(f"{worker}:".encode())]
        assert mine == list(range(per_thread))


def test_a_second_process_cannot_open_the_same_folder(spool: Spool, folder: Path) -> None:
    with pytest.raises(SpoolLockedError, match=str(folder)):
        Spool(folder)


def test_fsync_every_append_and_append_after_close(folder: Path) -> None:
    spool = Spool(folder, fsync_interval=0)
    spool.append([b"synced"])
    assert drain(spool) == [b"synced"]
    spool.close()
    with pytest.raises(QueueUnavailable):
        spool.append([b"too late"])


def test_position_from_another_spool_reads_everything(spool: Spool) -> None:
    spool.append([b"a"])
    spool.seek("999:12")
    assert drain(spool) == [b"a"]


def test_appended_records_survive_sigkill_right_after_append(folder: Path) -> None:
    code = (
        "import os, signal, sys\n"
        "from footfall.queue import Spool\n"
        "spool = Spool(sys.argv[1], fsync_interval=3600)\n"
        "spool.append([b'acknowledged-1', b'acknowledged-2'])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(folder)], check=False)
    assert result.returncode == -9
    spool = Spool(folder)
    try:
        assert drain(spool) == [b"acknowledged-1", b"acknowledged-2"]
    finally:
        spool.close()


def test_open_queue_picks_the_backend_by_url(tmp_path: Path) -> None:
    settings = Settings.load(environ={"FOOTFALL_DATA_DIR": str(tmp_path)})
    producer, consumer = open_queue(settings)
    try:
        assert producer is consumer
        producer.append([b"via settings"])
        batch = consumer.fetch(10, 0)
        assert batch is not None and batch.records == [b"via settings"]
        assert settings.spool_path.is_dir()
    finally:
        producer.close()
    unknown = Settings.load(
        environ={"FOOTFALL_DATA_DIR": str(tmp_path), "FOOTFALL_QUEUE_URL": "kafka://broker:9092"}
    )
    with pytest.raises(ValueError, match="kafka"):
        open_queue(unknown)


def test_empty_segments_of_earlier_runs_are_removed(folder: Path) -> None:
    for _ in range(3):
        Spool(folder).close()
    [left] = segments(folder)
    spool = Spool(folder)
    try:
        [current] = segments(folder)
        assert current != left
        assert current.stat().st_size == 0
    finally:
        spool.close()


def test_a_record_too_large_to_frame_is_refused(spool: Spool) -> None:
    with pytest.raises(ValueError, match="at most"):
        spool.append([b"ok", bytes((64 << 20) + 1)])
    assert spool.depth_bytes() == 0
