"""Track prediction on Meta-World: AMPLIFY (tokenizer + forward model) vs an ATM-style
regression baseline vs zero motion, plus the tokenizer's own reconstruction.

    .venv/bin/python benchmarks/track_prediction.py --data /work/data/avdc11 --runs runs/track_prediction

Trains each model with `amplify-train` (small preset unless --preset; resumes runs already
there, so rerunning only evaluates), evaluates with the same code as `amplify-eval tracks` on
the validation episodes (held-out episodes of the training tasks) and on held-out tasks, prints
a table and writes benchmarks/results/track_prediction.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from amplify_ros.core.checkpoint import resolve
from amplify_ros.data.windows import Split, WindowDataset
from amplify_ros.train.evaluate import evaluate, load_predictor

RESULTS = Path(__file__).parent / "results" / "track_prediction.json"
BIN = Path(sys.executable).parent


def train(kind: str, args: argparse.Namespace, *extra: str) -> tuple[Path, float]:
    out = args.runs / kind
    cmd = [str(BIN / "amplify-train"), kind, "--data", str(args.data), "--out", str(out), "--preset", args.preset,
           "--holdout-tasks", args.holdout_tasks, "--max-steps", str(args.steps[kind]), *extra]
    if (out / "train.yaml").is_file():
        cmd.append("--resume")
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return out, time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--runs", type=Path, default=Path("runs/track_prediction"))
    p.add_argument("--preset", default="small")
    p.add_argument("--holdout-tasks", default="hammer,faucet-close")
    p.add_argument("--tokenizer-steps", type=int, default=1200)
    p.add_argument("--forward-steps", type=int, default=1200)
    p.add_argument("--baseline-steps", type=int, default=1200)
    p.add_argument("--max-samples", type=int, default=2000)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    args.steps = {"tokenizer": args.tokenizer_steps, "forward": args.forward_steps, "track-baseline": args.baseline_steps}

    tok, t_tok = train("tokenizer", args)
    fwd, t_fwd = train("forward", args, "--tokenizer", str(tok))
    atm, t_atm = train("track-baseline", args)
    split = Split.load(tok / "split.json")
    sets = {"heldout_episodes": split.val, "heldout_tasks": split.heldout_tasks}
    rows = {"amplify": (fwd, t_fwd), "atm_regression": (atm, t_atm), "zero_motion": ("zero-motion", 0.0),
            "tokenizer_reconstruction": (tok, t_tok)}
    results = {"data": str(args.data), "preset": args.preset, "train_episodes": len(split.train),
               "holdout_tasks": args.holdout_tasks.split(","), "rows": {}}
    for name, (ckpt, seconds) in rows.items():
        predict, stats, _ = load_predictor(ckpt)
        row = {"train_seconds": round(seconds, 1), "checkpoint": str(resolve(ckpt)) if ckpt != "zero-motion" else ckpt}
        for set_name, episodes in sets.items():
            if episodes:
                data = WindowDataset(args.data, episodes, progress=False)
                row[set_name], _ = evaluate(predict, data, args.max_samples)
        results["rows"][name] = row
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    print("| model | episodes | MSE | pixel acc | ΔAUC | δ_avg | moving: MSE | pixel acc | ΔAUC | δ_avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, row in results["rows"].items():
        for set_name in sets:
            if set_name in row:
                m, mv = row[set_name], row[set_name]["moving"]
                print(f"| {name} | {set_name} | {m['mse']:.5f} | {m['pixel_acc']:.3f} | {m['delta_auc']:.3f} | {m['delta_avg']:.3f} "
                      f"| {mv['mse']:.5f} | {mv['pixel_acc']:.3f} | {mv['delta_auc']:.3f} | {mv['delta_avg']:.3f} |")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
