"""A rosbag2 writer that bounds what a crash loses, on top of ``rosbags.rosbag2.Writer``.

rosbags' ``Writer`` keeps MCAP chunks of ~1 MiB in memory, commits sqlite3 once at close and
writes ``metadata.yaml`` only at close: a killed recorder leaves a bag that no reader opens,
often with no message in it (research/platform.md). ``BagRecorder`` adds this policy:

- **Flush** every ``flush_seconds`` (default 1 s, wall clock): the open MCAP chunk is closed and
  handed to the operating system, or the sqlite3 transaction is committed. A killed process
  (SIGKILL, out of memory) loses at most the messages of the last ``flush_seconds``. A power cut
  can lose more: nothing is fsync'ed.
- **Split** every ``split_seconds`` (default 60 s) or ``split_bytes`` (default: no limit): the
  segment is closed (index and footer written) and moved to ``<bag>/<bag>_<i>.mcap`` (or
  ``.db3``), the names ``ros2 bag record --max-bag-duration`` uses, and ``<bag>/metadata.yaml``
  is rewritten atomically to list every finished segment. At any moment the bag opens in
  ``ros2 bag`` and in rosbags with everything but the segment being written.
- The segment being written lives in ``<bag>/<bag>_<i>/`` until it is finished; after a kill it
  stays there, and ``amplify_ros.data.bag_reader`` reads its flushed part by scanning.
- ``metadata.yaml`` is written at ``open()`` (listing no file yet): even an empty recording is a bag.

Messages are written as the raw CDR bytes a subscription received (``raw=True``): re-serialising
is not byte-identical and breaks readers (research/platform.md). Write failures (folder not
writable, disk full) raise ``BagWriteError`` naming the path and the cause; the recorder is
unusable afterwards and what was flushed stays readable.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.rosbag2.storage_mcap import McapWriter
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
BAG_VERSION = 9  # rosbag2 metadata version written by Jazzy and Kilted
METADATA = "metadata.yaml"


class BagWriteError(RuntimeError):
    """The bag cannot be written (folder not writable, disk full, ...): recording must stop."""


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"disk full (ENOSPC) at {error.filename or 'the bag file'}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error)


def _flush_storage(storage: Any) -> None:
    """Hand what was written so far to the operating system. rosbags 0.11.9 has no public
    flush, so this uses its storage internals (the version is pinned in requirements.txt, and
    test_bag_writer kills a recorder to check that flushed messages survive)."""
    if isinstance(storage, McapWriter):
        if storage.chunk.msgs:  # a chunk holding only schemas would carry a bogus time range
            storage.close_chunk()
        storage.bio.flush()
    else:
        storage.conn.commit()


def _empty_metadata(storage: str) -> dict[str, Any]:
    return {
        "version": BAG_VERSION,
        "storage_identifier": storage,
        "relative_file_paths": [],
        "duration": {"nanoseconds": 0},
        "starting_time": {"nanoseconds_since_epoch": 0},
        "message_count": 0,
        "topics_with_message_count": [],
        "compression_format": "",
        "compression_mode": "",
        "files": [],
        "custom_data": None,
        "ros_distro": "rosbags",
    }


def _merge(bag: dict[str, Any], segment: dict[str, Any]) -> None:
    """Add a finished segment's metadata to the bag's: files, counts, topics, time span."""
    bag["relative_file_paths"] += segment["relative_file_paths"]
    bag["files"] += segment["files"]
    bag["message_count"] += segment["message_count"]
    topics = {t["topic_metadata"]["name"]: t for t in bag["topics_with_message_count"]}
    for t in segment["topics_with_message_count"]:
        if (known := topics.get(t["topic_metadata"]["name"])) is not None:
            known["message_count"] += t["message_count"]
        else:
            bag["topics_with_message_count"].append(t)
    starts = [f["starting_time"]["nanoseconds_since_epoch"] for f in bag["files"]]
    ends = [s + f["duration"]["nanoseconds"] for s, f in zip(starts, bag["files"])]
    bag["starting_time"] = {"nanoseconds_since_epoch": min(starts)}
    bag["duration"] = {"nanoseconds": max(ends) - min(starts)}


class BagRecorder:
    """Write raw messages into a rosbag2 folder with bounded loss on a crash (module docstring).

    ``clock`` (seconds, monotonic) decides when to flush and split; tests pass a fake one.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        storage: str = "mcap",
        flush_seconds: float = 1.0,
        split_seconds: float | None = 60.0,
        split_bytes: int | None = None,
        typestore: Typestore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        if not flush_seconds >= 0:
            raise ValueError(f"flush_seconds must be >= 0, got {flush_seconds}")
        if split_seconds is not None and not split_seconds > 0:
            raise ValueError(f"split_seconds must be > 0 or None, got {split_seconds}")
        if split_bytes is not None and split_bytes < 1:
            raise ValueError(f"split_bytes must be >= 1 or None, got {split_bytes}")
        self.path = Path(path)
        self.storage = storage
        self.flush_seconds = flush_seconds
        self.split_seconds = split_seconds
        self.split_bytes = split_bytes
        self.typestore = typestore or get_typestore(Stores.ROS2_KILTED)
        self.clock = clock
        self.written = 0  # messages accepted
        self.flushed = 0  # of those, how many a kill can no longer lose
        self.segments: list[Path] = []  # finished segment files
        self._metadata = _empty_metadata(storage)
        self._types: dict[str, str] = {}  # topic -> message type, for the whole bag
        self._segment: Writer | None = None
        self._connections: dict[str, Connection] = {}  # of the open segment
        self._segment_started = self._last_flush = 0.0
        self._segment_bytes = 0
        self._failure = ""

    @property
    def segment_folder(self) -> Path | None:
        """Where the segment being written lives (None between segments)."""
        return None if self._segment is None else self._segment.path

    def open(self) -> None:
        """Create the bag folder and its metadata; an existing folder is never overwritten."""
        with self._guard(f"cannot create bag {self.path}"):
            self.path.mkdir(parents=True)
            self._write_metadata()

    def write(self, topic: str, msgtype: str, data: bytes | memoryview, timestamp: int) -> None:
        """Append one serialized (CDR) message received at ``timestamp`` (ns since the epoch)."""
        if self._failure:
            raise BagWriteError(f"bag {self.path} failed earlier ({self._failure}); start a new recording")
        if msgtype not in self.typestore.types:
            raise ValueError(f"message type {msgtype!r} is unknown to the typestore: cannot describe it in the bag")
        if self._types.setdefault(topic, msgtype) != msgtype:
            raise ValueError(f"topic {topic} was recorded as {self._types[topic]}, not {msgtype}")
        if self._segment is None:
            self._open_segment()
        assert self._segment is not None
        with self._guard(f"cannot write to bag {self.path}"):
            if (connection := self._connections.get(topic)) is None:
                connection = self._segment.add_connection(topic, msgtype, typestore=self.typestore)
                self._connections[topic] = connection
            self._segment.write(connection, timestamp, data)
        self.written += 1
        self._segment_bytes += len(data)
        self.flush_if_due()

    def flush_if_due(self) -> None:
        """Split or flush when the policy says so; call it from a timer too, so that messages
        before a quiet spell do not wait in memory for the next one."""
        if self._segment is None:
            return
        now = self.clock()
        if (self.split_seconds is not None and now - self._segment_started >= self.split_seconds) or (
            self.split_bytes is not None and self._segment_bytes >= self.split_bytes
        ):
            self._close_segment()
        elif now - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Hand every message written so far to the operating system."""
        if self._segment is None:
            return
        with self._guard(f"cannot flush bag {self.path}"):
            _flush_storage(self._segment.storage)
        self.flushed = self.written
        self._last_flush = self.clock()

    def close(self) -> None:
        """Finish the open segment; the bag is then complete."""
        if self._segment is not None:
            self._close_segment()

    def __enter__(self) -> BagRecorder:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._failure:
            self.close()

    def _open_segment(self) -> None:
        folder = self.path / f"{self.path.name}_{len(self.segments)}"
        with self._guard(f"cannot start bag segment {folder}"):
            segment = Writer(folder, version=BAG_VERSION, storage_plugin=STORAGES[self.storage])
            segment.open()
        self._segment, self._connections, self._segment_bytes = segment, {}, 0
        self._segment_started = self._last_flush = self.clock()

    def _close_segment(self) -> None:
        segment = self._segment
        assert segment is not None and segment.storage is not None
        file = segment.storage.path
        with self._guard(f"cannot finish bag segment {segment.path}"):
            segment.close()
            self._segment = None
            info = yaml.safe_load((segment.path / METADATA).read_text())["rosbag2_bagfile_information"]
            os.replace(file, self.path / file.name)
            (segment.path / METADATA).unlink()
            segment.path.rmdir()
            _merge(self._metadata, info)
            self._write_metadata()
        self.segments.append(self.path / file.name)
        self.flushed = self.written

    def _write_metadata(self) -> None:
        tmp = self.path / f"{METADATA}.tmp"
        tmp.write_text(yaml.safe_dump({"rosbag2_bagfile_information": self._metadata}, sort_keys=False))
        os.replace(tmp, self.path / METADATA)

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn storage errors into one ``BagWriteError``; abandon the segment (its flushed part
        stays readable by scanning)."""
        try:
            yield
        except FileExistsError as e:
            self._failure = f"{doing}: {e.filename} exists already; a recording is never overwritten"
            raise BagWriteError(self._failure) from e
        except (OSError, WriterError, sqlite3.Error) as e:
            self._failure = f"{doing}: {_describe(e)}"
            segment, self._segment = self._segment, None
            if segment is not None:
                with suppress(Exception):
                    segment.abort()
            raise BagWriteError(self._failure) from e
