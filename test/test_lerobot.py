"""The LeRobotDataset v3.0 bridge: the exported format itself, round trips and bad input.
(LeRobot itself reads our export in scripts/lerobot_compat.py; it is not needed here.)"""

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tiny import tiny_dataset

from amplify_ros.data.dataset import list_episodes, read_manifest
from amplify_ros.data.episode import read_episode, read_summary
from amplify_ros.data.lerobot_export import export_lerobot
from amplify_ros.data.lerobot_import import resample
from amplify_ros.train.data_cli import main

CAMS = ("cam", "wrist")
KEYS = ["observation.images.cam", "observation.images.wrist"]


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    """4 episodes of 12 frames at 10 fps, 2 tasks, 2 cameras, 4-D proprio and actions."""
    return tiny_dataset(tmp_path_factory.mktemp("ours") / "ds", episodes=2, cameras=CAMS)


@pytest.fixture(scope="module")
def exported(ours, tmp_path_factory):
    out = tmp_path_factory.mktemp("lr") / "lerobot"
    assert main(["export-lerobot", str(ours), "--out", str(out)]) == 0
    return out


def psnr(a, b):
    return 10 * np.log10(255.0**2 / ((a.astype(float) - b.astype(float)) ** 2).mean())


def test_info_json_follows_v3(exported):
    info = json.loads((exported / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (4, 48, 2)
    assert info["splits"] == {"train": "0:4"} and info["chunks_size"] == 1000
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    f = info["features"]
    assert list(f) == [
        *KEYS,
        "observation.state",
        "action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    ]
    assert f["observation.images.cam"]["dtype"] == "video" and f["observation.images.cam"]["shape"] == [32, 32, 3]
    assert f["observation.images.cam"]["names"] == ["height", "width", "channels"]
    assert (
        f["observation.images.cam"]["info"]["video.codec"] == "h264"
        and f["observation.images.cam"]["info"]["video.fps"] == 10
    )
    assert f["observation.state"] == {"dtype": "float32", "shape": [4], "names": None}
    assert f["timestamp"] == {"dtype": "float32", "shape": [1], "names": None}
    assert f["index"]["dtype"] == "int64"


def test_files_sit_where_the_templates_say(exported):
    info = json.loads((exported / "meta/info.json").read_text())
    episodes = pq.read_table(exported / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    for ep in episodes:
        assert (
            exported / info["data_path"].format(chunk_index=ep["data/chunk_index"], file_index=ep["data/file_index"])
        ).is_file()
        for key in KEYS:
            assert (
                exported
                / info["video_path"].format(
                    video_key=key,
                    chunk_index=ep[f"videos/{key}/chunk_index"],
                    file_index=ep[f"videos/{key}/file_index"],
                )
            ).is_file()
    assert sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file()) == [
        "data/chunk-000/file-000.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        *[f"videos/{k}/chunk-000/file-000.mp4" for k in KEYS],
    ]


def test_frames_episodes_and_tasks_tables(exported):
    data = pq.read_table(exported / "data/chunk-000/file-000.parquet")
    assert data.column_names == [
        "observation.state",
        "action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    ]
    state = data.schema.field("observation.state").type  # what datasets.Sequence(length=4) reads
    assert pa.types.is_fixed_size_list(state) and state.list_size == 4 and state.value_type == pa.float32()
    assert data.column("index").to_pylist() == list(range(48))
    assert data.column("frame_index").to_pylist() == list(range(12)) * 4
    assert data.column("episode_index").to_pylist() == [e for e in range(4) for _ in range(12)]
    assert np.allclose(data.column("timestamp").to_numpy(), np.tile(np.arange(12) / 10, 4), atol=1e-7)
    assert data.column("task_index").to_pylist() == [0] * 24 + [1] * 24
    episodes = pq.read_table(exported / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [(e["episode_index"], e["length"], e["dataset_from_index"], e["dataset_to_index"]) for e in episodes] == [
        (i, 12, 12 * i, 12 * i + 12) for i in range(4)
    ]
    assert [e["tasks"] for e in episodes] == [["push the block"]] * 2 + [["reach the block"]] * 2
    # the episodes follow one another in each camera's mp4
    assert np.allclose(
        [
            (e["videos/observation.images.cam/from_timestamp"], e["videos/observation.images.cam/to_timestamp"])
            for e in episodes
        ],
        [(12 * i / 10, 12 * (i + 1) / 10) for i in range(4)],
    )
    tasks = pq.read_table(exported / "meta/tasks.parquet")
    assert tasks.to_pydict() == {"task_index": [0, 1], "task": ["push the block", "reach the block"]}
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == [
        "task"
    ]  # pandas: the sentence is the index


def test_stats_shapes_and_values(exported, ours):
    stats = json.loads((exported / "meta/stats.json").read_text())
    assert set(stats) == {
        *KEYS,
        "observation.state",
        "action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    }
    for key in ("observation.state", "action"):
        assert {k: np.shape(v) for k, v in stats[key].items()} == {
            "min": (4,),
            "max": (4,),
            "mean": (4,),
            "std": (4,),
            "count": (1,),
            "q01": (4,),
            "q10": (4,),
            "q50": (4,),
            "q90": (4,),
            "q99": (4,),
        }
    assert np.shape(stats["observation.images.cam"]["mean"]) == (3, 1, 1) and stats["index"]["count"] == [48]
    proprio = np.concatenate([read_episode(p).proprio for p in list_episodes(ours)])
    assert np.allclose(stats["observation.state"]["mean"], proprio.mean(0), atol=1e-6)
    assert np.allclose(stats["observation.state"]["std"], proprio.std(0), atol=1e-6)  # pooled = over all frames
    assert np.allclose(stats["observation.state"]["min"], proprio.min(0))
    assert stats["frame_index"]["max"] == [11]
    pixels = np.concatenate([read_episode(p).images["cam"] for p in list_episodes(ours)]).reshape(-1, 3) / 255
    assert np.allclose(np.ravel(stats["observation.images.cam"]["mean"]), pixels.mean(0), atol=1e-6)


def test_round_trip_keeps_everything_but_video_noise(exported, ours, tmp_path):
    back = tmp_path / "back"
    assert (
        main(
            [
                "import-lerobot",
                str(exported),
                *sum((["--camera", k] for k in KEYS), []),
                "--out",
                str(back),
                "--fps",
                "10",
                "--size",
                "32",
            ]
        )
        == 0
    )
    pairs = list(zip(list_episodes(ours), list_episodes(back), strict=True))
    for a_path, b_path in pairs:
        a, b = read_episode(a_path), read_episode(b_path)
        assert (a.sentence, a.fps, a.cameras) == (b.sentence, b.fps, b.cameras)
        assert b.task == a.sentence.replace(" ", "-")  # named from the sentence, as import-video does
        assert np.array_equal(a.proprio, b.proprio) and np.array_equal(a.actions, b.actions)
        assert all(psnr(a.images[c], b.images[c]) > 30 for c in CAMS)
        assert b.env == "lerobot" and not b.tracks and b.info["state_feature"] == "observation.state"
    assert read_manifest(back)["lerobot_cameras"] == KEYS


def test_import_resamples_picks_features_and_records_names(ours, tmp_path):
    ep = read_episode(list_episodes(ours)[0])
    ep.info.update(proprio=["x", "y", "z", "g"], actions=["dx", "dy", "dz", "dg"])
    src = tmp_path / "named"
    shutil.copytree(ours, src)
    from amplify_ros.data.episode import write_episode

    for path in list_episodes(src):
        e = read_episode(path)
        e.info.update(ep.info)
        write_episode(path, e)
    lr = tmp_path / "lr"
    assert main(["export-lerobot", str(src), "--out", str(lr), "--vcodec", "mpeg4"]) == 0
    assert json.loads((lr / "meta/info.json").read_text())["features"]["action"]["names"] == ["dx", "dy", "dz", "dg"]
    out = tmp_path / "half"
    assert main(["import-lerobot", str(lr), "--camera", KEYS[1], "--out", str(out), "--fps", "5", "--size", "16"]) == 0
    b = read_episode(list_episodes(out)[0])
    a = read_episode(list_episodes(src)[0])
    assert b.cameras == ["wrist"] and b.images["wrist"].shape == (6, 16, 16, 3) and b.fps == 5
    assert list(b.extras["source_frame_index"]) == [0, 2, 4, 6, 8, 10]
    assert np.array_equal(b.proprio, a.proprio[::2]) and np.array_equal(b.actions, a.actions[:10:2])
    assert b.info["proprio"] == ["x", "y", "z", "g"] and b.info["actions"] == ["dx", "dy", "dz", "dg"]
    free = tmp_path / "free"
    assert (
        main(["import-lerobot", str(lr), "--camera", KEYS[0], "--out", str(free), "--action-free", "--size", "16"]) == 0
    )
    assert not read_summary(list_episodes(free)[0]).has_actions


def test_resample_matches_import_video():
    assert list(resample(12, 10, 5)) == [0, 2, 4, 6, 8, 10]
    assert list(resample(4, 10, 20)) == [0, 1, 1, 2, 2, 3, 3]  # repeated when faster, never past the end
    assert list(resample(3, 20, 20)) == [0, 1, 2]


def test_imported_episodes_can_be_tracked(exported, tmp_path):
    out = tmp_path / "tracked"
    assert (
        main(["import-lerobot", str(exported), "--camera", KEYS[0], "--out", str(out), "--size", "32", "--fps", "10"])
        == 0
    )
    assert main(["track", str(out)]) == 0
    assert all(read_summary(p).track_sources == {"cam": "lk"} for p in list_episodes(out))


def _one_error_line(capsys):
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("amplify-data: error: ")
    return err[0]


def test_bad_lerobot_folders_are_one_line_and_write_nothing(exported, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--camera", KEYS[0], "--out", str(out)]
    assert main(["import-lerobot", str(tmp_path), *argv]) == 2
    assert "is not a LeRobot dataset (no meta/info.json)" in _one_error_line(capsys)
    assert main(["import-lerobot", str(exported), "--camera", "observation.images.top", "--out", str(out)]) == 2
    assert "no camera 'observation.images.top'" in _one_error_line(capsys)
    assert main(["import-lerobot", str(exported), *argv, "--state", "observation.joints"]) == 2
    assert "no state feature 'observation.joints'" in _one_error_line(capsys)
    old = tmp_path / "v21"
    shutil.copytree(exported, old)
    info = json.loads((old / "meta/info.json").read_text())
    (old / "meta/info.json").write_text(json.dumps({**info, "codebase_version": "v2.1"}))
    assert main(["import-lerobot", str(old), *argv]) == 2
    assert "codebase_version 'v2.1' is not supported" in _one_error_line(capsys)
    holes = tmp_path / "holes"
    shutil.copytree(exported, holes)
    (holes / "videos/observation.images.cam/chunk-000/file-000.mp4").unlink()
    assert main(["import-lerobot", str(holes), *argv]) == 2
    assert "1 video file(s) missing, e.g. videos/observation.images.cam/chunk-000/file-000.mp4" in _one_error_line(
        capsys
    )
    assert not out.exists()


def test_export_refuses_bad_input_and_leaves_nothing(ours, exported, tmp_path, capsys):
    assert main(["export-lerobot", str(ours), "--out", str(exported)]) == 2
    assert "already exists and is not empty" in _one_error_line(capsys)
    assert main(["export-lerobot", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "is not a folder" in _one_error_line(capsys)
    mixed = tmp_path / "mixed"
    shutil.copytree(ours, mixed)
    tiny_dataset(tmp_path / "other", episodes=1, tasks=("lift",), actions=False, cameras=CAMS)
    shutil.copytree(tmp_path / "other" / "lift", mixed / "lift")
    assert main(["export-lerobot", str(mixed), "--out", str(tmp_path / "y")]) == 2
    assert "export such episodes to separate LeRobot datasets" in _one_error_line(capsys)
    assert not (tmp_path / "y").exists() and not list(tmp_path.glob(".y.tmp-*"))


def test_export_goes_through_a_temporary_folder(ours, tmp_path, monkeypatch):
    import amplify_ros.data.lerobot_export as lx

    def boom(self, names):
        raise RuntimeError("disk full")

    monkeypatch.setattr(lx._Writer, "finish", boom)
    with pytest.raises(RuntimeError):
        export_lerobot(ours, tmp_path / "z")
    assert list(tmp_path.iterdir()) == []


def test_import_bag_to_lerobot_in_one_command(tmp_path):
    from bags import recording, write_bag

    bag = write_bag(tmp_path / "bag", recording(duration=1.0))
    out = tmp_path / "lr"
    assert (
        main(
            [
                "import-bag",
                str(bag),
                "--to",
                "lerobot",
                "--out",
                str(out),
                "--action-topic",
                "/cmd",
                "--size",
                "32",
                "--state-joints",
                "elbow,shoulder",
                "--rate",
                "10",
            ]
        )
        == 0
    )
    info = json.loads((out / "meta/info.json").read_text())
    assert (
        info["fps"] == 10
        and info["total_episodes"] == 1
        and list(info["features"])[:3] == ["observation.images.camera", "observation.state", "action"]
    )
    assert info["features"]["observation.state"]["names"] == ["elbow", "shoulder"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag", "lr"]  # the staging episodes are gone
