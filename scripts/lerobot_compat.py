#!/usr/bin/env python3
"""Proof that LeRobot itself reads what ``amplify-data export-lerobot`` writes, and that
ours -> LeRobot -> ours keeps every episode (up to video compression).

    .venv/bin/python scripts/lerobot_compat.py --dataset data/small20 \\
        --out benchmarks/results/lerobot_compat.json

LeRobot cannot live in our venv (its releases pin torch < 2.11; ours is 2.13), so it goes into a
side venv (``--venv``, default /tmp/lerobot_venv), built on first use:

- Python 3.11 and lerobot 0.4.4 (``--no-deps``): lerobot 0.5 and later need Python >= 3.12, and
  no torch wheel for 3.12 is on this machine's disk. 0.4.4 reads the same v3.0 layout.
- torch 2.14.1 + torchvision 0.29.1 (both on this machine's disk): LeRobot imports torchvision,
  and PyPI's torchvision for our CPU torch 2.13 does not import ("torchvision::nms does not
  exist": its extension is built against CUDA torch).
- torchcodec 0.14.0 (``--no-deps``), LeRobot's default video decoder: lerobot 0.4.4's other
  decoder uses torchvision.io.VideoReader, which torchvision 0.29 no longer has. torchcodec loads
  the system's FFmpeg libraries (Debian: ``apt-get install ffmpeg``).
- What lerobot.datasets imports to load a dataset: datasets, pandas, pyarrow (from datasets),
  huggingface-hub < 0.36, accelerate, draccus 0.10, jsonlines, einops, deepdiff, termcolor,
  packaging, av < 16, pillow.

Then: export ``--dataset`` (default: a synthetic one made here) with our exporter, load it with
``LeRobotDataset(repo_id, root=...)`` in the side venv, iterate every frame and compare with our
episodes (state, action, timestamps, indices and tasks exactly; images by PSNR); import the
export back with our importer and compare with the originals. Prints and writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from amplify_ros.data.dataset import episode_path, list_episodes, prepare  # noqa: E402
from amplify_ros.data.episode import Episode, read_episode, write_episode  # noqa: E402
from amplify_ros.data.lerobot_export import camera_key, export_lerobot, lerobot_actions  # noqa: E402
from amplify_ros.data.lerobot_import import LeRobotImportSettings, import_lerobot  # noqa: E402
from amplify_ros.data.manifest import DatasetManifest  # noqa: E402

LEROBOT = "lerobot==0.4.4"
SIDE_PACKAGES = [
    "torch==2.14.1",
    "torchvision==0.29.1",
    "pillow",
    "datasets>=4,<5",
    "pandas",
    "pyarrow",
    "huggingface-hub>=0.34.2,<0.36",
    "accelerate",
    "draccus==0.10.0",
    "jsonlines>=4,<5",
    "einops>=0.8,<0.9",
    "deepdiff>=7,<9",
    "termcolor",
    "packaging>=24.2,<26",
    "av>=15,<16",
]
NO_DEPS = [LEROBOT, "torchcodec==0.14.0"]

# Runs in the side venv: every frame of the dataset as LeRobot returns it, saved to an npz.
LOADER = r"""
import json, sys, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, out = sys.argv[1], sys.argv[2]
ds = LeRobotDataset("local/amplify_export", root=root)
keys = ds.meta.video_keys
cols = {k: [] for k in ["timestamp", "frame_index", "episode_index", "index", "task_index",
                        "observation.state", "action", *keys]}
tasks = []
for i in range(len(ds)):
    item = ds[i]
    for k in cols:
        if k in item:
            v = item[k].numpy()
            cols[k].append(np.round(v * 255).astype(np.uint8).transpose(1, 2, 0) if k in keys else v)
    tasks.append(item["task"])
np.savez(out, **{k: np.stack(v) for k, v in cols.items() if v})
import lerobot
print(json.dumps({"frames": len(ds), "episodes": ds.num_episodes, "fps": ds.fps, "video_keys": keys, "tasks": tasks,
                  "backend": ds.video_backend, "lerobot": lerobot.__version__}))
