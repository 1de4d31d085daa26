"""Data-engine throughput on one core: scripted-expert Meta-World episodes with exact tracks.

    .venv/bin/python benchmarks/data_engine.py [--tasks avdc11] [--episodes 2] [--image-size 128]

Pins itself to one CPU core (and software OpenGL to one thread), records episodes exactly as
`amplify-data generate` does, and writes benchmarks/results/data_engine.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from amplify_ros.sim.headless import configure_headless_gl  # noqa: E402

configure_headless_gl()

from amplify_ros.core.tracks import IMAGE_SIZE  # noqa: E402
from amplify_ros.sim import generate  # noqa: E402
from amplify_ros.sim.metaworld_tasks import resolve_tasks  # noqa: E402
from amplify_ros.sim.rollout import RolloutConfig  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "data_engine.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="avdc11")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per task")
    parser.add_argument("--image-size", type=int, default=IMAGE_SIZE)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    tasks = resolve_tasks(args.tasks)
    cfg = RolloutConfig()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = generate.plan(Path(tmp), tasks, args.episodes, dataset_seed=0)
        # warm-up: the first GL context of a process costs ~1 s; not part of per-episode cost
        generate.run(jobs[:1], args.image_size, ("corner",), cfg).__next__()
        jobs[0].path.unlink()
        start = time.perf_counter()
        results = list(generate.run(jobs, args.image_size, ("corner",), cfg))
        wall = time.perf_counter() - start

    frames = sum(r.frames for r in results)
    steps = frames - len(results)
    per_frame = {k: 1e3 * sum(getattr(r.timing, k) for r in results) / frames for k in ("render", "tracks")}
    physics_ms = 1e3 * sum(r.timing.physics for r in results) / max(steps, 1)
    summary = {
        "episodes": len(results),
        "tasks": len(tasks),
        "image_size": args.image_size,
        "cameras": ["corner"],
        "frames": frames,
        "mean_episode_frames": frames / len(results),
        "success_rate": sum(r.success for r in results) / len(results),
        "episodes_per_min_per_core": 60 * len(results) / wall,
        "frames_per_s_per_core": frames / wall,
        "ms_per_step_render": per_frame["render"],
        "ms_per_step_tracks": per_frame["tracks"],
        "ms_per_step_physics_and_expert": physics_ms,
        "ms_per_step_total": 1e3 * wall / frames,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": sys.version.split()[0],
        "command": "python benchmarks/data_engine.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    rows = [
        ("episodes (tasks)", f"{summary['episodes']} ({summary['tasks']})"),
        ("mean frames / episode", f"{summary['mean_episode_frames']:.0f}"),
        ("expert success", f"{summary['success_rate']:.2f}"),
        ("episodes / min / core", f"{summary['episodes_per_min_per_core']:.1f}"),
        ("frames / s / core", f"{summary['frames_per_s_per_core']:.1f}"),
        ("ms / step: render", f"{summary['ms_per_step_render']:.1f}"),
        ("ms / step: exact tracks", f"{summary['ms_per_step_tracks']:.1f}"),
        ("ms / step: physics + expert", f"{summary['ms_per_step_physics_and_expert']:.1f}"),
        ("ms / step: total (incl. writing)", f"{summary['ms_per_step_total']:.1f}"),
    ]
    print(f"| data engine, {args.image_size} px, 1 camera, 1 core | |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
