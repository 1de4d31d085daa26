"""Tracker accuracy against the simulator's exact ground truth, and speed on one core.

    .venv/bin/python benchmarks/tracking.py [--data data/tracking_bench] [--tasks avdc11] [--episodes 2] [--seed 1000]
        [--cotracker-repo DIR --cotracker-checkpoint FILE]

Held-out Meta-World episodes (made by the data engine with a seed no training set uses, cached
in --data and made there on first use) are tracked by every available backend through the
same streaming interface, one frame at a time, pinned to one CPU core with one thread
everywhere. Positions are scored where the ground truth sees the point after the query step
(amplify_ros/tracking/evaluate.py). Writes benchmarks/results/tracking.json and overlay PNGs
benchmarks/results/tracking_<task>.png (true paths white, tracker paths coloured by error).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from amplify_ros.core.overlay import label  # noqa: E402
from amplify_ros.data.dataset import list_episodes  # noqa: E402
from amplify_ros.data.episode import Tracks, read_episode, read_summary  # noqa: E402
from amplify_ros.tracking import PointTracker, TrackerSpec  # noqa: E402
from amplify_ros.tracking.base import collect  # noqa: E402
from amplify_ros.tracking.cotracker import CoTrackerUnavailable  # noqa: E402
from amplify_ros.tracking.evaluate import compare, error_overlay, true_motion_px  # noqa: E402
from amplify_ros.tracking.oracle import OracleTracker  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CAMERA = "corner"
TIMING = {"frames_per_s", "ms_per_frame_p95"}  # meaningless for the oracle (a replay) and standing still


def ensure_data(root: Path, tasks: str, episodes: int, seed: int) -> list[Path]:
    """The cached held-out episodes; made with `amplify-data generate` when missing."""
    from amplify_ros.train.data_cli import main as data_cli

    argv = ["generate", "--tasks", tasks, "--episodes", str(episodes), "--seed", str(seed), "--out", str(root)]
    if data_cli(argv) != 0:
        raise SystemExit(f"could not make the benchmark episodes in {root}")
    return list_episodes(root)


def run_tracker(tracker: PointTracker, frames: np.ndarray) -> tuple[Tracks, list[float]]:
    """Track frame by frame as a live node would; per-frame seconds (finish counted in the last)."""
    tracker.reset()
    windows, seconds = [], []
    for frame in frames:
        t0 = time.perf_counter()
        windows += tracker.push(frame)
        seconds.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    windows += tracker.finish()
    seconds[-1] += time.perf_counter() - t0
    return collect(windows, len(frames), tracker.source), seconds


def evaluate_backend(name: str, make, paths: list[Path], overlay_tasks: set[str]) -> tuple[dict, dict]:
    """Pooled metrics over all episodes, timing, and the overlay tiles of chosen episodes."""
    preds, gts, seconds, tiles = [], [], [], {}
    size = None
    for path in paths:
        ep = read_episode(path)
        frames, gt = ep.images[CAMERA], ep.tracks[CAMERA]
        size = frames.shape[1:3]
        tracker = make(path)
        pred, secs = run_tracker(tracker, frames)
        preds.append(pred)
        gts.append(gt)
        seconds += secs
        if ep.task in overlay_tasks and ep.task not in tiles:
            tiles[ep.task] = overlay_tiles(ep.task, frames, pred, gt, size)
    pooled_pred = Tracks(np.concatenate([p.points for p in preds]), np.concatenate([p.visible for p in preds]), name)
    pooled_gt = Tracks(np.concatenate([g.points for g in gts]), np.concatenate([g.visible for g in gts]), "oracle")
    result = {"available": True, **compare(pooled_pred, pooled_gt, size)}
    if name == "oracle":  # reference: a "tracker" that never moves a point and sees everything
        still = Tracks(
            np.broadcast_to(pooled_gt.points[:, :1], pooled_gt.points.shape), np.ones_like(pooled_gt.visible), "still"
        )
        result["stand_still_reference"] = compare(still, pooled_gt, size)
    per_frame_ms = 1e3 * np.array(seconds)
    result.update(
        frames=len(seconds),
        frames_per_s=float(len(seconds) / (per_frame_ms.sum() / 1e3)),
        ms_per_frame_p95=float(np.percentile(per_frame_ms, 95)),
    )
    return result, tiles


def overlay_tiles(
    task: str, frames: np.ndarray, pred: Tracks, gt: Tracks, size: tuple[int, int], count: int = 2
) -> np.ndarray:
    """The ``count`` windows with the most true motion (at least a window apart), side by side."""
    motion = (true_motion_px(gt, size) * gt.visible).sum(axis=(1, 2))
    picks: list[int] = []
    for t in np.argsort(-motion):
        if all(abs(int(t) - p) >= gt.points.shape[1] for p in picks):
            picks.append(int(t))
        if len(picks) == count:
            break
    tiles = [
        label(error_overlay(frames[t], pred.points[t], pred.visible[t], gt.points[t], gt.visible[t]), f"{task} t={t}")
        for t in sorted(picks)
    ]
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([x for tile in tiles for x in (tile, gap)][:-1], axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/tracking_bench"), help="cached held-out episodes")
    parser.add_argument("--tasks", default="avdc11")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per task")
    parser.add_argument("--seed", type=int, default=1000, help="dataset seed (training data uses others)")
    parser.add_argument("--cotracker-repo", default=None)
    parser.add_argument("--cotracker-checkpoint", default=None)
    parser.add_argument("--overlays", default="door-open,basketball,assembly", help="tasks to draw overlays for")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)

    paths = ensure_data(args.data, args.tasks, args.episodes, args.seed)
    overlay_tasks = {t for t in args.overlays.split(",") if t}
    summary: dict = {}
    lk = TrackerSpec("lk").build()
    backends = {"lk": lambda path: lk, "oracle": OracleTracker.from_episode}
    try:
        torch.set_num_threads(1)
        cotracker = TrackerSpec("cotracker", args.cotracker_repo, args.cotracker_checkpoint).build()
        backends["cotracker"] = lambda path: cotracker
    except CoTrackerUnavailable as e:
        summary["cotracker"] = {"available": False, "reason": str(e)}

    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in backends.items():
        print(f"tracking {len(paths)} episodes with {name} ...", file=sys.stderr)
        summary[name], tiles = evaluate_backend(name, make, paths, overlay_tasks)
        if name == "lk":
            for task, strip in tiles.items():
                cv2.imwrite(str(args.out / f"tracking_{task}.png"), strip[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    summary["setup"] = {
        "episodes": len(paths),
        "tasks": len({p.parent.name for p in paths}),
        "frames": summary["lk"]["frames"],
        "image_size": list(read_summary(paths[0]).image_size),
        "data": str(args.data),
        "seed": args.seed,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": sys.version.split()[0],
        "command": "python benchmarks/tracking.py " + " ".join(sys.argv[1:]),
    }
    (args.out / "tracking.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_table(summary)
    print(f"wrote {args.out / 'tracking.json'}", file=sys.stderr)
    return 0


def print_table(summary: dict) -> None:
    rows = [
        ("MSE (normalised)", "mse", "{:.5f}"),
        ("pixel accuracy", "pixel_acc", "{:.3f}"),
        ("ΔAUC (1–10 px)", "delta_auc", "{:.3f}"),
        ("δ_avg (1–16 px)", "delta_avg", "{:.3f}"),
        ("δ_avg, moving points only", "delta_avg_moving", "{:.3f}"),
        ("moving share of scored points", "moving_fraction", "{:.3f}"),
        ("occlusion accuracy", "occlusion_acc", "{:.3f}"),
        ("frames / s, 1 core", "frames_per_s", "{:.1f}"),
        ("ms / frame, p95", "ms_per_frame_p95", "{:.1f}"),
    ]
    names = [n for n in ("lk", "cotracker", "oracle") if n in summary]
    if "oracle" in summary:
        summary = {**summary, "stand still": {"available": True, **summary["oracle"]["stand_still_reference"]}}
        names.append("stand still")
    print("| vs simulator ground truth | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for title, key, fmt in rows:
        cells = [
            "n/a"
            if not summary[n]["available"]
            else "–"
            if n in ("oracle", "stand still") and key in TIMING
            else fmt.format(summary[n][key])
            for n in names
        ]
        print(f"| {title} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
