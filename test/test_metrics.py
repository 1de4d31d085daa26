"""Track metrics on hand-computed cases (128 px: one pixel is 1/64 in normalised units)."""

import numpy as np
import pytest

from amplify_ros.core.metrics import (
    delta_auc,
    delta_avg,
    moving_tracks,
    mse,
    occlusion_accuracy,
    pixel_accuracy,
    track_metrics,
)

PX = 1 / 64
SIZE = (128, 128)


def test_perfect_prediction():
    gt = np.random.default_rng(0).uniform(-1, 1, (3, 16, 400, 2))
    m = track_metrics(gt, gt, SIZE)
    assert m == {"mse": 0.0, "pixel_acc": 1.0, "delta_auc": 1.0, "delta_avg": 1.0}


def test_known_offsets():
    gt = np.zeros((4, 2))
    pred = gt + np.array([[0.3 * PX, 0], [0, 0.7 * PX], [3.5 * PX, 0], [6 * PX, 8 * PX]])
    assert mse(pred, gt) == pytest.approx(np.mean((pred - gt) ** 2))
    # elements within 0.5 px: 0.3, 0 | 0 | 0 (of 0.3,0 | 0,0.7 | 3.5,0 | 6,8)
    assert pixel_accuracy(pred, gt, SIZE) == pytest.approx(4 / 8)
    # per element errors in px: 0.3,0 | 0,0.7 | 3.5,0 | 6,8 ; fraction below t for t=1..10
    errs = np.array([0.3, 0, 0, 0.7, 3.5, 0, 6, 8])
    assert delta_auc(pred, gt, SIZE) == pytest.approx(np.mean([np.mean(errs < t) for t in range(1, 11)]))
    # Euclidean per point: 0.3, 0.7, 3.5, 10 -> below 1,2,4,8,16: 2,2,3,3,4 of 4
    assert delta_avg(pred, gt, SIZE) == pytest.approx(np.mean([2, 2, 3, 3, 4]) / 4)


def test_mask_selects_points_and_sizes_scale_each_axis():
    gt = np.zeros((2, 2))
    pred = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert pixel_accuracy(pred, gt, SIZE, mask=np.array([True, False])) == 1.0
    # rows scale by H/2 = 10, cols by W/2 = 100: an error of 0.04 is 0.4 px in rows, 4 px in cols
    assert pixel_accuracy(np.array([[0.04, 0.04]]), np.zeros((1, 2)), (20, 200)) == 0.5
    assert np.isnan(mse(pred, gt, mask=np.array([False, False])))


def test_occlusion_accuracy():
    assert occlusion_accuracy(np.array([True, False, True]), np.array([True, True, True])) == pytest.approx(2 / 3)


def test_a_moving_track_gets_more_than_a_pixel_from_its_start_at_any_step():
    tracks = np.zeros((2, 5, 3, 2))  # (windows, steps, points, row/col) on a 64 px image: 1 px = 1/32
    tracks[0, 2, 0, 1] = 1.5 / 32  # point 0 goes 1.5 px away and comes back: moving
    tracks[0, :, 1, 0] = 0.9 / 32  # point 1 starts off-grid and stays: still
    tracks[1, 1:, 2] = 0.8 / 32  # point 2 goes 0.8 px along both axes (1.13 px): moving
    assert moving_tracks(tracks, (64, 64)).tolist() == [[True, False, False], [False, False, True]]
