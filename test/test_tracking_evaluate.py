"""Scoring a tracker against ground truth (tracking/evaluate.py)."""

import numpy as np
import pytest

from amplify_ros.core.tracks import grid_queries
from amplify_ros.data.episode import Tracks
from amplify_ros.tracking.evaluate import compare, error_overlay


def truth() -> Tracks:
    """Two windows on a 64 px image: point 0 moves 0.5 px/step along columns, the rest stay;
    point 1 is hidden from step 8 on."""
    points = np.broadcast_to(grid_queries(), (2, 16, 400, 2)).copy()
    points[:, :, 0, 1] += np.arange(16) * 0.5 / 32
    visible = np.ones((2, 16, 400), bool)
    visible[:, 8:, 1] = False
    return Tracks(points.astype(np.float32), visible, "oracle")


def test_the_truth_scores_perfectly():
    gt = truth()
    m = compare(gt, gt, (64, 64))
    assert m["mse"] == 0 and m["pixel_acc"] == 1 and m["delta_avg"] == 1 and m["occlusion_acc"] == 1
    assert m["delta_avg_moving"] == 1
    # point 0's track gets 7.5 px from its start: all its steps after the query are moving ones
    assert m["moving_fraction"] == pytest.approx(2 * 15 / (2 * 15 * 400 - 2 * 8))


def test_a_tracker_that_stands_still_is_wrong_only_where_things_move():
    gt = truth()
    still = Tracks(np.broadcast_to(gt.points[:, :1], gt.points.shape).copy(), np.ones_like(gt.visible), "lk")
    m = compare(still, gt, (64, 64))
    # moving: point 0 at steps 1..15, off by 0.5 .. 7.5 px; thresholds 1, 2, 4, 8, 16 px
    assert m["delta_avg_moving"] == pytest.approx(np.mean([1 / 15, 3 / 15, 7 / 15, 1, 1]))
    assert m["occlusion_acc"] == pytest.approx(1 - 8 / (15 * 400))  # point 1's hidden steps
    with pytest.raises(ValueError, match="layout"):
        compare(Tracks(gt.points[:1], gt.visible[:1], "lk"), gt, (64, 64))


def test_overlay_draws_the_moving_point_only():
    gt = truth()
    image = np.full((64, 64, 3), 100, np.uint8)
    out = error_overlay(image, gt.points[0], gt.visible[0], gt.points[0], gt.visible[0], scale=3)
    assert out.shape == (192, 192, 3)
    changed = np.argwhere((out != 60).any(axis=-1))  # dimmed background is 60
    assert len(changed) and changed[:, 0].max() < 20 and changed[:, 1].max() < 45  # near point 0 only
