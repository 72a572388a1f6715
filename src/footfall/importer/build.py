"""Wiring an importer from settings, in the importing process and in parallel worker processes.

A worker process builds its own converter from an `ImportSpec` (plain, picklable values) and
keeps it for its lifetime; blocks then travel as bytes and come back as records by shard.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import Engine

from footfall.collect.collector import Collector
from footfall.enrich.geo import use_city_database
from footfall.importer.blocks import BlockConverter, Groups, ShardBatches, Shards
from footfall.importer.parse import parser_for
from footfall.importer.records import Counts, LineConverter, LogClock
from footfall.importer.salts import LineSalts
from footfall.links.directory import LinkDirectory
from footfall.links.tokens import TokenSigner
from footfall.meta.db import make_engine
from footfall.meta.salts import SaltKeeper
from footfall.meta.sites import SiteDirectory
from footfall.settings import Settings


@dataclass(frozen=True)
class ImportSpec:
    """What converting lines needs: settings (with the secret), site, format, URL scheme, and
    the key of this run's salts for days older than the stored ones (importer.salts), which
    every worker process of the run shares and nothing stores."""

    settings: Settings
    site: str
    log_format: str = "combined"
    scheme: str = "https"
    shards: Shards = Shards()
    salt_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def block_converter(self, engine: Engine) -> BlockConverter:
        """A converter reading sites, links and salts through `engine`."""
        sites = SiteDirectory(engine)
        if sites.lookup(self.site) is None:
            raise ValueError(f"no site {self.site!r}: create it with `footfall site create`")
        use_city_database(self.settings.geoip_city_path)
        batches = ShardBatches(self.shards)
        clock = LogClock()
        collector = Collector(
            sites=sites,
            salts=LineSalts(SaltKeeper(engine).day_salts, clock, self.salt_key),
            producer=batches,
            secret_key=self.settings.secret_key.encode(),
            clock_ms=clock,
        )
        converter = LineConverter(
            collector,
            clock,
            LinkDirectory(engine),
            TokenSigner(self.settings.secret_key),
            site=self.site,
            scheme=self.scheme,
        )
        return BlockConverter(converter, parser_for(self.log_format), batches)


# The converter of a worker process, built once by `start_worker`.
_worker: BlockConverter | None = None


def start_worker(spec: ImportSpec) -> None:
    """Process pool initializer: build this process's converter."""
    global _worker
    _worker = spec.block_converter(make_engine(spec.settings.database_url))


def convert_in_worker(block: bytes) -> tuple[Counts, Groups]:
    """Process pool task: convert one block with this process's converter."""
    if _worker is None:
        raise RuntimeError("convert_in_worker runs in a pool started with start_worker")
    return _worker.convert(block)
