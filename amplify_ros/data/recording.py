"""Recorded episodes: one rosbag2 bag per episode, started, stopped, discarded and judged.

What the recorder node does between its services and ``BagRecorder``, without ROS:

- **Folders.** Episode ``i`` is the bag ``<output_dir>/<name>_<iiii>``. A new episode takes the
  index after the highest one there, so a restarted recorder never overwrites; a discarded
  episode's index is taken again.
- **episode.yaml** in the bag folder holds what the bag cannot (``ros2 bag`` and rosbags read
  only the files ``metadata.yaml`` lists, so it travels with the bag harmlessly): ``success``
  (null until marked), ``mode``, start and stop times (ns on the recorder's clock), message and
  byte counts per topic, the ``error`` that ended it, and the ``episodes`` it was converted to.
  ``amplify-data import-bag`` copies ``success`` into the episodes it makes.
- **Latched messages.** The last message of each transient-local topic (the task sentence)
  received while idle is written first into every new episode, stamped with its start: what
  ``ros2 bag record`` started at that moment would have received on subscribing.
- **Failures.** A ``BagWriteError`` (folder not writable, disk full) ends the episode: what was
  flushed stays readable, ``last_error`` says what happened, and a new episode may be started.
- **Modes.** ``teleop`` records every configured topic; ``action_free`` only camera images,
  camera info and strings (the task sentence), for video-only demonstrations.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml

from amplify_ros.data.bag_import import SIDECAR, BagImportSettings, import_bags
from amplify_ros.data.bag_writer import BagRecorder, BagWriteError
from amplify_ros.data.episode import set_success

MODES = ("action_free", "teleop")
ACTION_FREE_TYPES = frozenset({
    "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage", "sensor_msgs/msg/CameraInfo", "std_msgs/msg/String",
})


def recorded_in(mode: str, msgtype: str) -> bool:
    """Whether ``mode`` records messages of ``msgtype``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode == "teleop" or msgtype in ACTION_FREE_TYPES


def episode_folder(output_dir: Path, name: str, index: int) -> Path:
    return output_dir / f"{name}_{index:04d}"


def next_index(output_dir: Path, name: str) -> int:
    """One past the highest episode index of ``name`` in ``output_dir`` (0 when there is none)."""
    pattern = re.compile(rf"{re.escape(name)}_(\d+)")
    try:
        found = [int(m.group(1)) for p in output_dir.iterdir() if (m := pattern.fullmatch(p.name))]
    except FileNotFoundError:
        return 0
    except OSError as e:
        raise BagWriteError(f"cannot list episodes in {output_dir}: {e.strerror or e}") from e
    return max(found, default=-1) + 1


def _write_sidecar(bag: Path, info: dict[str, Any]) -> None:
    tmp = bag / f"{SIDECAR}.tmp"
    tmp.write_text(yaml.safe_dump(info, sort_keys=False))
    os.replace(tmp, bag / SIDECAR)


