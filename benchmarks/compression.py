"""Compressed camera topics: bag size, encode time, and what jpeg does to tracking and to the policy.

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/compression.py [--stages size,tracking,policy]
        [--qualities 95,90,75,50] [--png-levels 1,3] [--policy-qualities 90,50]
        [--policy-tasks button-press-topdown,door-open,faucet-open] [--policy-episodes 8] [--print]

Stages (each replaces its own part of benchmarks/results/compression.json and keeps the others):

- size: Meta-World frames (corner camera, the scripted expert moving the arm) rendered at 640x480
  and 128x128 as the sim bridge renders them, and again with camera-like noise (Gaussian, sigma
  2 grey levels: a real sensor's noise is what a lossless or fine jpeg encoder must keep). Each
  frame is built as the nodes publish it (sensor_msgs/Image rgb8, or CompressedImage through
  amplify_ros.nodes.camera_msgs), serialized, and written by the recorder's bag writer into an
  MCAP bag at 30 Hz; MB per minute = bytes on disk per frame x 1800. Encode and decode ms per
  frame are medians on one pinned core (the raw row: building the Image message); PSNR against
  the raw frame.
- tracking: the held-out episodes with exact tracks of benchmarks/tracking.py (data/tracking_bench,
  128x128) tracked by LK on the frames themselves and on their jpeg round trip at each quality,
  scored against the ground truth with amplify_ros/tracking/evaluate.py.
- policy: the shipped policy (models/metaworld_small) in closed loop, `amplify-eval policy`'s
  machinery, on the same seeded episodes with its input frames raw and jpeg round-tripped at each
  of --policy-qualities (at the policy's 128 px, a harsher test than a 640x480 recording
  downscaled on import). A small set: 3 tasks x 8 episodes by default.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FPS = 30
SIZES = {"640x480": (480, 640), "128x128": (128, 128)}
NOISE_SIGMA = 2.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# --- size and speed ----------------------------------------------------------------------------
def render_frames(tasks: list[str], frames_per_task: int, every: int) -> dict[str, np.ndarray]:
    """size name -> (F, H, W, 3) uint8 frames of the expert at work, rendered as the sim bridge does."""
    from amplify_ros.sim.headless import configure_headless_gl

    configure_headless_gl()  # before MuJoCo is imported
    import mujoco

    from amplify_ros.sim.metaworld_env import MetaWorldTask

    out: dict[str, list[np.ndarray]] = {name: [] for name in SIZES}
    for task in tasks:
        sim = MetaWorldTask(task)
        renderers = {}
        for name, (h, w) in SIZES.items():
            renderers[name] = mujoco.Renderer(sim.model, h, w)
            for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
                renderers[name].scene.flags[flag] = 0  # as MetaWorldTask (the bridge) renders
        flip = sim.camera_models["corner"].rotate_180
        sim.reset(7)
        for _ in range(frames_per_task):
            for _ in range(every):
                sim.step(np.clip(sim.expert_action(), -1, 1))
            for name, renderer in renderers.items():
                renderer.update_scene(sim.data, camera="corner")
                image = renderer.render()
                out[name].append(np.ascontiguousarray(image[::-1, ::-1]) if flip else image.copy())
        for renderer in renderers.values():
            renderer.close()
        sim.close()
    return {name: np.stack(frames) for name, frames in out.items()}


def with_noise(frames: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frames + rng.normal(0, sigma, frames.shape), 0, 255).round().astype(np.uint8)


def bag_bytes(messages: list[bytes], msgtype: str) -> int:
    """Bytes on disk of an MCAP bag holding ``messages`` on one topic at FPS."""
    from amplify_ros.data.bag_writer import BagRecorder

    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / "bag"
        with BagRecorder(bag, "mcap", flush_seconds=60.0, split_seconds=None) as writer:
            for i, data in enumerate(messages):
                writer.write("/camera/image_raw", msgtype, data, 1_000_000_000 + i * 1_000_000_000 // FPS)
        return sum(f.stat().st_size for f in bag.rglob("*") if f.is_file())


def measure_variant(frames: np.ndarray, variant: str, quality: int, level: int) -> dict:
    from rclpy.serialization import serialize_message

    from amplify_ros.data.image_msgs import compressed_to_rgb
    from amplify_ros.nodes.camera_msgs import Compression, compressed_image
    from amplify_ros.nodes.conversions import numpy_to_imgmsg
    from amplify_ros.nodes.stamps import header_at

    compression = Compression(variant, quality, level)
    serialized, encode_ms, decode_ms, psnrs = [], [], [], []
    for i, frame in enumerate(frames):
        header = header_at(1_000_000_000 + i * 1_000_000_000 // FPS, "camera_optical_frame")
        t0 = time.perf_counter()
        msg = (
            numpy_to_imgmsg(frame, "rgb8", header) if variant == "raw" else compressed_image(frame, header, compression)
        )
        encode_ms.append(1e3 * (time.perf_counter() - t0))
        if variant != "raw":
            t0 = time.perf_counter()
            decoded = compressed_to_rgb(msg)
            decode_ms.append(1e3 * (time.perf_counter() - t0))
            psnrs.append(psnr(decoded, frame))
        serialized.append(serialize_message(msg))
    size = bag_bytes(serialized, "sensor_msgs/msg/Image" if variant == "raw" else "sensor_msgs/msg/CompressedImage")
    return {
        "bytes_per_frame": size / len(frames),
        "mb_per_minute": size / len(frames) * FPS * 60 / 1e6,
        "encode_ms_median": float(np.median(encode_ms)),
        "encode_ms_p95": float(np.percentile(encode_ms, 95)),
        "decode_ms_median": float(np.median(decode_ms)) if decode_ms else None,
        "psnr_db": float(np.mean(psnrs)) if psnrs else None,
    }


def size_stage(args: argparse.Namespace) -> dict:
    rendered = render_frames(args.size_tasks.split(","), args.frames_per_task, every=3)
    variants = [("raw", 0), *(("jpeg", q) for q in args.qualities), *(("png", level) for level in args.png_levels)]
    out: dict = {}
    for size, frames in rendered.items():
        for look, images in (("rendered", frames), ("camera_noise", with_noise(frames, NOISE_SIGMA))):
            rows = {}
            for kind, setting in variants:
                name = kind if kind == "raw" else f"{kind}{setting}"
                print(f"size: {size} {look} {name}", file=sys.stderr)
                rows[name] = measure_variant(
                    images, kind, setting if kind == "jpeg" else 95, setting if kind == "png" else 3
                )
            for row in rows.values():
                row["vs_raw"] = rows["raw"]["bytes_per_frame"] / row["bytes_per_frame"]
            out.setdefault(size, {})[look] = rows
    out["frames"] = {size: int(len(f)) for size, f in rendered.items()}
    out["tasks"] = args.size_tasks.split(",")
    return out


# --- tracking ------------------------------------------------------------------------------------
def tracking_stage(args: argparse.Namespace) -> dict:
    from amplify_ros.data.dataset import list_episodes
    from amplify_ros.data.episode import Tracks, read_episode
    from amplify_ros.data.image_msgs import jpeg_round_trip
    from amplify_ros.tracking import TrackerSpec
    from amplify_ros.tracking.base import collect
    from amplify_ros.tracking.evaluate import compare

    paths = list_episodes(args.tracking_data)
    if not paths:
        raise SystemExit(f"no episodes in {args.tracking_data}: run benchmarks/tracking.py first (it makes them)")
    episodes = [read_episode(p) for p in paths]
    tracker = TrackerSpec("lk").build()
    out: dict = {}
    for quality in (None, *args.qualities):
        name = "raw" if quality is None else f"jpeg{quality}"
        print(f"tracking: LK on {len(episodes)} episodes, {name}", file=sys.stderr)
        preds, gts, psnrs = [], [], []
        for ep in episodes:
            frames, gt = ep.images["corner"], ep.tracks["corner"]
            if quality is not None:
                seen = np.stack([jpeg_round_trip(f, quality) for f in frames])
                psnrs += [psnr(a, b) for a, b in zip(seen, frames)]
                frames = seen
            tracker.reset()
            windows = [w for f in frames for w in tracker.push(f)] + list(tracker.finish())
            preds.append(collect(windows, len(frames), tracker.source))
            gts.append(gt)
        size = episodes[0].images["corner"].shape[1:3]
        pred = Tracks(np.concatenate([p.points for p in preds]), np.concatenate([p.visible for p in preds]), "lk")
        truth = Tracks(np.concatenate([g.points for g in gts]), np.concatenate([g.visible for g in gts]), "oracle")
        out[name] = {**compare(pred, truth, size), "psnr_db": float(np.mean(psnrs)) if psnrs else None}
    out["episodes"] = len(episodes)
    out["frames"] = int(sum(ep.num_frames for ep in episodes))
    out["data"] = str(args.tracking_data)
    return out


# --- policy --------------------------------------------------------------------------------------
def policy_stage(args: argparse.Namespace) -> dict:
    from amplify_ros.core.checkpoint import resolve
    from amplify_ros.sim.headless import configure_headless_gl

    configure_headless_gl()
    from amplify_ros.sim.generate import episode_seed
    from amplify_ros.train import policy_eval

    tasks = args.policy_tasks.split(",")
    jobs = [(t, i, episode_seed(policy_eval.EVAL_SEED, t, i)) for t in tasks for i in range(args.policy_episodes)]
    out: dict = {
        "checkpoint": str(args.checkpoint),
        "tasks": tasks,
        "episodes_per_task": args.policy_episodes,
        "max_steps": args.max_steps,
    }
    successes = {}
    for quality in (None, *args.policy_qualities):
        name = "raw" if quality is None else f"jpeg{quality}"
        settings = policy_eval.EvalSettings(resolve(args.checkpoint), args.max_steps, jpeg_quality=quality)
        start = time.monotonic()
        outcomes = []
        for o in policy_eval.run(jobs, settings):
            outcomes.append(o)
            print(f"policy {name}: {o.task} {o.index} {o.reason} after {o.steps} steps", file=sys.stderr)
        outcomes.sort(key=lambda o: (o.task, o.index))
        successes[name] = [o.success for o in outcomes]
        out[name] = {**policy_eval.summarise(outcomes), "seconds": time.monotonic() - start}
    for name, wins in successes.items():
        if name != "raw":  # same seeded episodes: how many turned out differently from raw frames
            out[name]["episodes_changed_vs_raw"] = int(sum(a != b for a, b in zip(wins, successes["raw"])))
    return out


# --- report --------------------------------------------------------------------------------------
def print_tables(summary: dict) -> None:
    size = summary.get("size")
    if size:
        for look in ("rendered", "camera_noise"):
            print(f"\n{look} (30 Hz):")
            print(
                "| format | 640x480 MB/min | vs raw | encode ms | PSNR dB "
                "| 128x128 MB/min | vs raw | encode ms | PSNR dB |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            for name in size["640x480"][look]:
                cells = []
                for s in SIZES:
                    r = size[s][look][name]
                    cells += [
                        f"{r['mb_per_minute']:.1f}",
                        f"{r['vs_raw']:.1f}x",
                        f"{r['encode_ms_median']:.2f}",
                        "–" if r["psnr_db"] is None else f"{r['psnr_db']:.1f}",
                    ]
                print(f"| {name} | " + " | ".join(cells) + " |")
    tracking = summary.get("tracking")
    if tracking:
        names = [k for k in tracking if k == "raw" or k.startswith("jpeg")]
        print("\n| LK vs ground truth | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for key in ("delta_avg", "delta_avg_moving", "pixel_acc", "occlusion_acc", "psnr_db"):
            cells = ["–" if tracking[n][key] is None else f"{tracking[n][key]:.3f}" for n in names]
            print(f"| {key} | " + " | ".join(cells) + " |")
    policy = summary.get("policy")
    if policy:
        names = [k for k in policy if k == "raw" or k.startswith("jpeg")]
        print("\n| policy input | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for task in policy["tasks"]:
            print(f"| {task} | " + " | ".join(f"{policy[n]['per_task'][task]['success']:.2f}" for n in names) + " |")
        print("| mean | " + " | ".join(f"{policy[n]['mean_success']:.2f}" for n in names) + " |")
        changed = [str(policy[n]["episodes_changed_vs_raw"]) for n in names[1:]]
        print("| episodes changed vs raw | – | " + " | ".join(changed) + " |")


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default="size,tracking,policy")
    parser.add_argument("--qualities", type=ints, default=[95, 90, 75, 50], help="jpeg qualities (size, tracking)")
    parser.add_argument("--png-levels", type=ints, default=[1, 3], help="png levels (size)")
    parser.add_argument("--size-tasks", default="door-open,basketball")
    parser.add_argument("--frames-per-task", type=int, default=30)
    parser.add_argument("--tracking-data", type=Path, default=Path("data/tracking_bench"))
    parser.add_argument("--checkpoint", type=Path, default=Path("models/metaworld_small"))
    parser.add_argument("--policy-qualities", type=ints, default=[90, 50])
    parser.add_argument("--policy-tasks", default="button-press-topdown,door-open,faucet-open")
    parser.add_argument("--policy-episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULTS / "compression.json")
    parser.add_argument("--print", action="store_true", help="only print the tables of --out")
    args = parser.parse_args()
    if args.print:
        print_tables(json.loads(args.out.read_text()))
        return 0
    cv2.setNumThreads(1)
    stages = {"size": size_stage, "tracking": tracking_stage, "policy": policy_stage}
    for stage in args.stages.split(","):
        if stage != "policy":  # timed stages run on one core, as benchmarks/tracking.py
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        result = stages[stage](args)
        result["command"] = "python benchmarks/compression.py " + " ".join(sys.argv[1:])
        summary = json.loads(args.out.read_text()) if args.out.exists() else {}  # another stage may have run meanwhile
        summary[stage] = result
        summary["machine"] = f"{platform.machine()}, python {sys.version.split()[0]}, OpenCV {cv2.__version__}"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")  # after each stage: a later failure loses nothing
    print_tables(json.loads(args.out.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
