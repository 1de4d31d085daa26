"""Lucas-Kanade on synthetic videos whose motion is known exactly."""

import cv2
import numpy as np
import pytest

from amplify_ros.core.tracks import grid_queries, to_pixels
from amplify_ros.tracking.base import track_video
from amplify_ros.tracking.lk import LKConfig, LKTracker

SIZE = 128


def texture(seed: int = 0, side: int = 3 * SIZE) -> np.ndarray:
    """A random RGB texture, large enough that warped crops never show its border. Blurred
    noise, histogram-equalised so that every patch has contrast (flat areas have their own test)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, (side, side, 3)).astype(np.float32), (0, 0), 1.0)
    noise = cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.stack([cv2.equalizeHist(noise[..., c]) for c in range(3)], axis=-1)


def warped_video(matrices: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """Frames of the texture's centre crop, each moved by a 2x3 affine map given in the crop's
    OpenCV (x, y) coordinates (pixel centres on integers)."""
    big = texture(seed)
    off = (big.shape[0] - SIZE) // 2
    shift = np.array([[1, 0, off], [0, 1, off], [0, 0, 1]], np.float64)  # crop -> big coordinates
    frames = []
    for m in matrices:
        big_m = shift @ np.vstack([m, [0, 0, 1]]) @ np.linalg.inv(shift)
        frames.append(
            cv2.warpAffine(big, big_m[:2], big.shape[1::-1], flags=cv2.INTER_LINEAR)[off : off + SIZE, off : off + SIZE]
        )
    return np.stack(frames)


def expected_pixels(m: np.ndarray) -> np.ndarray:
    """Where the grid of frame 0 is in a frame moved by ``m``, as our pixel (row, col)."""
    px = to_pixels(grid_queries(), SIZE, SIZE)
    xy = px[:, ::-1] - 0.5
    moved = xy @ m[:, :2].T + m[:, 2]
    return moved[:, ::-1] + 0.5


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy]], np.float64)


def window_pixels(tracks, t: int = 0) -> np.ndarray:
    return to_pixels(tracks.points[t], SIZE, SIZE)  # (16, N, 2) row, col


def inside(pixels: np.ndarray, margin: float) -> np.ndarray:
    return ((pixels >= margin) & (pixels < SIZE - margin)).all(axis=-1)


def assert_recovered(tracks, mats: list[np.ndarray], k: int) -> None:
    """Window 0 at step k. Points whose 9 px LK window stayed inside the image all along:
    visible and within 0.5 px. Nearer the border OpenCV fills the window's outside by repeating
    edge pixels, which biases the estimate: within 1.5 px there."""
    path = np.stack([expected_pixels(m) for m in mats[: k + 1]])
    away = inside(path, 5.0).all(axis=0)
    px, vis = window_pixels(tracks)[k], tracks.visible[0, k]
    assert vis[away].all()
    err = np.linalg.norm(px - path[-1], axis=-1)
    assert err[vis & away].max() < 0.5, f"{err[vis & away].max():.3f} px"
    assert err[vis & ~away].max() < 1.5, f"{err[vis & ~away].max():.3f} px"


def test_subpixel_translation_is_recovered_within_half_a_pixel():
    step = (0.7, -0.4)  # x (columns) and y (rows) per frame
    mats = [translation(step[0] * k, step[1] * k) for k in range(16)]
    tracks = track_video(LKTracker(), warped_video(mats))
    for k in (1, 5, 15):
        assert_recovered(tracks, mats, k)
    px = window_pixels(tracks)
    # coordinate order: x motion changes columns, y motion rows
    drift = px[15] - px[0]
    assert np.median(drift[:, 1]) == pytest.approx(10.5, abs=0.1)
    assert np.median(drift[:, 0]) == pytest.approx(-6.0, abs=0.1)


def test_rotation_is_recovered_within_half_a_pixel():
    centre = (SIZE / 2 - 0.5, SIZE / 2 - 0.5)  # the image centre in OpenCV coordinates
    mats = [cv2.getRotationMatrix2D(centre, 0.4 * k, 1.0) for k in range(16)]  # 6 degrees at step 15
    tracks = track_video(LKTracker(), warped_video(mats, seed=1))
    assert np.abs(expected_pixels(mats[15]) - window_pixels(tracks)[0]).max() > 6  # corners really move
    assert_recovered(tracks, mats, 15)


def test_points_that_leave_the_image_become_invisible():
    mats = [translation(3.0 * k, 0.0) for k in range(16)]  # 3 px per frame to the right
    tracks = track_video(LKTracker(), warped_video(mats, seed=2))
    vis = tracks.visible[0]
    expected = expected_pixels(mats[15])
    gone = expected[:, 1] >= SIZE + 1  # clearly out by the last step
    assert gone.sum() >= 40
    assert not vis[15][gone].any()
    stayed = inside(expected, 5.0)
    assert vis[15][stayed].mean() > 0.95  # fast motion (3 px/frame): a rare FB failure is fine
    err = np.linalg.norm(window_pixels(tracks)[15] - expected, axis=-1)
    assert err[vis[15] & stayed].max() < 0.5
    # a point that left stays invisible for the rest of its window
    first_out = vis[:, gone].argmin(axis=0)
    assert all(not vis[k:, p].any() for k, p in zip(first_out, np.flatnonzero(gone)))


def test_a_flat_image_keeps_every_point_still_and_visible():
    frames = np.full((5, SIZE, SIZE, 3), 90, np.uint8)
    tracks = track_video(LKTracker(), frames)
    assert tracks.visible.all()
    assert np.array_equal(tracks.points, np.broadcast_to(grid_queries().astype(np.float32), tracks.points.shape))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="win_size"):
        LKConfig(win_size=8)
    with pytest.raises(ValueError, match="fb_threshold_px"):
        LKConfig(fb_threshold_px=0)


def test_a_scene_cut_loses_textured_points_and_tracking_goes_on():
    frames = np.concatenate(
        [warped_video([translation(0, 0)] * 3, seed=3), warped_video([translation(0, 0)] * 3, seed=4)]
    )
    tracks = track_video(LKTracker(), frames)
    assert tracks.visible[0, 3:].mean() < 0.2  # nothing of frame 0 is found after the cut
    assert tracks.visible[3].all()  # the windows after the cut see their own frames
