"""CoTracker backend without the real model: a stand-in hub module loaded the same way.

The stand-in ``hubconf.py`` (written into tmp_path) mimics the official entry point: it refuses
``pretrained=True`` (that would download), returns a predictor whose ``model`` holds a
per-frame velocity loaded from our checkpoint, and moves every query by it in CoTracker's
conventions: video (B, T, 3, H, W) float 0..255, queries (B, N, 3) as (t, x, y), tracks
(B, T, N, 2) as (x, y) with pixel centres on integers, visibility (B, T, N) bool.
"""

import numpy as np
import pytest
import torch

from amplify_ros.core.tracks import grid_queries, to_normalised, to_pixels
from amplify_ros.tracking import TrackerSpec
from amplify_ros.tracking.base import track_video
from amplify_ros.tracking.cotracker import CoTrackerTracker, CoTrackerUnavailable, load_cotracker

HUBCONF = """
import torch


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.velocity = torch.nn.Parameter(torch.zeros(2))  # x, y pixels per frame


class _Predictor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = _Model()
        self.calls = []  # video shapes seen, for the test

    def forward(self, video, queries=None):
        B, T, C, H, W = video.shape
        assert C == 3 and video.dtype == torch.float32 and float(video.max()) > 1.0
        assert queries.shape[0] == B and queries.shape[2] == 3 and bool((queries[..., 0] == 0).all())
        self.calls.append(tuple(video.shape))
        steps = torch.arange(T, dtype=torch.float32)[None, :, None, None]
        tracks = queries[:, None, :, 1:] + steps * self.model.velocity  # (B, T, N, 2)
        visible = tracks[..., 0] < W - 1  # leaves on the right: invisible
        return tracks, visible


def cotracker3_offline(*, pretrained: bool = True, **kwargs):
    if pretrained:
        raise RuntimeError("the stand-in would download weights")
    return _Predictor()
"""


@pytest.fixture
def hub(tmp_path):
    repo = tmp_path / "co-tracker"
    repo.mkdir()
    (repo / "hubconf.py").write_text(HUBCONF)
    checkpoint = tmp_path / "scaled_offline.pth"
    torch.save({"model": {"velocity": torch.tensor([2.0, 0.5])}}, checkpoint)
    return repo, checkpoint


def test_windows_are_converted_batched_and_padded(hub):
    predictor = load_cotracker(*hub)
    frames = np.random.default_rng(0).integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
    tracks = track_video(CoTrackerTracker(predictor, batch_size=8), frames)
    assert predictor.calls == [(8, 16, 3, 64, 64), (8, 16, 3, 64, 64), (4, 16, 3, 64, 64)]
    assert tracks.source == "cotracker" and tracks.points.shape == (20, 16, 400, 2)
    grid_px = to_pixels(grid_queries(), 64, 64)
    k = np.arange(16)[:, None, None]
    expected = to_normalised(grid_px + k * np.array([0.5, 2.0]), 64, 64)  # (row, col): y 0.5, x 2 per frame
    assert np.allclose(tracks.points[0], expected, atol=1e-5)
    assert np.array_equal(tracks.points[:, 0], np.broadcast_to(grid_queries().astype(np.float32), (20, 400, 2)))
    # x + 2k >= W - 1 in CoTracker's pixels: col_px - 0.5 + 2k >= 63
    assert np.array_equal(tracks.visible[0], (grid_px[:, 1] - 0.5 + 2 * k[..., 0] < 63) | (k[..., 0] == 0))
    # window 12 saw 8 real frames; its steps 8.. repeat step 7
    assert np.array_equal(tracks.points[12, 8:], np.broadcast_to(tracks.points[12, 7], (8, 400, 2)))
    assert np.allclose(tracks.points[12, 7], expected[7], atol=1e-5)


def test_streaming_waits_for_a_full_batch(hub):
    tracker = CoTrackerTracker(load_cotracker(*hub), batch_size=2)
    frames = np.full((18, 32, 32, 3), 200, np.uint8)
    done = [[w.start for w in tracker.push(f)] for f in frames]
    assert done[15] == [] and done[16] == [0, 1] and done[17] == []
    assert [w.start for w in tracker.finish()] == list(range(2, 18))


def test_the_spec_builds_it_from_paths(hub):
    repo, checkpoint = hub
    tracker = TrackerSpec("cotracker", str(repo), str(checkpoint)).build()
    assert isinstance(tracker, CoTrackerTracker)
    assert tracker.predictor.model.velocity.tolist() == [2.0, 0.5]


@pytest.mark.parametrize(
    "which, message",
    [
        ("repo", "git clone https://github.com/facebookresearch/co-tracker"),
        ("checkpoint", "download https://huggingface.co/facebook/cotracker3/resolve/main/scaled_offline.pth"),
    ],
)
def test_missing_repo_or_checkpoint_says_what_to_get(hub, tmp_path, which, message):
    repo, checkpoint = hub
    args = {"repo": repo, "checkpoint": checkpoint}
    args[which] = tmp_path / "missing"
    with pytest.raises(CoTrackerUnavailable, match=message.replace(".", r"\.")):
        load_cotracker(args["repo"], args["checkpoint"])
    with pytest.raises(CoTrackerUnavailable, match="no checkout given"):
        load_cotracker(None, checkpoint)


def test_a_checkpoint_that_does_not_fit_is_reported(hub, tmp_path):
    repo, _ = hub
    bad = tmp_path / "other.pth"
    torch.save({"something": torch.zeros(3)}, bad)
    with pytest.raises(CoTrackerUnavailable, match="could not load CoTracker cotracker3_offline"):
        load_cotracker(repo, bad)
