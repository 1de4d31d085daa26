"""The sim bridge and the closed loop over real DDS: bridge + policy started by the bringup."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from messages import command
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger
from tiny import tiny_policy_checkpoint
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.bringup import BringupError, build_nodes, read_graph
from amplify_ros.nodes.demo import main as demo_main

REPO = Path(__file__).resolve().parents[1]


def write_config(path: Path, checkpoint: Path, **bridge) -> Path:
    doc = yaml.safe_load((REPO / "config" / "sim_demo.yaml").read_text())
    doc["amplify_sim_bridge"]["ros__parameters"].update({"image_size": 64, **bridge})
    doc["amplify_policy"]["ros__parameters"].update(checkpoint=str(checkpoint))
    path.write_text(yaml.safe_dump(doc))
    return path


def run_graph(ros, nodes, done, what: str, timeout: float = 90.0) -> None:
    """Spin ``nodes`` (and the test's node) on a multi-threaded executor until ``done()``; a sim
    episode's start took up to 27 s on 2 cores."""
    ros.multithreaded()
    ros.add(*nodes)
    ros.spin_until(done, what, timeout)


def test_bridge_and_policy_run_an_episode_in_lockstep(ros, tmp_path):
    # a long command timeout: on a loaded machine a slow step must not make the bridge republish a frame
    config = write_config(
        tmp_path / "sim.yaml", tiny_policy_checkpoint(tmp_path / "ckpt"), max_steps=20, episodes=1, command_timeout=30.0
    )
    nodes = build_nodes(config)
    got = {
        topic: ros.listen(kind, topic)
        for topic, kind in (
            ("sim/episode_result", String),
            ("camera/image_raw", Image),
            ("camera/camera_info", CameraInfo),
            ("amplify/command", JointTrajectory),
            ("/clock", Clock),
        )
    }
    run_graph(ros, nodes, lambda: got["sim/episode_result"], "the episode's result")
    result = json.loads(got["sim/episode_result"][0].data)
    assert result["reason"] == "timeout" and result["steps"] == 20 and result["task"] == "button-press-topdown"
    # lockstep: one command per frame, each stamped with its frame, frames 50 ms of sim time apart (action_repeat 4)
    frames = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in got["camera/image_raw"]]
    commands = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in got["amplify/command"]]
    dropped = {n.get_name(): dict(n.health.dropped) for n in nodes}  # why, if a frame went unanswered
    assert commands == frames[:5] and np.allclose(np.diff(frames[:5]), 0.05), (
        frames,
        commands,
        dropped,
    )  # 4 steps of 12.5 ms
    info = got["camera/camera_info"][0]
    assert (info.width, info.height) == (64, 64) and math.isclose(info.k[2], 32.0) and info.k[0] > 0
    assert got["/clock"][-1].clock.nanosec > 0
    image = got["camera/image_raw"][0]
    assert image.encoding == "rgb8" and image.header.frame_id == "camera_optical_frame"


def test_a_two_camera_policy_acts_on_both_views_of_the_bridge(ros, tmp_path):
    checkpoint = tiny_policy_checkpoint(tmp_path / "ckpt", cameras=("corner", "corner2"))
    config = write_config(
        tmp_path / "sim.yaml", checkpoint, max_steps=3, episodes=1, command_timeout=30.0, extra_cameras=["corner2"]
    )
    doc = yaml.safe_load(config.read_text())
    doc["amplify_policy"]["ros__parameters"]["extra_cameras"] = ["corner2"]
    config.write_text(yaml.safe_dump(doc))
    nodes = build_nodes(config)
    got = {
        topic: ros.listen(kind, topic)
        for topic, kind in (
            ("sim/episode_result", String),
            ("camera/image_raw", Image),
            ("corner2/image_raw", Image),
            ("corner2/camera_info", CameraInfo),
            ("amplify/command", JointTrajectory),
        )
    }
    run_graph(ros, nodes, lambda: got["sim/episode_result"], "the episode's result")
    assert json.loads(got["sim/episode_result"][0].data)["steps"] == 3
    main, side = got["camera/image_raw"], got["corner2/image_raw"]
    assert [m.header.stamp for m in side] == [m.header.stamp for m in main]  # one frame of each camera per step
    assert side[0].header.frame_id == "corner2_optical_frame" and got["corner2/camera_info"][0].k[0] > 0
    assert side[0].data != main[0].data  # another viewpoint
    assert [c.header.stamp for c in got["amplify/command"]] == [m.header.stamp for m in main[:3]]


