"""Writing into the landing zone: atomically, never overwriting, outside the scanned folders
until complete.

A file is written to ``<landing>/.console-incoming/`` (same file system, no source folder,
so no scan sees it half-written), flushed to disk, then hard-linked under its final name
in ``<landing>/<source_id>/``: ``os.link`` fails if that name exists, so nothing is ever
overwritten, and the file appears whole or not at all.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from pathlib import Path

from crosscheck.console.auth import ConsoleError

__all__ = ["INCOMING", "clean_file_name", "write_landed"]

INCOMING = ".console-incoming"
_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


def clean_file_name(name: str) -> str:
    """The department's file name without any folder part or unsafe character."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip().lstrip(".~$")
    if not base or len(base.encode()) > 200:
        raise ConsoleError("文件名无效或过长，请改名后重新上传")
    return base


def write_landed(landing: Path, source_id: str, name: str, chunks) -> Path:
    """Write ``chunks`` (bytes) as ``<landing>/<source_id>/<name>``; refuse an existing name."""
    folder = landing / source_id
    folder.mkdir(parents=True, exist_ok=True)
    incoming = landing / INCOMING
    incoming.mkdir(exist_ok=True)
    final = folder / name
    if final.exists() or final.is_symlink():
        raise ConsoleError(f"落地区已有同名文件「{name}」，未覆盖：请改名后重新上传", 409)
    temp = incoming / f"{secrets.token_hex(8)}.part"
    try:
        with open(temp, "xb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, final)
        except FileExistsError:
            raise ConsoleError(
                f"落地区已有同名文件「{name}」，未覆盖：请改名后重新上传", 409
            ) from None
    finally:
        temp.unlink(missing_ok=True)
    return final
