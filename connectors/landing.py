"""The landing zone: ``<landing>/<source_id>/<file>``, one folder per source.

Files are identified by their SHA-256, never by name: a re-dropped identical file is a
duplicate, not new data. Landed files are never edited or moved by the pipeline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from connectors.readers import IGNORED_PREFIXES
from connectors.spec import SourceSpec

__all__ = ["LandedFile", "landed_files", "sha256_file"]

EXTENSIONS = {
    "csv": (".csv", ".txt"),
    "xlsx": (".xlsx", ".xlsm"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "sql": (".sqlite", ".db", ".sqlite3"),
}


@dataclass(frozen=True)
class LandedFile:
    source_id: str
    path: Path
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return self.path.name


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def landed_files(landing: Path, spec: SourceSpec) -> list[LandedFile]:
    """Every candidate file of a source, oldest name first (names usually carry the period).

    Files of any extension are listed: a file in the wrong format is reported, not ignored.
    """
    folder = Path(landing) / spec.source_id
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(IGNORED_PREFIXES):
            continue
        if path.suffix in (".part", ".tmp", ".crdownload", "-journal", "-wal", "-shm"):
            continue
        if path.name.endswith(("-journal", "-wal", "-shm")):
            continue
        files.append(LandedFile(spec.source_id, path, sha256_file(path), path.stat().st_size))
    return files
