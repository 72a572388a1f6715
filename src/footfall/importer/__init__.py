"""Access-log import: web server logs parsed, classified and queued like collected events."""

from __future__ import annotations

from footfall.importer.blocks import BlockConverter, ShardBatches, Shards
from footfall.importer.build import ImportSpec, start_worker
from footfall.importer.offsets import OffsetBook
from footfall.importer.parse import FORMATS, LogLine, parser_for
from footfall.importer.records import Counts, LineConverter
from footfall.importer.salts import LineSalts
from footfall.importer.tail import LogImporter

__all__ = [
    "FORMATS",
    "BlockConverter",
    "Counts",
    "ImportSpec",
    "LineConverter",
    "LineSalts",
    "LogImporter",
    "LogLine",
    "OffsetBook",
    "ShardBatches",
    "Shards",
    "parser_for",
    "start_worker",
]
