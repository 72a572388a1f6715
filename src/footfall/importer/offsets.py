"""Where each imported log file was left: its inode and the byte after the last line queued.

One small JSON file per log file (named by a hash of its absolute path) in the data dir, so
importers of different files never write the same file. Saved with an atomic rename after every
batch the queue accepted: a restart resumes at the first line not yet queued.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Offset:
    """A position in one incarnation of a file (rotation gives the path a new inode)."""

    device: int
    inode: int
    position: int


class OffsetBook:
    """Offsets of imported files under `folder` (created on first save)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _file(self, log: Path) -> Path:
        digest = hashlib.sha256(str(log.resolve()).encode()).hexdigest()[:32]
        return self._folder / f"{digest}.json"

    def get(self, log: Path) -> Offset | None:
        """The saved offset of `log`, or None when it was never imported."""
        try:
            data = json.loads(self._file(log).read_text())
        except FileNotFoundError:
            return None
        return Offset(int(data["device"]), int(data["inode"]), int(data["position"]))

    def save(self, log: Path, offset: Offset) -> None:
        """Record `offset` for `log`; a crash leaves the previous offset or the new one."""
        self._folder.mkdir(parents=True, exist_ok=True)
        target = self._file(log)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(
            json.dumps(
                {
                    "path": str(log.resolve()),
                    "device": offset.device,
                    "inode": offset.inode,
                    "position": offset.position,
                }
            )
        )
        os.replace(temporary, target)

    def start(self, log: Path, device: int, inode: int, size: int) -> int:
        """Where to start reading this incarnation of `log`: the saved position when it is the
        same file and has not shrunk (a truncated or replaced file starts over)."""
        saved = self.get(log)
        if saved is None or (saved.device, saved.inode) != (device, inode) or saved.position > size:
            return 0
        return saved.position
