"""One interface, one layout: streaming and batch use, the oracle, and LK against it."""

import numpy as np
import pytest

from amplify_ros.core.tracks import grid_queries
from amplify_ros.data.episode import read_episode
from amplify_ros.tracking.base import track_video
from amplify_ros.tracking.lk import LKTracker
from amplify_ros.tracking.oracle import OracleTracker


def moving_frames(count: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Random blobs sliding right by one pixel per frame."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size + count, 3), dtype=np.uint8)
    return np.stack([base[:, count - k : count - k + size] for k in range(count)])


def test_streaming_returns_each_window_when_its_last_frame_arrives():
    tracker = LKTracker()
    frames = moving_frames(20)
    arrived = {}
    for t, frame in enumerate(frames):
        for w in tracker.push(frame):
            arrived[w.start] = t
    assert arrived == {s: s + 15 for s in range(5)}
    rest = tracker.finish()
    assert [w.start for w in rest] == list(range(5, 20))
    assert tracker.frames_seen == 0  # ready for the next video


def test_streaming_and_batch_give_the_same_tracks():
    frames = moving_frames(20)
    tracker = LKTracker()
    streamed = [w for f in frames for w in tracker.push(f)] + tracker.finish()
    batch = track_video(LKTracker(), frames)
    for w in streamed:
        assert np.array_equal(w.points, batch.points[w.start])
        assert np.array_equal(w.visible, batch.visible[w.start])


def test_windows_past_the_end_repeat_the_last_frame():
    tracks = track_video(LKTracker(), moving_frames(6))
    assert tracks.points.shape == (6, 16, 400, 2) and tracks.points.dtype == np.float32
    for t in range(6):
        seen = 6 - t
        assert np.array_equal(tracks.points[t, seen:], np.broadcast_to(tracks.points[t, seen - 1], (16 - seen, 400, 2)))
        assert np.array_equal(tracks.visible[t, seen:], np.broadcast_to(tracks.visible[t, seen - 1], (16 - seen, 400)))
    assert not np.array_equal(tracks.points[0, 5], tracks.points[0, 0])  # ...and before that they move


def test_frames_must_be_rgb_uint8_of_one_size():
    tracker = LKTracker()
    with pytest.raises(ValueError, match="uint8 RGB"):
        tracker.push(np.zeros((8, 8), np.uint8))
    tracker.push(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="frame size changed"):
        tracker.push(np.zeros((9, 8, 3), np.uint8))


def test_oracle_replays_the_stored_ground_truth_exactly(short_dataset):
    path = short_dataset / "button-press-topdown" / "episode_00000.h5"
    ep = read_episode(path)
    replay = track_video(OracleTracker.from_episode(path), ep.images["corner"])
    assert replay.source == "oracle"
    assert np.array_equal(replay.points, ep.tracks["corner"].points)
    assert np.array_equal(replay.visible, ep.tracks["corner"].visible)


def test_lk_and_oracle_share_layout_and_conventions(short_dataset):
    path = short_dataset / "button-press-topdown" / "episode_00000.h5"
    ep = read_episode(path)
    gt = track_video(OracleTracker.from_episode(path), ep.images["corner"])
    lk = track_video(LKTracker(), ep.images["corner"])
    assert lk.source == "lk"
    assert (lk.points.shape, lk.points.dtype, lk.visible.shape, lk.visible.dtype) == (
        gt.points.shape,
        gt.points.dtype,
        gt.visible.shape,
        gt.visible.dtype,
    )
    grid = grid_queries().astype(np.float32)
    assert np.array_equal(lk.points[:, 0], np.broadcast_to(grid, lk.points[:, 0].shape))
    assert np.array_equal(gt.points[:, 0], lk.points[:, 0]) and lk.visible[:, 0].all()
    # same coordinates: mostly within a pixel of the truth where both see the point
    both = gt.visible & lk.visible
    err_px = np.linalg.norm(lk.points - gt.points, axis=-1) * 32  # 64 px image
    assert np.mean(err_px[both] < 1.0) > 0.9


def test_oracle_refuses_tracks_that_are_not_ground_truth(short_dataset, tmp_path):
    from amplify_ros.data.episode import Tracks, write_episode

    ep = read_episode(short_dataset / "button-press-topdown" / "episode_00000.h5")
    tr = ep.tracks["corner"]
    ep.tracks["corner"] = Tracks(tr.points, tr.visible, "lk")
    write_episode(tmp_path / "lk.h5", ep)
    with pytest.raises(ValueError, match="tracks from 'lk', not simulator ground truth"):
        OracleTracker.from_episode(tmp_path / "lk.h5")
