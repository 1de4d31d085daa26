"""A dataset folder: ``dataset.yaml`` (how it was made) plus one episode file per episode.

Layout: ``<root>/dataset.yaml`` and ``<root>/<task>/episode_<index>.h5``. The manifest keeps
two runs with different settings from mixing their episodes in one folder.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from amplify_ros.data.episode import SUFFIX, TMP_MARKER, CorruptEpisodeError, EpisodeSummary, read_summary
from amplify_ros.data.manifest import DatasetManifest

MANIFEST = "dataset.yaml"


class DatasetMismatchError(RuntimeError):
    """The folder already holds a dataset made with other settings (or something else)."""


def episode_path(root: str | os.PathLike, task: str, index: int) -> Path:
    return Path(root) / task / f"episode_{index:05d}{SUFFIX}"


def read_manifest(root: str | os.PathLike) -> dict[str, Any] | None:
    """``dataset.yaml`` as it is on disk (what ``amplify-data info`` shows)."""
    path = Path(root) / MANIFEST
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def prepare(root: str | os.PathLike, manifest: DatasetManifest | dict[str, Any]) -> Path:
    """Create ``root`` with ``manifest`` (or its dict form), or check that the dataset already
    there matches it."""
    root = Path(root)
    if not isinstance(manifest, DatasetManifest):
        manifest = DatasetManifest.from_dict(manifest)
    on_disk = read_manifest(root)
    if on_disk is None:
        if root.exists() and any(root.iterdir()):
            raise DatasetMismatchError(f"{root} is not empty and holds no {MANIFEST}: choose an empty or new folder")
        root.mkdir(parents=True, exist_ok=True)
        (root / MANIFEST).write_text(yaml.safe_dump(manifest.to_dict(), sort_keys=False))
        return root
    try:
        existing = DatasetManifest.from_dict(on_disk).to_dict()
    except (TypeError, ValueError) as err:
        raise DatasetMismatchError(f"{root}/{MANIFEST} is not a manifest this version can extend ({err}): choose another --out") from err
    wanted = manifest.to_dict()
    diff = {k: (existing.get(k), wanted.get(k)) for k in set(existing) | set(wanted) if existing.get(k) != wanted.get(k)}
    if diff:
        what = "; ".join(f"{k}: folder has {old!r}, asked for {new!r}" for k, (old, new) in sorted(diff.items()))
        raise DatasetMismatchError(f"{root} holds a different dataset ({what}): choose another --out")
    return root


def list_episodes(root: str | os.PathLike) -> list[Path]:
    """Every episode file under ``root``, sorted; leftovers of interrupted writes are not episodes."""
    return sorted(p for p in Path(root).rglob(f"*{SUFFIX}*") if p.suffix == SUFFIX and TMP_MARKER not in p.name)


@dataclass
class DatasetInfo:
    root: Path
    manifest: dict[str, Any] | None
    episodes: list[EpisodeSummary] = field(default_factory=list)
    corrupt: dict[str, str] = field(default_factory=dict)
    leftovers: int = 0

    def as_dict(self) -> dict[str, Any]:
        eps = self.episodes
        tasks = Counter(e.task for e in eps)
        successes = [e.success for e in eps if e.success is not None]
        return {
            "root": str(self.root),
            "episodes": len(eps),
            "frames": sum(e.num_frames for e in eps),
            "tasks": dict(sorted(tasks.items())),
            "with_actions": sum(e.has_actions for e in eps),
            "with_tracks": sum(bool(e.track_sources) for e in eps),
            "track_sources": dict(Counter(s for e in eps for s in e.track_sources.values())),
            "cameras": sorted({c for e in eps for c in e.cameras}),
            "image_sizes": sorted({f"{h}x{w}" for e in eps for h, w in [e.image_size]}),
            "fps": sorted({e.fps for e in eps}),
            "success_rate": sum(successes) / len(successes) if successes else None,
            "corrupt": self.corrupt,
            "leftover_temp_files": self.leftovers,
            "manifest": self.manifest,
        }


def summarize(root: str | os.PathLike) -> DatasetInfo:
    """Summaries of every readable episode; unreadable files are listed with the reason."""
    root = Path(root)
    info = DatasetInfo(root, read_manifest(root))
    info.leftovers = sum(1 for p in root.rglob(f"*{TMP_MARKER}*"))
    for path in list_episodes(root):
        try:
            info.episodes.append(read_summary(path))
        except CorruptEpisodeError as e:
            info.corrupt[str(path.relative_to(root))] = str(e).split(": ", 1)[-1]
    return info
