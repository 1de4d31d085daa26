"""Video for LeRobot datasets, through PyAV (the FFmpeg LeRobot itself uses).

PyAV rather than OpenCV: OpenCV's FFmpeg here decodes no AV1 (LeRobot's default codec, so most
published datasets) and encodes neither H.264 nor AV1; PyAV's wheels carry dav1d, libx264 and
SVT-AV1. Export writes H.264 (libx264) by default: every FFmpeg decodes it, torchcodec and PyAV
(LeRobot's two decoders) included, and it encodes fast on a CPU; ``libsvtav1`` (LeRobot's own
default, smaller files, slower) and ``mpeg4`` can be chosen. Like LeRobot: yuv420p, a keyframe
every 2 frames (``g=2``) so that any frame decodes quickly, constant quality (``crf``).
Frame i of a file has the timestamp i / fps exactly (pts i, time base 1/fps).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CODECS = {"h264": "libx264", "libsvtav1": "libsvtav1", "mpeg4": "mpeg4"}  # --vcodec -> PyAV encoder
DEFAULT_CODEC = "h264"
PIX_FMT = "yuv420p"


class VideoDecodeError(RuntimeError):
    """A video file that cannot be opened or decoded."""


class VideoWriter:
    """Frames (H, W, 3) uint8 RGB -> one mp4 at ``fps``; ``frames`` counts what was written."""

    def __init__(self, path: Path, fps: int, height: int, width: int, codec: str = DEFAULT_CODEC, crf: int = 23) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        encoder = CODECS[codec]
        options = {"g": "2"}
        if encoder == "mpeg4":
            options["qscale"] = "2"  # mpeg4 has no crf: a fixed quantiser (2 = high quality)
        else:
            options["crf"] = str(crf)
        if encoder == "libsvtav1":
            options["preset"] = "12"  # LeRobot's LIBSVTAV1_DEFAULT_PRESET
        self.container = av.open(str(path), "w")
        self.stream = self.container.add_stream(encoder, rate=fps, options=options)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, PIX_FMT
        if encoder == "mpeg4":
            self.stream.codec_context.qmin = self.stream.codec_context.qmax = 2
        self.stream.codec_context.time_base = Fraction(1, fps)
        self.time_base = Fraction(1, fps)
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = self.frames, self.time_base
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode())
        self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def codec_name(path: Path) -> str:
    """The codec's canonical name as LeRobot records it (``video.codec``: h264, av1, mpeg4)."""
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.codec.canonical_name


class FrameReader:
    """Decodes one video file forward, frame by frame with its timestamp (seconds). Episodes are
    asked for in file order; asking for an earlier time reopens the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._open()

    def _open(self) -> None:
        try:
            self.container = av.open(str(self.path))
            stream = self.container.streams.video[0]
        except (av.error.FFmpegError, IndexError, OSError) as e:
            raise VideoDecodeError(f"{self.path}: cannot open as a video ({e})") from None
        stream.thread_type = "AUTO"
        self.frames = self.container.decode(stream)
        self.pending: tuple[float, np.ndarray] | None = None
        self.last = -np.inf

    def _next(self) -> tuple[float, np.ndarray] | None:
        if self.pending is not None:
            item, self.pending = self.pending, None
            return item
        try:
            frame = next(self.frames)
        except StopIteration:
            return None
        except av.error.FFmpegError as e:
            raise VideoDecodeError(f"{self.path}: decoding failed ({e})") from None
        return float(frame.time), frame.to_ndarray(format="rgb24")

    def frames_between(self, start: float, stop: float, tolerance: float) -> list[tuple[float, np.ndarray]]:
        """Every (time, frame) with start - tolerance <= time < stop - tolerance."""
        if start - tolerance < self.last:
            self.close()
            self._open()
        out = []
        while (item := self._next()) is not None:
            t, rgb = item
            if t < start - tolerance:
                continue
            if t >= stop - tolerance:
                self.pending = item
                break
            out.append(item)
            self.last = t
        return out

    def close(self) -> None:
        self.container.close()