"""


def side_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if (venv / ".lerobot_ready").exists():
        return python
    if subprocess.run(["sh", "-c", "ldconfig -p | grep -q libavcodec"]).returncode != 0:
        sys.exit("torchcodec needs the system's FFmpeg libraries: apt-get install ffmpeg")
    subprocess.run([shutil.which("python3.11") or sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + SIDE_PACKAGES, check=True)
    subprocess.run(pip + ["--no-deps"] + NO_DEPS, check=True)
    (venv / ".lerobot_ready").touch()
    return python


def synthetic(root: Path, episodes: int = 6, frames: int = 40, size: int = 96) -> Path:
    """Smooth images (a gradient and a moving square) and named state and action columns."""
    prepare(root, DatasetManifest(env="synthetic", image_size=size))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for e in range(episodes):
        images = np.empty((frames, size, size, 3), np.uint8)
        for t in range(frames):
            img = np.stack([xx * 255 // size, yy * 255 // size, np.full_like(xx, 60 + 10 * e)], -1)
            x = 5 + t * (size - 30) // frames
            img[30:50, x : x + 20] = (230, 40, 40)
            images[t] = img
        ep = Episode(
            task="push" if e % 2 else "reach",
            sentence="push the block" if e % 2 else "reach the goal",
            images={"corner": images},
            fps=20.0,
            proprio=rng.normal(size=(frames, 4)).astype(np.float32),
            actions=rng.uniform(-1, 1, (frames - 1, 4)).astype(np.float32),
            env="synthetic",
            info={"proprio": ["x", "y", "z", "gripper"], "actions": ["dx", "dy", "dz", "grip"]},
        )
        write_episode(episode_path(root, ep.task, e), ep)
    return root


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def compare_lerobot(ours: list[Episode], frames: dict[str, np.ndarray], tasks: list[str]) -> dict:
    """Every frame LeRobot returned against our episodes, in export order."""
    state_diff = action_diff = ts_diff = 0.0
    index_ok = task_ok = True
    psnrs = []
    row = 0
    for e, ep in enumerate(ours):
        t = ep.num_frames
        sl = slice(row, row + t)
        index_ok &= bool(
            np.array_equal(frames["episode_index"][sl], np.full(t, e))
            and np.array_equal(frames["frame_index"][sl], np.arange(t))
            and np.array_equal(frames["index"][sl], np.arange(row, row + t))
        )
        ts_diff = max(
            ts_diff, float(np.abs(frames["timestamp"][sl] - (np.arange(t) / ep.fps).astype(np.float32)).max())
        )
        state_diff = max(state_diff, float(np.abs(frames["observation.state"][sl] - ep.proprio).max()))
        action_diff = max(action_diff, float(np.abs(frames["action"][sl] - lerobot_actions(ep)).max()))
        task_ok &= all(s == ep.sentence for s in tasks[sl])
        for cam in ep.cameras:
            psnrs += [psnr(a, b) for a, b in zip(frames[camera_key(cam)][sl], ep.images[cam])]
        row += t
    return {
        "frames_compared": row,
        "episodes": len(ours),
        "max_state_abs_diff": state_diff,
        "max_action_abs_diff": action_diff,
        "max_timestamp_abs_diff": ts_diff,
        "indices_exact": index_ok,
        "tasks_exact": task_ok,
        "image_psnr_db": {"min": min(psnrs), "mean": float(np.mean(psnrs))},
    }


def compare_round_trip(ours: list[Episode], back: list[Episode]) -> dict:
    psnrs = []
    exact = len(ours) == len(back)
    for a, b in zip(ours, back):
        exact &= (
            a.sentence == b.sentence
            and a.num_frames == b.num_frames
            and np.array_equal(a.proprio, b.proprio)
            and np.array_equal(a.actions, b.actions)
            and a.fps == b.fps
            and a.cameras == b.cameras
        )
        psnrs += [psnr(x, y) for cam in a.cameras for x, y in zip(a.images[cam], b.images[cam])]
    return {
        "episodes": len(back),
        "state_action_task_fps_exact": bool(exact),
        "image_psnr_db": {"min": min(psnrs), "mean": float(np.mean(psnrs))},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=None, help="our dataset to export (default: a synthetic one)")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/lerobot_venv"), help="the side venv (built if missing)")
    parser.add_argument("--vcodec", default="h264", help="export codec (default h264)")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers here as JSON too")
    args = parser.parse_args()
    python = side_venv(args.venv)
    work = Path(tempfile.mkdtemp(prefix="lerobot_compat_"))
    try:
        source = args.dataset or synthetic(work / "ours")
        paths = list_episodes(source)
        ours = [read_episode(p) for p in paths]
        start = time.perf_counter()
        exported = export_lerobot(source, work / "lerobot", codec=args.vcodec)
        export_s = time.perf_counter() - start
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        run = subprocess.run(
            [str(python), "-c", LOADER, str(work / "lerobot"), str(work / "frames.npz")],
            capture_output=True,
            text=True,
            env=env,
        )
        if run.returncode != 0:
            sys.exit(f"LeRobot failed to load the export:\n{run.stderr[-3000:]}")
        loaded = json.loads(run.stdout.strip().splitlines()[-1])
        frames = dict(np.load(work / "frames.npz"))
        cams = tuple(camera_key(c) for c in ours[0].cameras)
        list(
            import_lerobot(
                work / "lerobot",
                work / "back",
                LeRobotImportSettings(cams, fps=ours[0].fps, size=ours[0].images[ours[0].cameras[0]].shape[1]),
            )
        )
        back = [read_episode(p) for p in list_episodes(work / "back")]
        back.sort(key=lambda ep: ep.info["source_episode"])
        result = {
            "dataset": "synthetic" if args.dataset is None else os.path.relpath(source.absolute(), REPO),
            "codec": exported.codec,
            "export_seconds": round(export_s, 2),
            "lerobot": {
                "version": loaded["lerobot"],
                "video_backend": loaded["backend"],
                "fps": loaded["fps"],
                "episodes": loaded["episodes"],
                "frames": loaded["frames"],
            },
            "lerobot_vs_ours": compare_lerobot(ours, frames, loaded["tasks"]),
            "round_trip_ours_lerobot_ours": compare_round_trip(ours, back),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
