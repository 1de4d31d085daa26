"""Bags -> episodes: sampling at the camera rate, holding the latest state and action by stamp,
dropping and cutting where partners are stale, every supported message type."""

from pathlib import Path

import numpy as np
import pytest
from bags import (
    ARRAY,
    COMPRESSED,
    IMAGE,
    JOINT_STATE,
    JOINTS,
    LATENCY,
    T0,
    TWIST,
    compressed,
    image,
    joint_state,
    recording,
    seconds,
    stamps,
    write_bag,
)

from amplify_ros.data.bag_import import BagImportError, BagImportSettings, bag_episodes, camera_name, manifest

ACTION = BagImportSettings(action_topic="/cmd")


def held(at: int, stream: list[int]) -> int:
    """The latest stamp at or before ``at`` (brute force)."""
    return max(s for s in stream if s <= at)


def test_typical_rates_give_one_frame_per_camera_image_with_the_latest_state_and_action(tmp_path):
    bag = write_bag(tmp_path / "bag", recording(duration=3.0))
    result = bag_episodes(bag, None, ACTION)
    assert result.dropped == {"no_state_yet": 1}  # frame 0 comes before the first joint state
    (ep,) = result.episodes
    assert ep.sentence == "stack the red block" and ep.task == "stack-the-red-block"  # from the bag's task topic
    assert ep.num_frames == 89 and ep.fps == pytest.approx(30)
    assert (
        ep.images["camera"].shape == (89, 128, 128, 3) and ep.actions.shape == (88, 2) and ep.proprio.shape == (89, 3)
    )
    frame_stamps = stamps(3.0, 30)[1:]
    assert ep.extras["stamps_ns"].tolist() == frame_stamps  # header stamps, not arrival times
    assert ep.images["camera"][:, 60, 60, 0].tolist() == list(range(1, 90))
    states, actions = stamps(3.0, 200, offset=0.001), stamps(3.0, 10, offset=0.02)
    for i, s in enumerate(frame_stamps):
        assert ep.proprio[i, 0] == pytest.approx(seconds(held(s, states)), abs=1e-6)
        if i < 88:  # trajectories are stamped 0: their arrival time counts
            assert ep.actions[i, 0] == pytest.approx(seconds(held(s, actions)), abs=1e-6)
    assert ep.info["proprio"] == JOINTS + ["gripper"] and ep.info["actions"] == JOINTS


def test_a_lower_rate_takes_every_third_frame_and_selected_joints(tmp_path):
    bag = write_bag(tmp_path / "bag", recording(duration=3.0))
    (ep,) = bag_episodes(bag, "wave", BagImportSettings(rate=10, state_joints=("elbow",), size=32)).episodes
    assert ep.fps == 10 and ep.sentence == "wave" and ep.actions is None
    assert ep.images["camera"][:, 0, 0, 0].tolist() == list(range(3, 90, 3))  # grid point 0 has no state yet
    assert ep.proprio[:, 0] == pytest.approx(
        [-seconds(held(s, stamps(3.0, 200, offset=0.001))) for s in stamps(3.0, 30)[3::3]], abs=1e-6
    )
    with pytest.raises(BagImportError, match="above the camera's 30 Hz"):
        bag_episodes(bag, "wave", BagImportSettings(rate=60))


def test_stale_state_drops_frames_and_cuts_the_episode(tmp_path):
    msgs = [m for m in recording(duration=3.0) if not (m[1] == JOINT_STATE and 1.0 <= seconds(m[3] - LATENCY) < 1.6)]
    bag = write_bag(tmp_path / "bag", msgs)
    result = bag_episodes(bag, None, BagImportSettings(action_topic="/cmd", tolerance=0.1))
    first, second = result.episodes
    # the last state before the gap is at 0.996 s: frames after 1.096 s wait for the one at 1.601 s
    assert seconds(first.extras["stamps_ns"][-1]) == pytest.approx(3.2 / 3) and seconds(
        second.extras["stamps_ns"][0]
    ) == pytest.approx(1.6 + 1 / 30)
    assert result.dropped == {"no_state_yet": 1, "stale_state": 16}
    assert first.num_frames + second.num_frames + 17 == 90


