"""Track prediction on Meta-World: AMPLIFY (tokenizer + forward model) vs an ATM-style
regression baseline vs zero motion, plus the tokenizer's own reconstruction.

    .venv/bin/amplify-data generate --tasks avdc11 --episodes 50 --seed 0 --action-repeat 4 --out data/avdc11_20hz
    .venv/bin/python benchmarks/track_prediction.py --data data/avdc11_20hz --runs runs/tp20 \
        --tokenizer-steps 8000 --forward-steps 3000 --baseline-steps 3000

Trains each model with `amplify-train` (small preset unless --preset; runs already there are
resumed, so rerunning only evaluates; the runs can also be started by hand beside each other
with the commands this prints), evaluates with the same code as `amplify-eval tracks` on the
validation episodes (held-out episodes of the training tasks) and on held-out tasks, prints a
table, plots the validation curves (moving-point error as a fraction of "nothing moves" against
steps) and writes benchmarks/results/track_prediction_20hz.json. Training time and samples/s
come from each run's TensorBoard log.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from amplify_ros.core.metrics import moving_tracks
from amplify_ros.core.overlay import draw_prediction, label
from amplify_ros.data.windows import Split, WindowDataset
from amplify_ros.train.evaluate import evaluate, load_predictor
from amplify_ros.train.tb_logs import scalar_curve, training_seconds

RESULTS = Path(__file__).parent / "results" / "track_prediction_20hz.json"
BIN = Path(sys.executable).parent
CURVE_TAG = "val/moving_vs_zero_motion"


def train_command(kind: str, args: argparse.Namespace, *extra: str) -> list[str]:
    return [
        "amplify-train",
        kind,
        "--data",
        str(args.data),
        "--out",
        str(args.runs / kind),
        "--preset",
        args.preset,
        "--holdout-tasks",
        args.holdout_tasks,
        "--max-steps",
        str(args.steps[kind]),
        "--val-every",
        "1000",
        *extra,
    ]


def train(cmd: list[str], run: Path) -> None:
    resume = ["--resume"] if (run / "train.yaml").is_file() else []
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run([str(BIN / cmd[0]), *cmd[1:], *resume], check=True)


def run_facts(run: Path, cmd: list[str]) -> dict:
    """How the run was made and what it cost, from its own logs."""
    rates = [v for _, v in scalar_curve(run, "train/samples_per_s")]
    return {
        "command": " ".join(cmd),
        "train_seconds": round(training_seconds(run), 1),
        "samples_per_s": round(statistics.median(rates), 1) if rates else None,
        "curve": [(step, round(v, 4)) for step, v in scalar_curve(run, CURVE_TAG)],
    }


def line_chart(curves: dict[str, list[tuple[int, float]]], title: str) -> np.ndarray:
    """Validation curves, one colour each, y from 0 to 1 (1 = no better than "nothing moves")."""
    w, h, left, top, bottom = 640, 360, 60, 40, 40
    img = np.full((h, w, 3), 255, np.uint8)
    x_max = max((s for c in curves.values() for s, _ in c), default=1)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]

    def at(step: float, value: float) -> tuple[int, int]:
        return (left + int((w - left - 20) * step / x_max), top + int((h - top - bottom) * (1 - min(value, 1.0))))

    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        cv2.line(img, at(0, frac), at(x_max, frac), (220, 220, 220), 1)
        cv2.putText(img, f"{frac:.2f}", (8, at(0, frac)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (90, 90, 90), 1)
    cv2.putText(img, title, (left, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, f"steps (0-{x_max})", (w // 2 - 40, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    for i, (name, curve) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        for a, b in zip(curve, curve[1:]):
            cv2.line(img, at(*a), at(*b), colour, 2, cv2.LINE_AA)
        for point in curve:
            cv2.circle(img, at(*point), 3, colour, -1)
        cv2.putText(img, name, (w - 200, top + 18 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    return img


def overlay(predictors: dict, data: WindowDataset, path: Path, candidates: int = 400) -> None:
    """The window (of the first ``candidates``) where the most points move, each model's
    prediction (colour) over the true tracks (white), side by side."""
    size = (data.image_size, data.image_size)
    index = max(range(min(candidates, len(data))), key=lambda i: moving_tracks(data[i]["tracks"].numpy(), size).sum())
    sample = data[index]
    batch = {k: v.unsqueeze(0) if isinstance(v, torch.Tensor) else [v] for k, v in sample.items()}
    panels = []
    for name, predict in predictors.items():
        pred = predict(batch)[0, 0].numpy()
        panels.append(label(draw_prediction(sample["images"][0].numpy(), pred, sample["tracks"][0].numpy()), name))
    cv2.imwrite(str(path), np.concatenate(panels, axis=1)[..., ::-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--runs", type=Path, default=Path("runs/tp20"))
    p.add_argument("--preset", default="small")
    p.add_argument("--holdout-tasks", default="hammer,faucet-close")
    p.add_argument("--tokenizer-steps", type=int, default=8000)
    p.add_argument("--forward-steps", type=int, default=3000)
    p.add_argument("--baseline-steps", type=int, default=3000)
    p.add_argument("--max-samples", type=int, default=2000)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    args.steps = {
        "tokenizer": args.tokenizer_steps,
        "forward": args.forward_steps,
        "track-baseline": args.baseline_steps,
    }

    tok, fwd, atm = (args.runs / k for k in ("tokenizer", "forward", "track-baseline"))
    commands = {
        "tokenizer": train_command("tokenizer", args),
        "forward": train_command("forward", args, "--tokenizer", str(tok)),
        "track-baseline": train_command("track-baseline", args),
    }
    for kind, run in (("tokenizer", tok), ("forward", fwd), ("track-baseline", atm)):
        train(commands[kind], run)
    split = Split.load(tok / "split.json")
    sets = {"heldout_episodes": split.val, "heldout_tasks": split.heldout_tasks}
    rows = {
        "amplify": (fwd, "forward"),
        "atm_regression": (atm, "track-baseline"),
        "zero_motion": ("zero-motion", None),
        "tokenizer_reconstruction": (tok, "tokenizer"),
    }
    results = {
        "data": f"{args.data.name}: amplify-data generate --tasks avdc11 --episodes 50 --seed 0 --action-repeat 4",
        "preset": args.preset,
        "train_episodes": len(split.train),
        "holdout_tasks": args.holdout_tasks.split(","),
        "moving": "tracks that get more than 1 px from their start in the window (core/metrics.moving_tracks)",
        "rows": {},
    }
    datasets = {name: WindowDataset(args.data, episodes, progress=False) for name, episodes in sets.items() if episodes}
    predictors = {}
    for name, (ckpt, kind) in rows.items():
        predict, _, _ = load_predictor(ckpt)
        predictors[name] = predict
        row = run_facts(ckpt, commands[kind]) if kind else {}
        for set_name, data in datasets.items():
            row[set_name], _ = evaluate(predict, data, args.max_samples)
        results["rows"][name] = row
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    curves = {
        f"{k} (val episodes)": results["rows"][k]["curve"]
        for k in ("tokenizer_reconstruction", "amplify", "atm_regression")
        if results["rows"][k].get("curve")
    }
    chart = line_chart(curves, "moving-point MSE / that of 'nothing moves', validation, by step")
    cv2.imwrite(str(args.out.with_name("track_prediction_curves.png")), chart[..., ::-1])
    if "heldout_tasks" in datasets:
        overlay(
            {k: predictors[k] for k in ("tokenizer_reconstruction", "amplify", "atm_regression")},
            datasets["heldout_tasks"],
            args.out.with_name("track_prediction_overlay.png"),
        )

    print(
        "| model | episodes | MSE | pixel acc | ΔAUC | δ_avg "
        "| moving: MSE | vs zero motion | pixel acc | ΔAUC | δ_avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in results["rows"].items():
        for set_name in datasets:
            m, mv = row[set_name], row[set_name]["moving"]
            print(
                f"| {name} | {set_name} | {m['mse']:.5f} | {m['pixel_acc']:.3f} "
                f"| {m['delta_auc']:.3f} | {m['delta_avg']:.3f} "
                f"| {mv['mse']:.5f} | {mv['vs_zero_motion']:.2f}x | {mv['pixel_acc']:.3f} "
                f"| {mv['delta_auc']:.3f} | {mv['delta_avg']:.3f} |"
            )
    print("| model | training time | samples/s |\n|---|---|---|")
    for name, row in results["rows"].items():
        if "train_seconds" in row:
            print(f"| {name} | {row['train_seconds'] / 60:.0f} min | {row['samples_per_s']} |")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
