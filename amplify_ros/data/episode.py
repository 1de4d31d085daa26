"""One episode per HDF5 file: the format every tool reads and writes (docs/dataset.md).

Writes are atomic: the file is written under a temporary name and renamed into place, so a
file with an episode name is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT = "amplify_ros.episode"
FORMAT_VERSION = 1
SUFFIX = ".h5"
TMP_MARKER = ".tmp-"


class CorruptEpisodeError(RuntimeError):
    """A file that is not a readable, complete episode."""


@dataclass
class Tracks:
    """Point tracks of one camera. ``points`` (T, horizon, N, 2) float32 normalised (row, col);
    ``visible`` (T, horizon, N) bool; ``source`` names who made them (``oracle``, ``lk``, ...)."""

    points: np.ndarray
    visible: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if self.points.ndim != 4 or self.points.shape[-1] != 2:
            raise ValueError(f"tracks.points must be (T, horizon, N, 2), got {self.points.shape}")
        if self.visible.shape != self.points.shape[:-1]:
            raise ValueError(f"tracks.visible {self.visible.shape} does not match points {self.points.shape}")


@dataclass
class Episode:
    """An episode in memory. ``images[cam]`` is (T, H, W, 3) uint8 RGB; ``actions`` (T-1, A): the
    action taken after frame t, absent for action-free episodes; ``proprio`` (T, P)."""

    task: str
    sentence: str
    images: dict[str, np.ndarray]
    fps: float
    proprio: np.ndarray | None = None
    actions: np.ndarray | None = None
    tracks: dict[str, Tracks] = field(default_factory=dict)
    success: bool | None = None
    seed: int | None = None
    env: str = ""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError("an episode needs at least one camera")
        lengths = {cam: len(img) for cam, img in self.images.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"cameras have different frame counts: {lengths}")
        t = self.num_frames
        for cam, img in self.images.items():
            if img.dtype != np.uint8 or img.ndim != 4 or img.shape[-1] != 3:
                raise ValueError(f"images[{cam!r}] must be (T, H, W, 3) uint8, got {img.shape} {img.dtype}")
        if self.proprio is not None and len(self.proprio) != t:
            raise ValueError(f"proprio has {len(self.proprio)} rows for {t} frames")
        if self.actions is not None and len(self.actions) != t - 1:
            raise ValueError(f"actions must have T-1 = {t - 1} rows, got {len(self.actions)}")
        for cam, tr in self.tracks.items():
            if cam not in self.images or len(tr.points) != t:
                raise ValueError(f"tracks[{cam!r}] do not match a camera with {t} frames")

    @property
    def num_frames(self) -> int:
        return len(next(iter(self.images.values())))

    @property
    def cameras(self) -> list[str]:
        return list(self.images)


@dataclass
class EpisodeSummary:
    """What ``read_summary`` learns from a file without loading its arrays."""

    path: Path
    task: str
    sentence: str
    num_frames: int
    cameras: list[str]
    image_size: tuple[int, int]
    has_actions: bool
    track_sources: dict[str, str]
    success: bool | None
    fps: float


def write_episode(path: str | os.PathLike, ep: Episode) -> Path:
    """Write ``ep`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{TMP_MARKER}{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            _write(f, ep)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def set_success(path: str | os.PathLike, success: bool) -> None:
    """Set an episode's success flag (an operator's verdict given after the episode was
    written); atomic like every write: a copy is changed and renamed into place."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}{TMP_MARKER}{os.getpid()}")
    try:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            f.attrs["success"] = bool(success)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write(f: h5py.File, ep: Episode) -> None:
    a = f.attrs
    a["format"], a["format_version"] = FORMAT, FORMAT_VERSION
    a["task"], a["sentence"], a["env"] = ep.task, ep.sentence, ep.env
    a["fps"], a["num_frames"] = float(ep.fps), ep.num_frames
    a["cameras"] = json.dumps(ep.cameras)
    if ep.success is not None:
        a["success"] = bool(ep.success)
    if ep.seed is not None:
        a["seed"] = int(ep.seed)
    a["info"] = json.dumps(ep.info)
    for cam, img in ep.images.items():
        f.create_dataset(f"observations/images/{cam}", data=img, chunks=(1, *img.shape[1:]), compression="lzf")
    if ep.proprio is not None:
        f.create_dataset("observations/proprio", data=np.asarray(ep.proprio, np.float32))
    for name, arr in ep.extras.items():
        f.create_dataset(f"extras/{name}", data=arr)
    if ep.actions is not None:
        f.create_dataset("actions", data=np.asarray(ep.actions, np.float32))
    for cam, tr in ep.tracks.items():
        _write_tracks(f, cam, tr)


def _write_tracks(f: h5py.File, cam: str, tr: Tracks) -> None:
    group = f.create_group(f"tracks/{cam}")
    pts = np.asarray(tr.points, np.float32)
    group.create_dataset("points", data=pts, chunks=(1, *pts.shape[1:]), compression="lzf")
    group.create_dataset("visible", data=np.asarray(tr.visible, bool), chunks=(1, *tr.visible.shape[1:]), compression="lzf")
    group.attrs["source"] = tr.source


def _open(path: str | os.PathLike) -> h5py.File:
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise CorruptEpisodeError(f"{path}: not a readable HDF5 file ({e})") from None
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise CorruptEpisodeError(f"{path}: not an amplify_ros episode (no format attribute)")
    version = int(f.attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        f.close()
        raise CorruptEpisodeError(f"{path}: episode format {version} is newer than this reader ({FORMAT_VERSION})")
    return f


def read_summary(path: str | os.PathLike) -> EpisodeSummary:
    with _open(path) as f:
        try:
            a = f.attrs
            cameras = json.loads(a["cameras"])
            shape = f[f"observations/images/{cameras[0]}"].shape
            sources = {cam: str(f[f"tracks/{cam}"].attrs["source"]) for cam in f.get("tracks", {})}
            return EpisodeSummary(
                path=Path(path), task=str(a["task"]), sentence=str(a["sentence"]),
                num_frames=int(a["num_frames"]), cameras=cameras, image_size=(shape[1], shape[2]),
                has_actions="actions" in f, track_sources=sources,
                success=bool(a["success"]) if "success" in a else None, fps=float(a["fps"]),
            )
        except (KeyError, IndexError, ValueError, OSError) as e:
            raise CorruptEpisodeError(f"{path}: incomplete episode ({e})") from None


def read_episode(path: str | os.PathLike, images: bool = True) -> Episode:
    """Load an episode. With ``images=False`` the image arrays are left empty (0 frames each is
    not allowed, so they are replaced by a (T, 0, 0, 3) placeholder)."""
    with _open(path) as f:
        try:
            a = f.attrs
            cameras = json.loads(a["cameras"])
            t = int(a["num_frames"])
            imgs = {
                cam: f[f"observations/images/{cam}"][()] if images else np.zeros((t, 0, 0, 3), np.uint8)
                for cam in cameras
            }
            tracks = {
                cam: Tracks(g["points"][()], g["visible"][()], str(g.attrs["source"]))
                for cam, g in f.get("tracks", {}).items()
            }
            return Episode(
                task=str(a["task"]), sentence=str(a["sentence"]), images=imgs, fps=float(a["fps"]),
                proprio=f["observations/proprio"][()] if "observations/proprio" in f else None,
                actions=f["actions"][()] if "actions" in f else None,
                tracks=tracks,
                success=bool(a["success"]) if "success" in a else None,
                seed=int(a["seed"]) if "seed" in a else None,
                env=str(a["env"]),
                extras={k: v[()] for k, v in f.get("extras", {}).items()},
                info=json.loads(a["info"]),
            )
        except (KeyError, IndexError, ValueError, OSError) as e:
            raise CorruptEpisodeError(f"{path}: incomplete episode ({e})") from None