def test_a_frame_sent_again_is_imported_once(tmp_path):
    msgs = recording(duration=3.0)
    images = [m for m in msgs if m[0] == "/camera/image_raw"]
    again = [(topic, kind, data, t + 300_000_000) for topic, kind, data, t in images[10:13]]  # re-sent 0.3 s later
    bag = write_bag(tmp_path / "bag", sorted(msgs + again, key=lambda m: m[3]))
    result = bag_episodes(bag, None, ACTION)
    clean = bag_episodes(write_bag(tmp_path / "clean", msgs), None, ACTION)
    assert result.dropped == {"no_state_yet": 1, "repeated_frame": 3}
    (ep,), (expected,) = result.episodes, clean.episodes
    assert ep.fps == pytest.approx(30) and ep.num_frames == expected.num_frames == 89
    assert ep.extras["stamps_ns"].tolist() == expected.extras["stamps_ns"].tolist()


@pytest.mark.parametrize("action", [ARRAY, TWIST])
def test_actions_from_arrays_and_twists(tmp_path, action):
    bag = write_bag(tmp_path / "bag", recording(action=action))
    (ep,) = bag_episodes(bag, None, ACTION).episodes
    assert ep.actions.shape[1] == (2 if action == ARRAY else 6)
    assert ep.actions[:, 1] == pytest.approx(2 * ep.actions[:, 0])
    if action == TWIST:
        assert ep.info["actions"][:3] == ["linear.x", "linear.y", "linear.z"]


def test_compressed_images_and_messages_that_do_not_fit_are_counted(tmp_path):
    msgs = [m for m in recording(duration=1.0) if m[0] != "/camera/image_raw"]
    for k, s in enumerate(stamps(1.0, 30)):
        msgs.append(("/camera/compressed", COMPRESSED, compressed(s, 100, "png" if k % 2 else "jpeg"), s + LATENCY))
    msgs.append(("/camera/compressed", COMPRESSED, compressed(T0 + 10**9, 0)[:-40], T0 + 10**9))  # cut short
    msgs.append(
        ("/joint_states", JOINT_STATE, joint_state(T0 + 2_000_000, ["gripper"], [0.1]), T0 + 2_000_000)
    )  # other joints
    bag = write_bag(tmp_path / "bag", msgs)
    result = bag_episodes(bag, None, ACTION)
    (ep,) = result.episodes
    assert ep.num_frames == 29 and np.abs(ep.images["camera"].astype(int) - 100).max() <= 2  # jpeg is lossy
    assert result.dropped["bad_image"] == 1 and result.dropped["bad_state"] == 1
    assert any("/joint_states: skipped 1 message(s)" in n for n in result.notes)


def test_topics_must_be_found_and_unambiguous(tmp_path):
    msgs = recording(duration=1.0)
    bag = write_bag(
        tmp_path / "bag", msgs + [("/camera2", m[1], m[2], m[3]) for m in msgs if m[0] == "/camera/image_raw"]
    )
    with pytest.raises(BagImportError, match="several image topics \\(/camera/image_raw, /camera2\\)"):
        bag_episodes(bag, None, ACTION)
    with pytest.raises(BagImportError, match="no action topic '/nope'"):
        bag_episodes(bag, None, BagImportSettings(image_topic="/camera2", action_topic="/nope"))
    with pytest.raises(BagImportError, match="action topic /joint_states is sensor_msgs/msg/JointState"):
        bag_episodes(bag, None, BagImportSettings(image_topic="/camera2", action_topic="/joint_states"))
    no_task = write_bag(tmp_path / "no_task", recording(duration=1.0, task=None))
    with pytest.raises(BagImportError, match="no task sentence"):
        bag_episodes(no_task, None, ACTION)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_bag_without_metadata_imports_the_same(tmp_path, storage):
    bag = write_bag(tmp_path / "bag", recording(duration=1.0), storage)
    before = bag_episodes(bag, None, ACTION).episodes[0]
    (bag / "metadata.yaml").unlink()
    after = bag_episodes(bag, None, ACTION).episodes[0]
    assert np.array_equal(before.images["camera"], after.images["camera"]) and np.array_equal(
        before.actions, after.actions
    )
    single = next(Path(bag).glob(f"*.{'mcap' if storage == 'mcap' else 'db3'}"))
    assert bag_episodes(single, None, ACTION).episodes[0].num_frames == before.num_frames  # a storage file alone


