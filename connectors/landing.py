"""The landing zone: ``<landing>/<source_id>/<file>``, one folder per source.

Files are identified by their SHA-256, never by name: a re-dropped identical file is a
duplicate, not new data. Landed files are never edited or moved by the pipeline.

The landing zone is an upload area and is treated as hostile: nothing outside it may ever
be read. So, for source folders and files alike, a symbolic link (wherever it points), a
hard link, anything that is not a plain file or folder, or a path that resolves outside
the zone is refused, and files are opened so that a path swapped for a link after listing
is still not followed (``O_NOFOLLOW`` on the file and on its folder; see
:func:`open_landed`). Only complete files are claimed: no partial-upload or lock-file name,
a modification time not after ``now``, size and modification time stable across a short
interval. A refused entry is never an error: it is returned as :class:`Skipped`, with a
reason code and a Chinese and an English reason, and the other files go on. Nothing here
reads the machine's clock: the caller passes ``now``.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from connectors.spec import SourceSpec

__all__ = [
    "IGNORED_PREFIXES",
    "PARTIAL_SUFFIXES",
    "SKIP_REASONS",
    "Known",
    "LandedFile",
    "LandingRefused",
    "Skipped",
    "landed_files",
    "open_landed",
    "scan_source",
    "sha256_file",
]

log = logging.getLogger(__name__)

EXTENSIONS = {
    "csv": (".csv", ".txt"),
    "xlsx": (".xlsx", ".xlsm"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "sql": (".sqlite", ".db", ".sqlite3"),
}

# Office lock files (~$book.xlsx) and hidden files (.name, rsync's temporary .name.XXXXXX).
IGNORED_PREFIXES = ("~$", ".")
# Uploads still under way (browsers, WinSCP, FileZilla, copy tools) and SQLite's companions.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart", ".download")
COMPANION_SUFFIXES = ("-journal", "-wal", "-shm")

# Reason code -> (Chinese, English); validation/reasons.py carries the same codes with
# what the department should do (a test keeps the two in step).
SKIP_REASONS: dict[str, tuple[str, str]] = {
    "LANDING_LINK": (
        "链接文件（符号链接或硬链接），不读取",
        "a symbolic or hard link (file or source folder), never read",
    ),
    "LANDING_OUTSIDE": (
        "路径指向落地区以外，不读取",
        "the path resolves outside the landing zone, never read",
    ),
    "LANDING_NOT_FILE": (
        "不是普通文件（子目录、管道或设备文件），不处理",
        "not a plain file (folder, pipe, device), not processed",
    ),
    "LANDING_TEMPORARY": (
        "临时文件、未完成的上传、锁定文件或隐藏文件，不处理",
        "temporary, partial upload (.part, .tmp, .crdownload...), lock (~$) or hidden file",
    ),
    "LANDING_FUTURE_MTIME": (
        "文件修改时间晚于当前时间，可能仍在写入，暂不处理",
        "modification time after the scan's time (still being written?), not claimed yet",
    ),
    "LANDING_UNSTABLE": (
        "文件仍在写入或在读取时被替换，暂不处理",
        "size or modification time changing (still being written, or replaced), not claimed",
    ),
    "LANDING_UNREADABLE": (
        "文件或目录无法读取（权限或系统错误）",
        "file or folder cannot be read (permissions, I/O error)",
    ),
}

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the run at open
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_FILE_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK | getattr(os, "O_BINARY", 0)
_DIR_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_DIRECTORY


@dataclass(frozen=True)
class LandedFile:
    source_id: str
    path: Path
    sha256: str
    size: int
    # Identity of the bytes that were hashed: readers given the LandedFile refuse a file
    # that is no longer the one claimed (replaced, rewritten, swapped for a link).
    device: int | None = None
    inode: int | None = None
    mtime_ns: int | None = None

    @property
    def name(self) -> str:
        return self.path.name


# (file name, size, mtime_ns) of a file claimed before -> its SHA-256
Known = dict[tuple[str, int, int], str]


@dataclass(frozen=True)
class Skipped:
    """An entry of a source folder that was not claimed, and why (in Chinese and English)."""

    source_id: str
    name: str  # the entry's name in the source folder ("" for the folder itself)
    reason_code: str
    reason: str  # Chinese, for departments
    reason_en: str  # English, for engineers

    def __str__(self) -> str:
        where = f"{self.source_id}/{self.name}" if self.name else f"{self.source_id}/"
        return f"{where}: {self.reason_code} {self.reason}（{self.reason_en}）"


class LandingRefused(Exception):
    """A landed path may not be read (a link, not a plain file, unreadable, or no longer the
    file that was claimed). Not a verdict on the file's content: the file is not claimed."""

    def __init__(self, code: str, name: str, detail: str = ""):
        zh, en = SKIP_REASONS[code]
        self.code, self.name = code, name
        self.reason = zh + (f"（{detail}）" if detail else "")
        self.reason_en = en
        super().__init__(f"{name}: {code} {self.reason} ({en})")

    def skipped(self, source_id: str) -> Skipped:
        return Skipped(source_id, self.name, self.code, self.reason, self.reason_en)


