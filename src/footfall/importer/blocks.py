"""Converting a block of complete log lines into records grouped by queue shard.

The collector appends into `ShardBatches` (a Producer that only buffers), so that the importer
can move each shard's records to the real queue with one call. A block converts alike in the
importing process and in a worker process of a parallel import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from footfall.events import encode_raw
from footfall.importer.parse import Parser
from footfall.importer.records import Counts, LineConverter
from footfall.queue.base import ShardKey

# shard -> (a visitor hash of that shard, its records in log order)
Groups = dict[int, tuple[int, list[bytes]]]


@dataclass(frozen=True)
class Shards:
    """How the queue shards visitors (`visitor hash % count`, as the Redis queue does)."""

    count: int = 1

    def __call__(self, key: int) -> int:
        return key % self.count


class ShardBatches:
    """A Producer that buffers records by shard until `take()`."""

    def __init__(self, shards: Shards) -> None:
        self._shards = shards
        self._groups: Groups = {}

    def append(self, records: Sequence[bytes], shard_key: ShardKey = 0) -> None:
        """Buffer `records` under the shard of `shard_key` (one for all, or one per record)."""
        keys = [shard_key] * len(records) if isinstance(shard_key, int) else list(shard_key)
        for key, record in zip(keys, records, strict=True):
            self.add(record, key)

    def add(self, record: bytes, shard_key: int) -> None:
        """Buffer one record under the shard of `shard_key` (`append` for a single record)."""
        shard = self._shards(shard_key)
        group = self._groups.get(shard)
        if group is None:
            group = self._groups[shard] = (shard_key, [])
        group[1].append(record)

    def depth_bytes(self) -> int:
        """Bytes buffered."""
        return sum(len(record) for _, records in self._groups.values() for record in records)

    def take(self) -> Groups:
        """The buffered groups; the buffer starts empty again."""
        groups, self._groups = self._groups, {}
        return groups

    def close(self) -> None:
        """Drop what is buffered."""
        self._groups = {}


class BlockConverter:
    """Complete lines -> (counts, records by shard)."""

    def __init__(self, converter: LineConverter, parser: Parser, batches: ShardBatches) -> None:
        self._converter = converter
        self._parser = parser
        self._batches = batches

    def convert(self, block: bytes) -> tuple[Counts, Groups]:
        """Convert every line of `block` (a last line may lack its newline)."""
        counts = Counts()
        parse, convert, add = self._parser, self._converter.convert, self._batches.add
        for raw in block.decode("utf-8", errors="replace").split("\n"):
            line = raw.rstrip("\r")
            if line:
                event = convert(parse(line), counts)
                if event is not None:
                    add(encode_raw(event), event.visitor_id)
        return counts, self._batches.take()