def test_import_bag_cli_writes_episodes_reports_drops_and_skips_bad_bags(tmp_path, capsys):
    from amplify_ros.data.episode import read_episode
    from amplify_ros.train.data_cli import main

    good = write_bag(tmp_path / "good", recording(duration=1.0))
    (tmp_path / "empty").mkdir()
    out = tmp_path / "ds"
    argv = [
        "import-bag",
        str(good),
        str(tmp_path / "empty"),
        "--out",
        str(out),
        "--action-topic",
        "/cmd",
        "--size",
        "32",
        "--state-joints",
        "elbow,shoulder",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "-> 1 episode(s)" in err and "29 frames" in err and "dropped: 1 frames before the first state" in err
    assert "skipped" in err and "no .mcap or .db3 files" in err
    ep = read_episode(out / "stack-the-red-block" / "episode_00000.h5")
    assert (
        ep.env == "rosbag"
        and ep.images["camera"].shape == (29, 32, 32, 3)
        and ep.info["proprio"] == ["elbow", "shoulder"]
    )
    assert (
        main(
            [
                "import-bag",
                str(tmp_path / "empty"),
                "--out",
                str(out),
                "--action-topic",
                "/cmd",
                "--size",
                "32",
                "--state-joints",
                "elbow,shoulder",
            ]
        )
        == 2
    )
    assert main(["import-bag", str(good), "--out", str(out), "--size", "64"]) == 2  # another dataset's settings
    assert "holds a different dataset" in capsys.readouterr().err


def test_an_extra_camera_is_paired_frame_by_frame_and_frames_without_it_are_dropped(tmp_path):
    msgs = recording(duration=2.0)
    wrist = [s + 4_000_000 for s in stamps(2.0, 30)]  # 4 ms after the main camera, as an unsynchronised camera is
    msgs += [
        ("/wrist/color/image_raw", IMAGE, image(s, 200 - k % 100), s + LATENCY)
        for k, s in enumerate(wrist)
        if not 0.5 <= seconds(s) < 0.7
    ]  # the wrist camera drops out for 0.2 s
    bag = write_bag(tmp_path / "bag", sorted(msgs, key=lambda m: m[3]))
    settings = BagImportSettings(action_topic="/cmd", extra_image_topics=("/wrist/color/image_raw",), view_skew=0.02)
    result = bag_episodes(bag, None, settings)  # the main camera is still found alone: the extra one is named
    assert result.dropped == {"no_state_yet": 1, "stale_view": 6}  # frames 15-20 (0.5-0.67 s)
    first, second = result.episodes
    for ep in (first, second):
        assert list(ep.images) == ["camera", "wrist"] and ep.images["wrist"].shape == ep.images["camera"].shape
        main_k = ep.images["camera"][:, 0, 0, 0].astype(int)  # frame k of each camera shows k
        assert (ep.images["wrist"][:, 0, 0, 0] == 200 - main_k % 100).all()  # each paired with its own moment
    assert manifest(settings)["cameras"] == ["camera", "wrist"] and camera_name("/cam/image_raw/compressed") == "cam"
    with pytest.raises(ValueError, match="names must differ"):
        BagImportSettings(extra_image_topics=("/a/wrist/image_raw", "/b/wrist/image_raw"))
    with pytest.raises(BagImportError, match="no extra image topic '/side/image_raw'"):
        bag_episodes(bag, None, BagImportSettings(extra_image_topics=("/side/image_raw",)))
