"""amplify-data end to end on real Meta-World episodes (kept short with --max-steps)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from amplify_ros.data.episode import read_episode
from amplify_ros.sim import headless
from amplify_ros.train.data_cli import main

FAST = ["--max-steps", "6", "--image-size", "64"]


def generate(out, *extra):
    return main(["generate", "--tasks", "button-press-topdown", "--episodes", "2", "--out", str(out), *FAST, *extra])


def test_generate_writes_complete_episodes(tmp_path, capsys):
    assert generate(tmp_path / "ds") == 0
    ep = read_episode(tmp_path / "ds" / "button-press-topdown" / "episode_00001.h5")
    assert ep.num_frames == 7 and ep.images["corner"].shape == (7, 64, 64, 3)
    assert ep.actions.shape == (6, 4) and ep.proprio.shape == (7, 4)
    assert ep.tracks["corner"].points.shape == (7, 16, 400, 2) and ep.tracks["corner"].source == "oracle"
    assert ep.sentence == "press the button from the top" and ep.fps == 80.0
    assert main(["info", str(tmp_path / "ds"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["episodes"] == 2 and info["with_actions"] == 2 and info["tasks"] == {"button-press-topdown": 2}


def test_rerun_skips_finished_episodes_and_resumes_cut_off_ones(tmp_path, capsys):
    root = tmp_path / "ds"
    generate(root)
    first, second = sorted((root / "button-press-topdown").glob("*.h5"))
    reference = read_episode(second)
    second.unlink()  # as if the run had been killed before the second episode finished...
    (second.parent / (second.name + ".tmp-999")).write_bytes(b"half written")  # ...mid-write
    mtime = first.stat().st_mtime_ns
    capsys.readouterr()
    assert generate(root) == 0
    assert "1 already done, 1 to make" in capsys.readouterr().err
    assert first.stat().st_mtime_ns == mtime  # untouched
    redone = read_episode(second)  # same seed, same episode
    assert np.array_equal(redone.images["corner"], reference.images["corner"])
    assert np.array_equal(redone.tracks["corner"].points, reference.tracks["corner"].points)
    assert not list(second.parent.glob("*.tmp-*"))


def test_shards_split_the_work_and_workers_run_in_parallel(tmp_path):
    root = tmp_path / "ds"
    assert generate(root, "--shard", "0/2") == 0
    assert [p.name for p in (root / "button-press-topdown").glob("*.h5")] == ["episode_00000.h5"]
    assert generate(root, "--shard", "1/2", "--workers", "2") == 0
    assert len(list((root / "button-press-topdown").glob("*.h5"))) == 2


def test_action_free_episodes_have_no_actions(tmp_path):
    assert generate(tmp_path / "ds", "--action-free") == 0
    assert read_episode(tmp_path / "ds" / "button-press-topdown" / "episode_00000.h5").actions is None


def test_action_repeat_records_every_kth_step_with_actions_that_replay_the_expert(tmp_path):
    """--action-repeat 4: 20 frames/s, each action the mean of the 4 applied; holding it for 4
    steps from the same start moves the hand where the expert moved it."""
    from amplify_ros.sim.metaworld_env import MetaWorldTask

    assert (
        main(
            [
                "generate",
                "--tasks",
                "button-press-topdown",
                "--episodes",
                "1",
                "--out",
                str(tmp_path / "ds"),
                "--max-steps",
                "24",
                "--image-size",
                "64",
                "--action-repeat",
                "4",
                "--action-noise",
                "0",
            ]
        )
        == 0
    )
    ep = read_episode(tmp_path / "ds" / "button-press-topdown" / "episode_00000.h5")
    assert ep.fps == 20.0 and ep.num_frames == 7 and ep.actions.shape == (6, 4)
    assert ep.tracks["corner"].points.shape == (7, 16, 400, 2)
    sim = MetaWorldTask("button-press-topdown", 64)
    try:
        sim.reset(ep.seed)
        for action in ep.actions:
            for _ in range(4):
                sim.step(action)
        moved = np.abs(ep.proprio[-1, :3] - ep.proprio[0, :3]).max()
        assert moved > 0.02 and np.abs(sim.proprio()[:3] - ep.proprio[-1, :3]).max() < 0.1 * moved
    finally:
        sim.close()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tasks", "open-the-door"], "unknown Meta-World task 'open-the-door'"),
        (["--cameras", "wrist"], "unknown camera(s) ['wrist']"),
        (["--shard", "3/2"], "need 0 <= i < N"),
    ],
)
def test_bad_generate_input_is_one_clear_line(tmp_path, capsys, args, message):
    base = {"--tasks": "reach", "--episodes": "1", "--out": str(tmp_path / "ds")}
    base.update(dict(zip(args[::2], args[1::2])))
    argv = ["generate", *[x for kv in base.items() for x in kv], *FAST]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("amplify-data: error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "ds").exists()  # nothing written for a bad request


def test_a_different_dataset_in_the_output_folder_is_refused(tmp_path, capsys):
    generate(tmp_path / "ds")
    assert generate(tmp_path / "ds", "--action-noise", "0.3") == 2
    assert "holds a different dataset (action_noise: folder has 0.1, asked for 0.3)" in capsys.readouterr().err


def test_missing_gl_library_names_the_package(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    monkeypatch.setattr(headless.ctypes.util, "find_library", lambda name: None)
    assert generate(tmp_path / "ds") == 2
    assert "apt-get install libosmesa6" in capsys.readouterr().err


def test_info_reports_corrupt_files_and_goes_on(tmp_path, capsys):
    generate(tmp_path / "ds")
    (tmp_path / "ds" / "button-press-topdown" / "episode_00000.h5").write_bytes(b"\x89HDF\r\n garbage")
    assert main(["info", str(tmp_path / "ds")]) == 1  # something was skipped
    out = capsys.readouterr().out
    assert "episodes       1" in out and "corrupt: button-press-topdown/episode_00000.h5" in out


def test_view_writes_a_strip_and_a_video(tmp_path):
    generate(tmp_path / "ds")
    ep = tmp_path / "ds" / "button-press-topdown" / "episode_00000.h5"
    assert main(["view", str(ep), "--out", str(tmp_path / "v.png")]) == 0
    assert main(["view", str(ep), "--out", str(tmp_path / "v.mp4")]) == 0
    assert (tmp_path / "v.png").stat().st_size > 1000 and (tmp_path / "v.mp4").stat().st_size > 1000


def test_console_script_exits_cleanly_without_traceback(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "amplify-data")
    result = subprocess.run(
        [exe, "view", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "x.png")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"amplify-data: error: {tmp_path / 'missing.h5'}: no such episode file"
