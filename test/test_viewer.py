"""Track overlays: something is drawn where tracks move, files are written and readable."""

import cv2
import numpy as np
import pytest
from test_episode_io import make_episode

from amplify_ros.core.overlay import draw_tracks, point_colors
from amplify_ros.core.tracks import grid_queries
from amplify_ros.data.viewer import write_view


def test_moving_tracks_are_drawn_and_static_ones_are_dots():
    image = np.zeros((32, 32, 3), np.uint8)
    points = np.repeat(grid_queries(4)[None], 16, axis=0)  # 16 points, all still
    points[:, 5, 1] = np.linspace(-0.4, 0.6, 16)  # point 5 moves right
    out = draw_tracks(image, points, np.ones((16, 16), bool), scale=4)
    assert out.shape == (128, 128, 3)
    row = int((points[0, 5, 0] + 1) * 64)
    lit = np.flatnonzero(out[row - 1 : row + 2].max(axis=(0, 2)) > 0)
    assert lit.max() - lit.min() > 50  # a line across the path
    assert out.sum() < 128 * 128 * 3 * 255 * 0.1  # and not much else


def test_colours_differ_between_neighbours():
    colors = point_colors(400).astype(int)
    assert (np.abs(np.diff(colors[:20], axis=0)).sum(axis=1) > 0).all()


def test_write_strip_and_video(tmp_path):
    ep = make_episode(t=5)
    strip = write_view(ep, "corner", tmp_path / "s.png", frames=3, scale=2)
    img = cv2.imread(str(strip))
    assert img.shape == (32, 3 * 32 + 2 * 4, 3)
    video = write_view(ep, "corner", tmp_path / "v.mp4", scale=2)
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    with pytest.raises(ValueError, match="must end in"):
        write_view(ep, "corner", tmp_path / "v.txt")
    with pytest.raises(ValueError, match="no camera 'wrist'"):
        write_view(ep, "wrist", tmp_path / "v.png")
