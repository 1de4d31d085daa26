"""Motion tokenizer experiments, one change at a time: train each variant with `amplify-train`
on the same data and steps, then measure reconstruction of moving points on its own training
windows (can it fit?) and on validation episodes (does it generalise?), with both decodings.

    .venv/bin/amplify-data generate --tasks avdc11 --episodes 3 --seed 5151 --action-repeat 4 --out data/small20
    .venv/bin/python benchmarks/tokenizer_ablation.py --data data/small20 --runs runs/tok_ablation \\
        --variants fast,half_px

Each variant is a learning rate and `--set` overrides of the small preset (VARIANTS below);
runs already there are resumed, so rerunning only evaluates. Results are merged into
benchmarks/results/tokenizer_ablation.json (one entry per variant, with its command).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from amplify_ros.data.windows import Split, WindowDataset
from amplify_ros.train.evaluate import evaluate, load_predictor

RESULTS = Path(__file__).parent / "results" / "tokenizer_ablation.json"
BIN = Path(sys.executable).parent

# The old small preset first, then one change at a time.
OLD = ["factorised=false", "point_mlp_dim=256", "dropout=0.1", "class_px=1.0", "window=15"]
FAST = ["factorised=true", "point_mlp_dim=64", "dropout=0.0", "class_px=1.0", "window=15"]
VARIANTS: dict[str, dict] = {
    "old": dict(lr=5e-4, set=OLD),
    "old_lr2e-3_dropout0": dict(lr=2e-3, set=OLD[:2] + ["dropout=0.0"] + OLD[3:]),
    "fast": dict(lr=2e-3, set=FAST),
    "half_px": dict(lr=2e-3, set=FAST[:3] + ["class_px=0.5", "window=29"]),
    "image": dict(lr=2e-3, set=FAST + ["image_cond=true"]),
    "half_px_image": dict(lr=2e-3, set=FAST[:3] + ["class_px=0.5", "window=29", "image_cond=true"]),
    "image_moving": dict(lr=2e-3, set=FAST + ["image_cond=true", "moving_share=0.5"]),
    "half_px_image_moving": dict(
        lr=2e-3, set=FAST[:3] + ["class_px=0.5", "window=29", "image_cond=true", "moving_share=0.5"]
    ),
}


def command(name: str, args: argparse.Namespace) -> list[str]:
    v = VARIANTS[name]
    cmd = [
        "amplify-train",
        "tokenizer",
        "--data",
        str(args.data),
        "--out",
        str(args.runs / name),
        "--max-steps",
        str(args.steps),
        "--lr",
        str(v["lr"]),
        "--seed",
        "0",
        "--val-every",
        str(args.val_every),
        "--ckpt-every",
        str(args.val_every),
    ]
    for s in v["set"]:
        cmd += ["--set", s]
    return cmd


def run(name: str, args: argparse.Namespace) -> dict:
    cmd = command(name, args)
    resume = ["--resume"] if (args.runs / name / "train.yaml").is_file() else []
    start = time.perf_counter()
    subprocess.run([str(BIN / cmd[0]), *cmd[1:], *resume], check=True)
    seconds = time.perf_counter() - start
    split = Split.load(args.runs / name / "split.json")
    entry = {"command": " ".join(cmd), "steps": args.steps, "wall_seconds_this_call": round(seconds, 1)}
    for set_name, episodes in (("train", split.train), ("val", split.val)):
        data = WindowDataset(args.data, episodes, progress=False)
        for decoding in ("argmax", "expected"):
            predict, _, _ = load_predictor(args.runs / name, decoding=decoding)
            result, _ = evaluate(predict, data, args.max_samples)
            entry[f"{set_name}_{decoding}"] = {
                "moving_vs_zero_motion": round(result["moving"]["vs_zero_motion"], 4),
                "moving_delta_avg": round(result["moving"]["delta_avg"], 4),
                "pixel_acc": round(result["pixel_acc"], 4),
                "static_mse": round(static_mse(result), 7),
            }
    return entry


def static_mse(result: dict) -> float:
    """MSE on the points that do not move, from the all-points and moving-points MSE."""
    share = result["moving_fraction"]
    return (result["mse"] - share * result["moving"]["mse"]) / max(1 - share, 1e-9)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--runs", type=Path, default=Path("runs/tok_ablation"))
    p.add_argument("--variants", default="fast", help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--max-samples", type=int, default=1000)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    for name in names:
        entry = run(name, args)
        results = json.loads(args.out.read_text()) if args.out.is_file() else {"data": str(args.data), "variants": {}}
        results["variants"][name] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(
            f"| {name} | "
            + " | ".join(
                f"{entry[k]['moving_vs_zero_motion']:.2f}x"
                for k in ("train_argmax", "train_expected", "val_argmax", "val_expected")
            )
            + " |"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
