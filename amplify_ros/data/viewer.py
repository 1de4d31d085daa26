"""Render an episode's tracks for people: an overlay video, or a strip of overlay frames."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from amplify_ros.core.overlay import draw_tracks, label
from amplify_ros.data.episode import Episode

VIDEO_SUFFIXES = {".mp4": "mp4v", ".avi": "MJPG"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def overlay_frame(ep: Episode, camera: str, t: int, scale: int = 4) -> np.ndarray:
    """Frame t with the track window that starts there (just the image if there are no tracks)."""
    image = ep.images[camera][t]
    tracks = ep.tracks.get(camera)
    if tracks is None:
        h, w = image.shape[:2]
        frame = cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_LINEAR)
    else:
        frame = draw_tracks(image, tracks.points[t], tracks.visible[t], scale=scale)
    return label(frame, f"{ep.task}  t={t}/{ep.num_frames - 1}")


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float) -> Path:
    """RGB frames, all of one size, as a video (.mp4 or .avi), written as they come."""
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"a video must end in one of {', '.join(sorted(VIDEO_SUFFIXES))}, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for frame in frames:
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[suffix]), fps, size)
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {suffix} video here; try .avi or a .png strip")
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
    finally:
        if writer is not None:
            writer.release()
    return path


def write_view(ep: Episode, camera: str, out: Path, frames: int = 6, fps: float = 20.0, scale: int = 4) -> Path:
    """Write a video (.mp4/.avi: every frame) or an image strip (.png/.jpg: ``frames`` frames)."""
    if camera not in ep.images:
        raise ValueError(f"episode has no camera {camera!r}; it has {ep.cameras}")
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix in VIDEO_SUFFIXES:
        write_video(out, (overlay_frame(ep, camera, t, scale) for t in range(ep.num_frames)), fps)
    elif suffix in IMAGE_SUFFIXES:
        picks = np.linspace(0, ep.num_frames - 1, min(frames, ep.num_frames)).round().astype(int)
        tiles = [overlay_frame(ep, camera, int(t), scale) for t in picks]
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        strip = np.concatenate([x for tile in tiles for x in (tile, gap)][:-1], axis=1)
        if not cv2.imwrite(str(out), strip[..., ::-1]):
            raise RuntimeError(f"could not write {out}")
    else:
        known = sorted(VIDEO_SUFFIXES) + sorted(IMAGE_SUFFIXES)
        raise ValueError(f"--out must end in one of {', '.join(known)}, got {out.name!r}")
    return out
