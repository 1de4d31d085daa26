"""The running-graph fault cases of benchmarks/faults.py, small: each node in a process of its
own (the benchmark's code), an untrained tiny policy, one or two faults each."""

import argparse
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import faults_runtime  # noqa: E402
from tiny import tiny_policy_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_policy_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture
def args(checkpoint, ros_domain) -> argparse.Namespace:
    """The benchmark's arguments, on this test's own ROS domain (conftest.py)."""
    return argparse.Namespace(
        checkpoint=checkpoint,
        seed=0,
        domain=ros_domain,
        kills_policy=1,
        kills_recorder=2,
        camera_stops=1,
        storage="mcap",
        disk_mb=4,
    )


def test_a_killed_policy_restarts_and_the_output_waits_to_be_enabled(args):
    result, _ = faults_runtime.kill_policy(args)
    (kill,) = result["kills"]
    assert result["exit_lines_logged"] == 1 and result["supervisor_restarts_logged"] == 1
    assert kill["seconds_to_last_command_out"] < 0.1  # at most what was in flight
    assert kill["policy_back_s"] is not None and kill["commands_out_before_enable"] == 0
    assert kill["enable_accepted"] and kill["enable_to_first_command_s"] is not None


def test_bags_of_a_killed_recorder_open_and_import(args):
    result, _ = faults_runtime.kill_recorder(args)
    assert [k["imported"] for k in result["kills"]] == [True, True]
    assert result["within_goal"] == 2  # lost at most flush_seconds + one frame


def test_no_command_from_frames_before_a_camera_outage(args):
    result, _ = faults_runtime.camera_stop(args)
    (stop,) = result["stops"]
    assert stop["commands_during_outage"] == 0 and stop["commands_from_before_outage_after_it"] == 0
    assert result["commands_older_than_max_image_age"] == 0 and stop["recovery_s"] is not None


def test_a_full_disk_ends_the_recording_and_the_rest_runs_on(args):
    if os.geteuid() != 0:
        pytest.skip("mounting the small tmpfs the recorder fills needs root")
    result, _ = faults_runtime.disk_full(args)
    if "skipped" in result:  # root without the right to mount (a container without CAP_SYS_ADMIN)
        pytest.skip(result["skipped"])
    assert result["disk_full_reported"] and all(result["processes_alive"].values())
    assert result["commands_out_in_2s_after"] > 0 and result["bag"]["imported"]
    assert "disk full" in result["restart_answer"]
