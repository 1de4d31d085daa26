"""Dataset folders: manifest checks, listing and summaries."""

import pytest
from test_episode_io import make_episode

from amplify_ros.data.dataset import DatasetMismatchError, episode_path, list_episodes, prepare, summarize
from amplify_ros.data.episode import write_episode

MANIFEST = {"env": "metaworld", "image_size": 128, "cameras": ["corner"], "seed": 0}


def test_prepare_creates_then_accepts_the_same_settings(tmp_path):
    root = tmp_path / "ds"
    prepare(root, MANIFEST)
    prepare(root, dict(MANIFEST))  # same settings: extending the dataset is fine


def test_prepare_refuses_a_different_dataset(tmp_path):
    prepare(tmp_path / "ds", MANIFEST)
    with pytest.raises(DatasetMismatchError, match="image_size: folder has 128, asked for 64"):
        prepare(tmp_path / "ds", {**MANIFEST, "image_size": 64})


def test_prepare_refuses_a_folder_that_holds_something_else(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetMismatchError, match="not empty"):
        prepare(tmp_path, MANIFEST)


def test_summary_counts_episodes_and_reports_corrupt_files(tmp_path):
    prepare(tmp_path, MANIFEST)
    write_episode(episode_path(tmp_path, "door-open", 0), make_episode())
    write_episode(episode_path(tmp_path, "door-open", 1), make_episode(with_actions=False))
    episode_path(tmp_path, "reach", 0).parent.mkdir()
    episode_path(tmp_path, "reach", 0).write_bytes(b"garbage")
    (tmp_path / "door-open" / "episode_00002.h5.tmp-123").write_bytes(b"half")
    assert len(list_episodes(tmp_path)) == 3
    info = summarize(tmp_path).as_dict()
    assert info["episodes"] == 2 and info["frames"] == 14
    assert info["with_actions"] == 1 and info["with_tracks"] == 2
    assert list(info["corrupt"]) == ["reach/episode_00000.h5"]
    assert info["leftover_temp_files"] == 1


def test_split_is_deterministic_per_task_and_caps_training_episodes(tmp_path):
    from tiny import tiny_dataset

    from amplify_ros.data.windows import split_episodes

    root = tiny_dataset(tmp_path / "ds", episodes=6, frames=4)
    a = split_episodes(root, 0.2, seed=1, holdout_tasks=["reach"], train_per_task=3)
    assert a == split_episodes(root, 0.2, seed=1, holdout_tasks=["reach"], train_per_task=3)
    assert len(a.val) == 1 and len(a.train) == 3 and len(a.heldout_tasks) == 6
    assert all(p.startswith("push/") for p in a.train + a.val) and not set(a.train) & set(a.val)
