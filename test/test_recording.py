"""Recorded episodes without ROS: folders and indices, episode.yaml, the latched task, discard,
success, write failures, conversion into the dataset."""

import pytest
import yaml
from bags import IMAGE, JOINT_STATE, STRING, T0, TRAJECTORY, image, recording, string

from amplify_ros.data.bag_import import BagImportSettings, bag_episodes
from amplify_ros.data.bag_reader import BagReader
from amplify_ros.data.bag_writer import BagRecorder, BagWriteError
from amplify_ros.data.episode import read_episode
from amplify_ros.data.recording import EpisodeRecorder, recorded_in


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_episodes_are_numbered_bags_that_start_with_the_latched_task(tmp_path, storage):
    (tmp_path / "demo_0006").mkdir()  # a restarted recorder continues after what is there
    rec = EpisodeRecorder()
    rec.receive("/amplify/task", STRING, string("press the button"), T0, latched=True)  # before recording
    rec.receive("/camera/image_raw", IMAGE, image(T0, 1), T0)  # not latched, not recording: gone
    path = rec.start(tmp_path, "demo", T0 + 10, mode="teleop", storage=storage)
    assert path == tmp_path / "demo_0007"
    for k in range(3):
        rec.receive("/camera/image_raw", IMAGE, image(T0 + k, k), T0 + 20 + k)
    with pytest.raises(RuntimeError, match="already recording episode 7"):
        rec.start(tmp_path, "demo", T0)
    info = rec.stop(T0 + 100)
    messages = list(BagReader(path).messages())
    assert [(m.topic, m.timestamp) for m in messages[:2]] == [
        ("/amplify/task", T0 + 10),
        ("/camera/image_raw", T0 + 20),
    ]
    assert len(messages) == 4 and info["messages"] == 4 and info["bytes"] == sum(len(m.data) for m in messages)
    on_disk = yaml.safe_load((path / "episode.yaml").read_text())
    assert on_disk["success"] is None and on_disk["topics"]["/camera/image_raw"] == {"type": IMAGE, "messages": 3}
    assert on_disk["started_ns"] == T0 + 10 and on_disk["stopped_ns"] == T0 + 100
    assert [p.suffix for p in path.glob("demo_0007_*")] == [{"mcap": ".mcap", "sqlite3": ".db3"}[storage]]
    with pytest.raises(RuntimeError, match="not recording"):
        rec.stop(T0)


def test_discard_deletes_the_current_or_last_episode_and_success_lands_in_imported_episodes(tmp_path):
    rec = EpisodeRecorder()
    path = rec.start(tmp_path, "ep", T0)
    for topic, msgtype, data, t in recording(duration=0.5):
        rec.receive(topic, msgtype, data, t)
    rec.stop(T0)
    rec.mark_success(True)
    settings = BagImportSettings(action_topic="/cmd")
    assert bag_episodes(path, None, settings).episodes[0].success is True
    converted = rec.convert(tmp_path / "ds", settings)  # write_episodes: the same import
    rec.mark_success(False)  # a verdict changed after conversion reaches the dataset too
    assert read_episode(converted[0], images=False).success is False
    assert rec.discard() == path and not path.exists() and not converted[0].exists()
    with pytest.raises(RuntimeError, match="no episode to discard"):
        rec.discard()
    second = rec.start(tmp_path, "ep", T0)
    assert second == path  # a discarded index is taken again
    rec.discard()  # while recording: stops and deletes
    assert not rec.recording and not second.exists()


def test_a_write_failure_ends_the_episode_keeps_what_was_flushed_and_allows_a_new_one(tmp_path, monkeypatch):
    rec = EpisodeRecorder()
    path = rec.start(tmp_path, "ep", T0, flush_seconds=0.0)  # flush every message
    rec.receive("/camera/image_raw", IMAGE, image(T0, 1), T0)

    def disk_full(*args):
        raise BagWriteError(f"cannot write to bag {path}: disk full (ENOSPC) at {path}/ep_0000/ep_0000_0.mcap")

    monkeypatch.setattr(BagRecorder, "write", disk_full)
    with pytest.raises(BagWriteError, match="disk full"):
        rec.receive("/camera/image_raw", IMAGE, image(T0 + 1, 2), T0 + 1)
    assert not rec.recording and "disk full" in rec.last_error and rec.status()["state"] == "idle"
    assert "disk full" in yaml.safe_load((path / "episode.yaml").read_text())["error"]
    assert len(list(BagReader(path).messages())) == 1  # the flushed message survives
    monkeypatch.undo()
    assert rec.start(tmp_path, "ep", T0) == tmp_path / "ep_0001" and rec.last_error == ""


def test_an_unwritable_output_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")  # even root cannot create a folder inside a file
    rec = EpisodeRecorder()
    with pytest.raises(BagWriteError, match="not_a_folder.*Not a directory"):
        rec.start(blocker, "ep", T0)
    assert "Not a directory" in rec.last_error and not rec.recording
    with pytest.raises(ValueError, match="not a folder name"):
        rec.start(tmp_path, "a/b", T0)


def test_action_free_mode_records_cameras_and_the_task_only():
    assert recorded_in("action_free", IMAGE) and recorded_in("action_free", STRING)
    assert not recorded_in("action_free", JOINT_STATE) and not recorded_in("action_free", TRAJECTORY)
    assert recorded_in("teleop", TRAJECTORY)
    with pytest.raises(ValueError, match="mode must be one of"):
        recorded_in("video", IMAGE)
