"""amplify-data track and import-video, end to end on real files."""

import shutil

import cv2
import numpy as np
import pytest
import yaml

from amplify_ros.data.episode import read_episode, read_summary, write_episode
from amplify_ros.train.data_cli import main


@pytest.fixture
def untracked(short_dataset, tmp_path):
    """The short dataset with the tracks of episode 1 removed."""
    root = tmp_path / "ds"
    shutil.copytree(short_dataset, root)
    path = root / "button-press-topdown" / "episode_00001.h5"
    ep = read_episode(path)
    ep.tracks = {}
    write_episode(path, ep)
    return root


def sources(root):
    return {p.name: read_summary(p).track_sources for p in sorted(root.rglob("episode_0000[01].h5"))}


def test_track_fills_missing_tracks_and_leaves_the_others(untracked, capsys):
    before = read_episode(untracked / "button-press-topdown" / "episode_00001.h5")
    assert main(["track", str(untracked)]) == 0
    assert sources(untracked) == {"episode_00000.h5": {"corner": "oracle"}, "episode_00001.h5": {"corner": "lk"}}
    assert "1 episode(s) tracked with lk, 1 already had tracks" in capsys.readouterr().err
    after = read_episode(untracked / "button-press-topdown" / "episode_00001.h5")
    assert after.tracks["corner"].points.shape == (7, 16, 400, 2)
    assert np.array_equal(after.images["corner"], before.images["corner"])  # the rest is kept
    assert np.array_equal(after.actions, before.actions) and after.seed == before.seed


def test_track_skips_tracked_episodes_and_overwrite_replaces_them(untracked):
    assert main(["track", str(untracked)]) == 0
    lk_file = untracked / "button-press-topdown" / "episode_00001.h5"
    mtime = lk_file.stat().st_mtime_ns
    assert main(["track", str(untracked)]) == 0
    assert lk_file.stat().st_mtime_ns == mtime  # nothing to do
    assert main(["track", str(untracked), "--overwrite", "--workers", "2"]) == 0
    assert sources(untracked) == {"episode_00000.h5": {"corner": "lk"}, "episode_00001.h5": {"corner": "lk"}}


def test_track_shards_split_episodes(untracked):
    ep0 = untracked / "button-press-topdown" / "episode_00000.h5"
    ep = read_episode(ep0)
    ep.tracks = {}
    write_episode(ep0, ep)
    assert main(["track", str(untracked), "--shard", "1/2"]) == 0
    assert sources(untracked) == {"episode_00000.h5": {}, "episode_00001.h5": {"corner": "lk"}}


def test_track_reports_unreadable_episodes_and_goes_on(untracked, capsys):
    (untracked / "button-press-topdown" / "episode_00002.h5").write_bytes(b"not hdf5")
    assert main(["track", str(untracked)]) == 1  # 1: something was skipped, the rest tracked
    err = capsys.readouterr().err
    assert "skipped" in err and "episode_00002.h5" in err and "1 unreadable" in err
    assert sources(untracked)["episode_00001.h5"] == {"corner": "lk"}


def test_track_with_cotracker_missing_fails_at_start(untracked, capsys):
    assert main(["track", str(untracked), "--backend", "cotracker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amplify-data: error: CoTracker needs a local checkout")
    assert "github.com/facebookresearch/co-tracker" in err and "Traceback" not in err
    assert sources(untracked)["episode_00001.h5"] == {}


def write_mp4(path, frames: int, fps: float, size=(160, 120)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for k in range(frames):
        img = np.zeros((size[1], size[0], 3), np.uint8)
        img[:, :, 2] = 200  # red in BGR
        cv2.putText(img, str(k), (60, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(img)
    writer.release()


def test_import_video_reads_files_and_folders_and_skips_bad_ones(tmp_path, capsys):
    write_mp4(tmp_path / "clip.mp4", frames=45, fps=30)
    folder = tmp_path / "shots"
    folder.mkdir()
    for k in (1, 2, 10):  # named so that plain sorting would put 10 before 2
        img = np.full((90, 200, 3), 20 * k, np.uint8)
        cv2.imwrite(str(folder / f"frame_{k}.png"), img)
    (tmp_path / "broken.avi").write_bytes(b"this is no video")
    out = tmp_path / "videos"
    files = [tmp_path / "clip.mp4", tmp_path / "broken.avi", folder]
    assert (
        main(["import-video", *map(str, files), "--task", "Pick up the RED cup!", "--out", str(out), "--fps", "15"])
        == 1
    )
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.avi" in err and "imported 2 video(s)" in err
    video = read_episode(out / "pick-up-the-red-cup" / "episode_00000.h5")
    assert video.env == "video" and video.actions is None and video.proprio is None and not video.tracks
    assert video.sentence == "Pick up the RED cup!" and video.fps == 15.0
    assert video.images["video"].shape == (23, 128, 128, 3)  # 45 frames at 30 fps -> every other one
    assert video.images["video"][0, 64, 5, 0] > 150  # stored RGB: red
    shots = read_episode(out / "pick-up-the-red-cup" / "episode_00001.h5")
    assert shots.images["video"][:, 0, 0, 0].tolist() == [20, 40, 200]  # natural order
    assert yaml.safe_load((out / "dataset.yaml").read_text())["env"] == "video"


def test_import_video_appends_and_then_tracks(tmp_path):
    write_mp4(tmp_path / "a.mp4", frames=10, fps=20)
    out = tmp_path / "videos"
    for _ in range(2):
        assert main(["import-video", str(tmp_path / "a.mp4"), "--task", "wave", "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "wave").iterdir()) == ["episode_00000.h5", "episode_00001.h5"]
    assert main(["track", str(out)]) == 0
    assert read_summary(out / "wave" / "episode_00001.h5").track_sources == {"video": "lk"}


def test_import_video_with_nothing_readable_is_an_error(tmp_path, capsys):
    (tmp_path / "x.mp4").write_bytes(b"")
    assert main(["import-video", str(tmp_path / "x.mp4"), "--task", "wave", "--out", str(tmp_path / "o")]) == 2
    assert "none of the 1 input(s) could be imported" in capsys.readouterr().err
    assert main(["import-video", str(tmp_path / "x.mp4"), "--task", "!!!", "--out", str(tmp_path / "o")]) == 2
    assert "no letters or digits" in capsys.readouterr().err
