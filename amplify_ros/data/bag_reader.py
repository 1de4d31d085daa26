"""Raw messages out of any rosbag2 bag, including the remains of a killed recorder.

A bag is a folder (or one storage file). Its storage files are every ``*.mcap`` and ``*.db3``
in the folder and one level below (where ``BagRecorder`` keeps the segment it was writing), read
one by one whatever ``metadata.yaml`` says, so a missing or stale ``metadata.yaml`` loses nothing:

- MCAP is read through its index with rosbags. A file without a valid index or footer (killed
  writer, copy cut short) is scanned record by record instead: every complete message before
  the damage is kept, including those in chunks compressed with lz4 or zstd, and
  ``BagReader.notes`` says what was recovered and where the file ends.
- sqlite3 is read with Python's ``sqlite3`` rather than rosbags, which opens databases as
  immutable and so would ignore a killed writer's journal or write-ahead log. Every committed
  message is read; opening a database that holds a hot journal rolls the unfinished
  transaction back, as any SQLite client does.

A file that is no storage file at all (no MCAP magic, a database without rosbag2 tables, as a
writer killed while creating it leaves) is skipped with a note; a bag with no readable file is
an error. Files compressed as a whole (``*.mcap.zstd``, rosbag2's ``file`` compression mode) and
message-compressed bags are not supported.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import struct
from collections.abc import Collection, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from lz4.frame import decompress as lz4_decompress
from rosbags.rosbag2 import Reader

try:
    from compression import zstd  # Python >= 3.14
except ImportError:
    from backports import zstd  # what rosbags uses before 3.14

log = logging.getLogger(__name__)

SUFFIXES = (".mcap", ".db3")
MCAP_MAGIC = b"\x89MCAP0\r\n"
# MCAP record opcodes (https://mcap.dev/spec)
OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_DATA_END = 0x02, 0x03, 0x04, 0x05, 0x06, 0x0F
DECOMPRESS = {"": lambda data: data, "lz4": lz4_decompress, "zstd": zstd.decompress}


class BagReadError(RuntimeError):
    """A path that is not a readable bag."""


@dataclass(frozen=True)
class RawMessage:
    topic: str
    msgtype: str  # e.g. sensor_msgs/msg/Image
    timestamp: int  # when the recorder received it, ns since the epoch
    data: bytes  # CDR, as published


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def storage_files(path: str | os.PathLike) -> list[Path]:
    """The storage files of a bag folder (and of unfinished segments one level below), or the
    file itself; segment ``_2`` before ``_10``."""
    path = Path(path)
    if path.is_file():
        if path.suffix not in SUFFIXES:
            raise BagReadError(f"{path}: not a bag file (expected {' or '.join(SUFFIXES)})")
        return [path]
    if not path.is_dir():
        raise BagReadError(f"{path}: no such bag folder or file")
    files = [p for pattern in ("*", "*/*") for p in path.glob(pattern) if p.suffix in SUFFIXES and p.is_file()]
    if not files:
        raise BagReadError(f"{path}: no {' or '.join(SUFFIXES)} files in this folder")
    return sorted(files, key=_natural_key)


def _string(buf: memoryview, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, at)
    return bytes(buf[at + 4 : at + 4 + n]).decode(), at + 4 + n


def _records(buf: memoryview) -> Iterator[tuple[int, memoryview]]:
    """(opcode, body) of the records packed in a chunk."""
    at = 0
    while at + 9 <= len(buf):
        op, size = struct.unpack_from("<BQ", buf, at)
        yield op, buf[at + 9 : at + 9 + size]
        at += 9 + size


class _McapScan:
    """Record-by-record reading of one MCAP file, stopping cleanly where it is cut off."""

    def __init__(self, path: Path, topics: Collection[str] | None) -> None:
        self.path = path
        self.topics = topics
        self.schemas: dict[int, str] = {}  # schema id -> message type
        self.channels: dict[int, tuple[str, str]] = {}  # channel id -> (topic, message type)
        self.messages = 0
        self.end = ""  # why reading stopped before the data section's end ("" = it did not)

    def __iter__(self) -> Iterator[RawMessage]:
        with self.path.open("rb") as f:
            magic = f.read(8)
            if magic != MCAP_MAGIC:  # BagReader let it in: a writer killed before its first flush
                self.end = f"ends after {len(magic)} bytes, before its header"
                return
            file_size = os.fstat(f.fileno()).st_size
            while True:
                start = f.tell()
                head = f.read(9)
                if not head:
                    self.end = f"ends after {start} bytes without a footer"
                    return
                op, size = struct.unpack("<BQ", head) if len(head) == 9 else (None, 0)
                if op is None or start + 9 + size > file_size:
                    self.end = f"is cut off inside the record at byte {start} of {file_size}"
                    return
                if op == 0:  # not an opcode: zeros or garbage where the writer stopped
                    self.end = f"holds no valid record at byte {start} of {file_size}"
                    return
                if op in (OP_DATA_END, OP_FOOTER):
                    return
                body = memoryview(f.read(size))
                if op != OP_CHUNK:
                    yield from self._record(op, body)
                    continue
                try:
                    inner = self._unchunk(body)
                except (ValueError, RuntimeError, struct.error) as e:
                    self.end = f"has a damaged chunk at byte {start} ({e})"
                    return
                for inner_op, inner_body in _records(inner):
                    yield from self._record(inner_op, inner_body)

    def _unchunk(self, body: memoryview) -> memoryview:
        _, _, size, _ = struct.unpack_from("<QQQI", body, 0)
        compression, at = _string(body, 28)
        (length,) = struct.unpack_from("<Q", body, at)
        if compression not in DECOMPRESS:
            raise ValueError(f"unsupported chunk compression {compression!r}")
        data = DECOMPRESS[compression](bytes(body[at + 8 : at + 8 + length]))
        if len(data) != size:
            raise ValueError(f"chunk holds {len(data)} bytes, its header says {size}")
        return memoryview(data)

    def _record(self, op: int, body: memoryview) -> Iterator[RawMessage]:
        if op == OP_SCHEMA:
            (sid,) = struct.unpack_from("<H", body, 0)
            self.schemas[sid] = _string(body, 2)[0]
        elif op == OP_CHANNEL:
            cid, sid = struct.unpack_from("<HH", body, 0)
            self.channels[cid] = (_string(body, 4)[0], self.schemas.get(sid, ""))
        elif op == OP_MESSAGE:
            cid, _, log_time, _ = struct.unpack_from("<HIQQ", body, 0)
            topic, msgtype = self.channels.get(cid, ("", ""))
            if topic and (self.topics is None or topic in self.topics):
                self.messages += 1
                yield RawMessage(topic, msgtype, log_time, bytes(body[22:]))


def _unreadable(file: Path) -> str:
    """Why ``file`` is no storage file at all ("" when it is one, even if empty or cut short)."""
    if file.suffix == ".db3":
        try:
            _sqlite(file).close()
        except BagReadError as e:
            return str(e)
        return ""
    with file.open("rb") as f:
        magic = f.read(len(MCAP_MAGIC))
    return "" if MCAP_MAGIC.startswith(magic) else f"{file}: not an MCAP file (bad magic)"


def _sqlite(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path)
        db.execute("SELECT 1 FROM topics JOIN messages LIMIT 1").fetchall()
    except sqlite3.Error as e:
        raise BagReadError(f"{path}: not a readable rosbag2 sqlite3 file ({e})") from None
    return db


class BagReader:
    """The messages of one bag (folder or storage file), read as the module docstring says."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.files: list[Path] = []
        self.notes: list[str] = []  # what was recovered from damaged files, or skipped; one line each
        for file in storage_files(self.path):
            if problem := _unreadable(file):  # e.g. a database killed before its tables were made
                self.notes.append(f"skipped {problem}")
            else:
                self.files.append(file)
        if not self.files:
            raise BagReadError(f"{self.path}: no readable storage file ({'; '.join(self.notes)})")
        self._index_problems: dict[Path, str] = {}  # "" when rosbags reads the file's index

    def topics(self) -> dict[str, str]:
        """topic -> message type, over all files (a damaged MCAP file is scanned for them)."""
        found: dict[str, str] = {}
        for file in self.files:
            if file.suffix == ".db3":
                with closing(_sqlite(file)) as db:
                    found.update(db.execute("SELECT name, type FROM topics").fetchall())
            elif not self._index_problem(file):
                with Reader(file) as reader:
                    found.update((c.topic, c.msgtype) for c in reader.connections)
            else:
                scan = _McapScan(file, topics=())
                for _ in scan:
                    pass
                found.update(scan.channels.values())
        return found

    def messages(self, topics: Collection[str] | None = None) -> Iterator[RawMessage]:
        """Messages of ``topics`` (all when None), file by file, in each file's order."""
        for file in self.files:
            if file.suffix == ".db3":
                yield from self._sqlite_messages(file, topics)
            elif not self._index_problem(file):
                with Reader(file) as reader:
                    wanted = [c for c in reader.connections if topics is None or c.topic in topics]
                    try:
                        for c, timestamp, data in reader.messages(wanted) if wanted else ():
                            yield RawMessage(c.topic, c.msgtype, timestamp, data)
                    except Exception as e:  # noqa: BLE001 - a damaged chunk behind a valid index: rosbags raises
                        # ReaderError, or OverflowError / ValueError / struct.error where a length field was hit
                        raise BagReadError(f"{file}: damaged data ({type(e).__name__}: {e})") from None
            else:
                scan = _McapScan(file, topics)
                yield from scan
                found = f"the file {scan.end}" if scan.end else "its data is whole"
                self.notes.append(f"{file.name}: no usable index ({self._index_problem(file)}); scanned it: {found}; kept {scan.messages} message(s)")

    def _index_problem(self, file: Path) -> str:
        """Why rosbags cannot read the file through its index ("" when it can): a killed
        writer's file has none."""
        if file not in self._index_problems:
            try:
                with Reader(file):
                    self._index_problems[file] = ""
            except Exception as e:  # noqa: BLE001 - rosbags raises assorted errors on damaged files; all mean "scan it"
                log.info("%s: index unreadable (%s); scanning it", file, e)
                self._index_problems[file] = str(e).rstrip(".") or type(e).__name__
        return self._index_problems[file]

    @staticmethod
    def _sqlite_messages(file: Path, topics: Collection[str] | None) -> Iterator[RawMessage]:
        with closing(_sqlite(file)) as db:
            try:  # a page damaged on disk shows only when the query reaches it
                names = {tid: (name, msgtype) for tid, name, msgtype in db.execute("SELECT id, name, type FROM topics")}
                for tid, timestamp, data in db.execute("SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp"):
                    topic, msgtype = names.get(tid, ("", ""))
                    if topic and (topics is None or topic in topics):
                        yield RawMessage(topic, msgtype, timestamp, bytes(data))
            except sqlite3.Error as e:
                raise BagReadError(f"{file}: damaged sqlite3 data ({e})") from None
