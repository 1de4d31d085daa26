"""CoTracker (Karaev et al.) from a local checkout and a local checkpoint; nothing is downloaded.

The official ``hubconf.py`` entry points (``cotracker3_offline``, ``cotracker3_online``,
``cotracker2``, ``cotracker2v1``) download weights when ``pretrained=True``. Here the model is
built with ``pretrained=False`` through ``torch.hub.load(<checkout>, <entry>, source="local")``
and the checkpoint file given by the user is loaded into ``predictor.model``.

The offline predictor is called as ``predictor(video, queries=queries)`` with ``video``
(B, T, 3, H, W) float in 0..255 and ``queries`` (B, N, 3) as (frame, x, y) pixels; it returns
tracks (B, T, N, 2) as (x, y) pixels and visibility (B, T, N) bool. CoTracker puts pixel
centres on integers (it rescales by (W - 1) / (W' - 1)), so our continuous pixels are shifted
by half a pixel on the way in and out. Each window is one clip of ``horizon`` frames with
the grid queried at its frame 0, and windows are batched (the paper's code used 8).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from amplify_ros.core.tracks import GRID_SIZE, HORIZON
from amplify_ros.tracking.base import PointTracker, TrackWindow, from_xy, to_xy

REPO_URL = "https://github.com/facebookresearch/co-tracker"
CHECKPOINT_URLS = {
    "cotracker3_offline": "https://huggingface.co/facebook/cotracker3/resolve/main/scaled_offline.pth",
    "cotracker2": "https://huggingface.co/facebook/cotracker/resolve/main/cotracker2.pth",
    "cotracker2v1": "https://huggingface.co/facebook/cotracker/resolve/main/cotracker2v1.pth",
}
DEFAULT_MODEL = "cotracker3_offline"


class CoTrackerUnavailable(RuntimeError):
    """The CoTracker checkout or checkpoint is missing or unusable; the message says what to get."""


def load_cotracker(
    repo: str | os.PathLike | None,
    checkpoint: str | os.PathLike | None,
    model: str = DEFAULT_MODEL,
    device: str = "cpu",
) -> torch.nn.Module:
    """Build ``model`` from the checkout ``repo`` without weights, then load ``checkpoint``."""
    if model not in CHECKPOINT_URLS:
        raise CoTrackerUnavailable(f"unknown CoTracker model {model!r}; offline models: {', '.join(CHECKPOINT_URLS)}")
    if repo is None or not (Path(repo) / "hubconf.py").is_file():
        where = "no checkout given" if repo is None else f"{repo} has no hubconf.py"
        raise CoTrackerUnavailable(
            f"CoTracker needs a local checkout of its code ({where}): "
            f"git clone {REPO_URL} and pass its folder (--cotracker-repo / cotracker_repo)"
        )
    if checkpoint is None or not Path(checkpoint).is_file():
        where = "no checkpoint given" if checkpoint is None else f"{checkpoint} does not exist"
        raise CoTrackerUnavailable(
            f"CoTracker needs a local checkpoint for {model} ({where}): download {CHECKPOINT_URLS[model]} "
            f"(see {REPO_URL}) and pass the file (--cotracker-checkpoint / cotracker_checkpoint)"
        )
    try:
        predictor = torch.hub.load(str(repo), model, source="local", pretrained=False)
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "model" in state:
            state = state["model"]
        predictor.model.load_state_dict(state)
    except Exception as e:  # any failure inside third-party code means the same to the user
        raise CoTrackerUnavailable(f"could not load CoTracker {model} from {repo} with {checkpoint}: {e}") from e
    return predictor.to(device).eval()


class CoTrackerTracker(PointTracker):
    """Windows tracked by a CoTracker predictor, ``batch_size`` windows per forward pass.

    Window t runs once frame t + horizon - 1 has arrived (or at ``finish``, on the video padded
    with its last frame); in streaming use windows wait until a batch is full, so a live
    caller wanting the lowest latency sets ``batch_size=1``.
    """

    source = "cotracker"

    def __init__(
        self,
        predictor: torch.nn.Module,
        batch_size: int = 8,
        device: str = "cpu",
        grid_size: int = GRID_SIZE,
        horizon: int = HORIZON,
    ) -> None:
        super().__init__(grid_size, horizon)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.predictor = predictor
        self.batch_size = batch_size
        self.device = device
        self._reset()

    def _reset(self) -> None:
        self._frames: list[np.ndarray] = []  # frames from index self._first on
        self._first = 0
        self._next_start = 0  # first window not run yet

    def _push(self, frame: np.ndarray) -> list[TrackWindow]:
        self._frames.append(frame)
        ready = self.frames_seen + 2 - self.horizon  # windows [next_start, ready) are complete
        if ready - self._next_start < self.batch_size:
            return []
        return self._run(range(self._next_start, ready))

    def _finish(self) -> list[TrackWindow]:
        return self._run(range(self._next_start, self.frames_seen))

    def _run(self, starts: range) -> list[TrackWindow]:
        """Track windows ``starts`` in batches, then drop frames no later window needs."""
        count = self._first + len(self._frames)  # frames seen, including the one being pushed
        out = []
        for b in range(0, len(starts), self.batch_size):
            out += self._track_batch(list(starts[b : b + self.batch_size]), count)
        self._next_start = starts.stop
        drop = self._next_start - self._first
        if drop > 0:
            del self._frames[:drop]
            self._first += drop
        return out

    def _track_batch(self, starts: list[int], count: int) -> list[TrackWindow]:
        last = count - 1
        clips = [
            [self._frames[min(s + k, last) - self._first] for k in range(self.horizon)] for s in starts
        ]  # past the end: the last frame again
        video = torch.from_numpy(np.array(clips)).to(self.device).permute(0, 1, 4, 2, 3).float()  # (B, T, 3, H, W)
        xy = to_xy(self.grid_pixels())  # (N, 2)
        queries = np.concatenate([np.zeros((len(xy), 1)), xy], axis=1)  # (N, 3): frame 0, x, y
        queries = torch.from_numpy(np.repeat(queries[None], len(starts), axis=0)).float().to(self.device)
        with torch.inference_mode():
            tracks, visible = self.predictor(video, queries=queries)
        tracks = tracks.cpu().numpy()  # (B, T, N, 2) x, y
        visible = visible.cpu().numpy().reshape(tracks.shape[:3]).astype(bool)
        return [
            self.make_window(s, from_xy(tracks[i]), visible[i], min(self.horizon, count - s))
            for i, s in enumerate(starts)
        ]