def test_bridge_refuses_bad_commands_and_unknown_tasks_and_resets_on_request(ros, tmp_path):
    config = write_config(tmp_path / "sim.yaml", tmp_path / "none", max_steps=50, command_timeout=0.2)
    doc = yaml.safe_load(config.read_text())
    doc["amplify_bringup"]["ros__parameters"]["nodes"] = ["sim_bridge_node"]
    config.write_text(yaml.safe_dump(doc))
    ros.multithreaded()
    (bridge,) = build_nodes(config)
    ros.add(bridge)
    images, results = ros.listen(Image, "camera/image_raw"), ros.listen(String, "sim/episode_result")
    # lockstep: an episode's first frame waits for someone to answer it (a policy still loading)
    ros.spin_until(lambda: bridge.health.status == "waiting for a publisher on amplify/command", "the bridge waiting")
    ros.spin_for(0.3)  # longer than reset_pause: it would have sent the frame by now
    assert not images
    commands = ros.publisher(JointTrajectory, "amplify/command")
    ros.spin_until(lambda: images, "the first frame", 90.0)
    assert bridge.health.status == "running"
    ros.connected(commands)
    first = images[0].header
    commands.publish(command([[0.0, np.nan, 0.0, 0.0]], ["a0", "a1", "a2", "a3"], first, 0.0125))
    ros.spin_until(lambda: bridge.health.dropped["bad_command"] == 1, "the NaN command to be refused")
    assert bridge.session.step_in_episode == 0  # the NaN never reached the simulator
    # no valid command within command_timeout: the same frame goes out again, and is counted
    ros.spin_until(lambda: len(images) >= 2, "the frame again")
    assert images[1].header.stamp == first.stamp
    assert bridge.health.dropped["command_timeout"] >= 1
    result = bridge.set_parameters([Parameter("task", value="make-coffee")])[0]
    assert not result.successful and "unknown Meta-World task 'make-coffee'" in result.reason
    assert ros.call(Trigger, "sim/reset").success
    ros.spin_until(lambda: results, "the reset episode's result")
    assert json.loads(results[0].data)["reason"] == "reset"
    assert bridge.session.episode == 1


def test_bringup_rejects_configs_that_name_no_or_unknown_nodes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("amplify_policy:\n  ros__parameters: {checkpoint: x}\n")
    with pytest.raises(BringupError, match="names no nodes"):
        read_graph(bad)
    bad.write_text("amplify_bringup:\n  ros__parameters: {nodes: [teleporter]}\n")
    with pytest.raises(BringupError, match="unknown nodes"):
        read_graph(bad)
    for config in (REPO / "config").glob("*.yaml"):  # every shipped graph names known nodes
        assert read_graph(config), config
    bridge, policy = read_graph(REPO / "config" / "sim_demo.yaml")
    assert (bridge.module, bridge.name, bridge.remappings) == ("sim_bridge_node", "amplify_sim_bridge", ())
    assert (policy.module, policy.remappings) == ("policy_node", (("joint_states", "/ee_state"),))


@pytest.mark.parametrize("config", ["sim_demo", "sim_split"])
def test_the_shipped_demo_model_presses_the_button_over_dds(ros_domain, config, tmp_path, capsys, monkeypatch):
    """`make demo` as a test: the committed small checkpoint, closed loop through the bringup
    (one policy node, or forward + inverse nodes), started from elsewhere (config and model are
    found by name inside the package)."""
    monkeypatch.chdir(tmp_path)
    assert demo_main(["--config", config, "--episodes", "1", "--out", str(tmp_path)]) == 0
    assert "episode 0 of button-press-topdown: SUCCESS" in capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["success_rate"] == 1.0 and Path(summary["episodes"][0]["video"]).stat().st_size > 10_000


def test_launch_files_compile_and_every_config_has_one():
    """`launch` is not on PyPI, so the launch files cannot run here; they must at least parse,
    and each shipped config's launch file must start that config."""
    import py_compile

    for path in (REPO / "launch").glob("*.launch.py"):
        py_compile.compile(str(path), doraise=True)
    for config in (REPO / "config").glob("*.yaml"):
        launch = REPO / "launch" / f"{config.stem}.launch.py"
        assert f'launch_config("{config.stem}")' in launch.read_text(), launch


def test_realtime_bridge_holds_still_without_fresh_commands(ros, tmp_path):
    config = write_config(tmp_path / "sim.yaml", tmp_path / "none", mode="realtime", rate=80.0, reset_pause=0.0)
    doc = yaml.safe_load(config.read_text())
    doc["amplify_bringup"]["ros__parameters"]["nodes"] = ["sim_bridge_node"]
    config.write_text(yaml.safe_dump(doc))
    (bridge,) = build_nodes(config)
    start = bridge.session.ee_state().copy()
    images = ros.listen(Image, "camera/image_raw")
    run_graph(ros, [bridge], lambda: len(images) >= 10, "ten frames")
    assert bridge.health.dropped["no_fresh_command"] >= 9
    # zero actions: the hand only settles (mm), where ten full-speed steps would move it ~10 cm
    assert np.abs(bridge.session.ee_state()[:3] - start[:3]).max() < 0.01