class EpisodeRecorder:
    """The episodes of one recording session (module docstring). Not thread-safe: the node
    calls it from one callback group."""

    def __init__(self) -> None:
        self.bag: BagRecorder | None = None  # while recording
        self.episode: dict[str, Any] | None = None  # the current or last episode's episode.yaml
        self.last_error = ""
        self._latched: dict[str, tuple[str, bytes]] = {}  # topic -> (type, data)

    @property
    def recording(self) -> bool:
        return self.bag is not None

    @property
    def path(self) -> Path | None:
        return None if self.episode is None else Path(self.episode["path"])

    def start(self, output_dir: str | os.PathLike, name: str, now_ns: int, *, mode: str = "teleop", storage: str = "mcap",
              flush_seconds: float = 1.0, split_seconds: float | None = 60.0) -> Path:
        """Open the next episode's bag and write the latched messages into it; raises
        ``BagWriteError`` (also kept in ``last_error``) when the folder cannot be written."""
        if self.bag is not None:
            raise RuntimeError(f"already recording episode {self.episode['index']} in {self.path}; stop or discard it first")
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"episode name {name!r} is not a folder name")
        try:
            output_dir = Path(output_dir).expanduser().absolute()
            index = next_index(output_dir, name)
            bag = BagRecorder(episode_folder(output_dir, name, index), storage, flush_seconds, split_seconds)
            bag.open()
            self.episode = {
                "name": name, "index": index, "path": str(bag.path), "mode": mode, "storage": storage, "success": None,
                "started_ns": now_ns, "stopped_ns": None, "messages": 0, "bytes": 0, "topics": {}, "error": "", "episodes": [],
            }
            _write_sidecar(bag.path, self.episode)
        except (BagWriteError, OSError) as e:
            self.last_error = str(e) if isinstance(e, BagWriteError) else f"cannot write {SIDECAR}: {e}"
            raise BagWriteError(self.last_error) from e
        self.bag, self.last_error = bag, ""
        for topic, (msgtype, data) in self._latched.items():
            self._write(topic, msgtype, data, now_ns)
        return bag.path

    def receive(self, topic: str, msgtype: str, data: bytes, now_ns: int, latched: bool = False) -> None:
        """A message arrived: written while recording; remembered when ``latched``. A write
        failure ends the episode and raises ``BagWriteError``."""
        if latched:
            self._latched[topic] = (msgtype, data)
        if self.bag is not None:
            self._write(topic, msgtype, data, now_ns)

    def flush_if_due(self) -> None:
        if self.bag is not None:
            with self._failing():
                self.bag.flush_if_due()

    def stop(self, now_ns: int) -> dict[str, Any]:
        """Finish the episode's bag; returns its episode.yaml."""
        if self.bag is None:
            raise RuntimeError("not recording: start an episode first")
        with self._failing():
            self.bag.close()
        self.bag = None
        assert self.episode is not None
        self.episode["stopped_ns"] = now_ns
        self._save()
        return self.episode

    def discard(self) -> Path:
        """Delete the current episode (stopping it) or else the last one stopped."""
        if self.episode is None:
            raise RuntimeError("no episode to discard")
        path, converted = self.path, self.episode["episodes"]
        if self.bag is not None:
            with suppress(BagWriteError):  # closes its files; the folder goes anyway
                self.bag.close()
        self.bag = self.episode = None
        shutil.rmtree(path, ignore_errors=True)
        for episode in converted:
            Path(episode).unlink(missing_ok=True)
        return path

    def mark_success(self, success: bool) -> Path:
        """Record the operator's verdict on the current or last episode (and on the episodes
        it was converted to)."""
        if self.episode is None:
            raise RuntimeError("no episode to mark: record one first")
        self.episode["success"] = bool(success)
        self._save()
        for episode in self.episode["episodes"]:
            set_success(episode, success)
        return self.path

    def convert(self, dataset_dir: str | os.PathLike, settings: BagImportSettings) -> list[Path]:
        """Import the last stopped episode into the dataset at ``dataset_dir`` (episodes
        without tracks, as ``amplify-data import-bag``); raises ValueError naming why not."""
        if self.episode is None or self.recording:
            raise RuntimeError("no stopped episode to convert")
        result = next(import_bags([self.path], None, Path(dataset_dir), settings))
        if result.error:
            raise ValueError(result.error)
        self.episode["episodes"] = [str(p) for p in result.paths]
        self._save()
        return result.paths

    def status(self) -> dict[str, Any]:
        ep = self.episode or {}
        return {
            "state": "recording" if self.recording else "idle", "episode": ep.get("index"), "bag": ep.get("path"),
            "messages": ep.get("messages", 0), "bytes": ep.get("bytes", 0), "success": ep.get("success"),
            "last_error": self.last_error,
        }

    def _write(self, topic: str, msgtype: str, data: bytes, now_ns: int) -> None:
        assert self.bag is not None and self.episode is not None
        with self._failing():
            self.bag.write(topic, msgtype, data, now_ns)
        self.episode["messages"] += 1
        self.episode["bytes"] += len(data)
        counts = self.episode["topics"].setdefault(topic, {"type": msgtype, "messages": 0})
        counts["messages"] += 1

    def _save(self) -> None:
        """Rewrite episode.yaml; a folder that fails now fails the episode (BagWriteError)."""
        assert self.episode is not None
        try:
            _write_sidecar(self.path, self.episode)
        except OSError as e:
            self.last_error = f"cannot write {self.path / SIDECAR}: {e.strerror or e}"
            raise BagWriteError(self.last_error) from e

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """A BagWriteError inside ends the episode before it propagates."""
        try:
            yield
        except BagWriteError as e:
            self._fail(str(e))
            raise

    def _fail(self, error: str) -> None:
        self.bag, self.last_error = None, error
        assert self.episode is not None
        self.episode["error"] = error
        with suppress(OSError):  # the folder may be what failed
            _write_sidecar(self.path, self.episode)