def _timestamp(now: datetime | float) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def _refusal(
    exc: OSError, name: str, path: str | Path | None = None, dir_fd: int | None = None
) -> LandingRefused:
    """Why an open failed, in landing terms (``path``, relative to ``dir_fd``, is looked at
    without following it when the error may come from a link)."""
    if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR) and path is not None:
        # O_NOFOLLOW met a link: ELOOP (EMLINK on BSD), ENOTDIR with O_DIRECTORY.
        try:
            is_link = stat.S_ISLNK(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            is_link = exc.errno != errno.ENOTDIR
        if is_link:
            return LandingRefused("LANDING_LINK", name, "读取时已被替换为链接")
        return LandingRefused("LANDING_NOT_FILE", name, "不是目录")
    return LandingRefused("LANDING_UNREADABLE", name, os.strerror(exc.errno or 0))


def _open_in(dir_fd: int, name: str) -> int:
    """Open ``name`` in an open folder for reading: never a link, only a plain file."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _refusal(exc, name, name, dir_fd) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise LandingRefused("LANDING_NOT_FILE", name, _kind(st.st_mode))
    return fd


def _same_file(st: os.stat_result, landed: LandedFile) -> bool:
    if landed.inode is None:
        return True
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == (
        landed.device,
        landed.inode,
        landed.size,
        landed.mtime_ns,
    )


@contextmanager
def open_landed(path: Path, expect: LandedFile | None = None) -> Iterator[BinaryIO]:
    """Open a landed file for reading without following any link (file or its folder).

    Raises :class:`LandingRefused` if the path is (or became) a link, is not a plain file
    or cannot be read, or if its size or modification time changed while it was read
    (checked when the block ends); with ``expect``, also if it is no longer the file that
    was hashed and claimed (device, inode, size, modification time). Linux/POSIX only
    (``dir_fd``).
    """
    path = Path(path)
    try:
        dir_fd = os.open(path.parent, _DIR_FLAGS)
    except OSError as exc:
        raise _refusal(exc, path.parent.name + "/", path.parent) from None
    try:
        fd = _open_in(dir_fd, path.name)
    finally:
        os.close(dir_fd)
    before = os.fstat(fd)
    if expect is not None and not _same_file(before, expect):
        os.close(fd)
        raise LandingRefused("LANDING_UNSTABLE", path.name, "与登记时的文件不同")
    with os.fdopen(fd, "rb") as fh:
        yield fh
        after = os.fstat(fh.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise LandingRefused("LANDING_UNSTABLE", path.name, "读取过程中文件被修改")


def _hash_fd(fd: int, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    while block := os.read(fd, chunk):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a landed file, opened without following links."""
    with open_landed(path) as fh:
        return _hash_fd(fh.fileno(), chunk)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "目录"
    if stat.S_ISFIFO(mode):
        return "命名管道"
    if stat.S_ISSOCK(mode):
        return "套接字"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "设备文件"
    if stat.S_ISLNK(mode):
        return "符号链接"
    return "特殊文件"


def _temporary(name: str) -> bool:
    lower = name.lower()
    return (
        name.startswith(IGNORED_PREFIXES)
        or lower.endswith(PARTIAL_SUFFIXES)
        or lower.endswith(COMPANION_SUFFIXES)
    )


def _inside(path: Path, root: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(root)
    except (OSError, ValueError):
        return False


def _open_source_folder(root: Path, source_id: str) -> tuple[int | None, Skipped | None]:
    """(folder fd, None), (None, why it is refused), or (None, None) when it does not exist."""
    folder = root / source_id

    def skip(code: str, detail: str = "") -> tuple[None, Skipped]:
        return None, LandingRefused(code, "", detail).skipped(source_id)

    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return skip("LANDING_UNREADABLE", os.strerror(exc.errno or 0))
    if stat.S_ISLNK(st.st_mode):
        inside = "指向落地区内" if _inside(folder, root) else "指向落地区以外"
        return skip("LANDING_LINK", f"来源目录是符号链接，{inside}")
    if not stat.S_ISDIR(st.st_mode):
        return skip("LANDING_NOT_FILE", f"来源目录位置上是{_kind(st.st_mode)}，不是目录")
    if not _inside(folder, root):
        return skip("LANDING_OUTSIDE")
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as exc:
        return None, _refusal(exc, "", folder).skipped(source_id)
    if not _same_inode(os.fstat(fd), st):  # swapped between lstat and open
        os.close(fd)
        return skip("LANDING_UNSTABLE", "来源目录在扫描时被替换")
    return fd, None


def _same_inode(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _unchanged(a: os.stat_result, b: os.stat_result) -> bool:
    return _same_inode(a, b) and (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def scan_source(
    landing: Path,
    spec: SourceSpec,
    now: datetime | float | None,
    *,
    settle_seconds: float = 2.0,
    allow_hard_links: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    known: Known | None = None,
) -> tuple[list[LandedFile], list[Skipped]]:
    """A source's claimable files (by name) and every entry refused, with its reason.

    ``now`` is the wall-clock time of the scan, passed by the caller (a timezone-aware
    ``datetime`` or a POSIX timestamp): a file modified after it is not claimed, and a file
    modified less than ``settle_seconds`` before it is claimed only if its size and
    modification time are the same after waiting ``settle_seconds`` (one wait per folder,
    only when such a file exists). ``now=None`` skips these completeness checks (the
    safety checks always apply). Never raises for one bad entry: it is skipped by name.

    ``known`` maps (name, size, mtime_ns) of files claimed before to their SHA-256: such a
    file is not read again (a scan with nothing new costs a listing, not a read of the
    landing zone). A file rewritten in place changes its mtime and is read; one rewritten
    keeping its size and mtime (``touch -r``) is taken for the claimed one, as rsync would.
    """
    root = Path(os.path.realpath(landing))
    dir_fd, refused = _open_source_folder(root, spec.source_id)
    if dir_fd is None:
        return [], [refused] if refused else []
    try:
        folder = root / spec.source_id
        return _scan_folder(
            dir_fd, folder, spec.source_id, now, settle_seconds, allow_hard_links, sleep, known
        )
    finally:
        os.close(dir_fd)


def _scan_folder(
    dir_fd: int,
    folder: Path,
    source_id: str,
    now: datetime | float | None,
    settle_seconds: float,
    allow_hard_links: bool,
    sleep: Callable[[float], None],
    known: Known | None,
) -> tuple[list[LandedFile], list[Skipped]]:
    skipped: list[Skipped] = []

    def skip(name: str, code: str, detail: str = "") -> None:
        skipped.append(LandingRefused(code, name, detail).skipped(source_id))

    try:
        names = sorted(entry.name for entry in os.scandir(dir_fd))
    except OSError as exc:
        return [], [_refusal(exc, "").skipped(source_id)]
    limit = None if now is None else _timestamp(now)
    candidates: dict[str, os.stat_result] = {}
    for name in names:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone since the listing (renamed at the end of an upload)
        except OSError as exc:
            skip(name, "LANDING_UNREADABLE", os.strerror(exc.errno or 0))
            continue
        if stat.S_ISLNK(st.st_mode):
            inside = "指向落地区内" if _inside(folder / name, folder.parent) else "指向落地区以外"
            skip(name, "LANDING_LINK", f"符号链接，{inside}")
        elif not stat.S_ISREG(st.st_mode):
            skip(name, "LANDING_NOT_FILE", _kind(st.st_mode))
        elif _temporary(name):
            skip(name, "LANDING_TEMPORARY")
        elif st.st_nlink > 1 and not allow_hard_links:
            skip(name, "LANDING_LINK", f"硬链接（共 {st.st_nlink} 个名称），内容可能来自落地区以外")
        elif limit is not None and st.st_mtime > limit:
            skip(name, "LANDING_FUTURE_MTIME")
        else:
            candidates[name] = st

    recent = [
        name
        for name, st in candidates.items()
        if limit is not None and settle_seconds > 0 and st.st_mtime > limit - settle_seconds
    ]
    if recent:
        sleep(settle_seconds)
        for name in recent:
            try:
                again = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                again = None
            if again is None or not _unchanged(again, candidates[name]):
                del candidates[name]
                skip(name, "LANDING_UNSTABLE")
            else:
                candidates[name] = again

    files = []
    for name, st in candidates.items():
        digest = (known or {}).get((name, st.st_size, st.st_mtime_ns))
        if digest is not None:  # claimed before, unchanged since: not read again
            files.append(_landed(source_id, folder / name, digest, st))
            continue
        try:
            landed = _hash_entry(dir_fd, folder, source_id, name, st)
        except LandingRefused as exc:
            skipped.append(exc.skipped(source_id))
            continue
        except OSError as exc:  # an I/O error while reading
            skip(name, "LANDING_UNREADABLE", os.strerror(exc.errno or 0))
            continue
        files.append(landed)
    return files, sorted(skipped, key=lambda s: s.name)


def _hash_entry(
    dir_fd: int, folder: Path, source_id: str, name: str, listed: os.stat_result
) -> LandedFile:
    fd = _open_in(dir_fd, name)
    try:
        before = os.fstat(fd)
        if not _unchanged(before, listed):
            raise LandingRefused("LANDING_UNSTABLE", name, "扫描时文件被替换或修改")
        digest = _hash_fd(fd)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if not _unchanged(after, before):
        raise LandingRefused("LANDING_UNSTABLE", name, "计算校验值时文件被修改")
    return _landed(source_id, folder / name, digest, before)


def _landed(source_id: str, path: Path, digest: str, st: os.stat_result) -> LandedFile:
    return LandedFile(
        source_id,
        path,
        digest,
        st.st_size,
        device=st.st_dev,
        inode=st.st_ino,
        mtime_ns=st.st_mtime_ns,
    )


def landed_files(landing: Path, spec: SourceSpec) -> list[LandedFile]:
    """Every candidate file of a source, oldest name first (names usually carry the period).

    Files of any extension are listed: a file in the wrong format is reported, not ignored.
    Links, special files, temporary and unreadable entries are left out (and logged);
    :func:`scan_source` also returns them, and checks that files are complete.
    """
    files, skipped = scan_source(landing, spec, None)
    for entry in skipped:
        if entry.reason_code != "LANDING_TEMPORARY":
            log.warning("landing entry skipped: %s", entry)
    return files
