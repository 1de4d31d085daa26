"""Closed-loop Meta-World success: AMPLIFY vs behaviour cloning in three data regimes.

    .venv/bin/python benchmarks/policy.py --data /work/data/avdc11 --tokenizer runs/track_prediction/tokenizer \\
        --runs runs/policy --episodes 25 --workers 2

- standard:    up to 25 action-labelled demos per task for the inverse model / BC;
- low-data:    5 action-labelled demos per task; the forward model still sees every video;
- zero-action: three tasks have no action labels at all (inverse model / BC never see them);
               evaluated on those three tasks only.
The forward model (shared by the three AMPLIFY rows) trains on every episode's video and track
codes, actions unused. Every run is resumed when its directory exists, so rerunning only
evaluates. Writes benchmarks/results/policy.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from amplify_ros.sim.metaworld_tasks import resolve_tasks

RESULTS = Path(__file__).parent / "results" / "policy.json"
BIN = Path(sys.executable).parent
ZERO_ACTION_TASKS = "door-close,handle-press,button-press"


def run(cmd: list[str], out: Path) -> float:
    """Train (or resume) a run; its training time in seconds over every session that trained it."""
    if (out / "train.yaml").is_file():
        cmd = [*cmd, "--resume"]
    subprocess.run(cmd, check=True)
    return training_seconds(out)


def training_seconds(run_dir: Path) -> float:
    """Wall time between the first and last TensorBoard event of each training session, summed:
    a resumed run counts every session, and a finished run resumed only to evaluate adds ~0."""
    total = 0.0
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        times = [e.wall_time for e in EventFileLoader(str(events)).Load()]
        total += times[-1] - times[0] if times else 0.0
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True, help="trained motion tokenizer run")
    p.add_argument("--runs", type=Path, default=Path("runs/policy"))
    p.add_argument("--preset", default="small")
    p.add_argument("--tasks", default="avdc11")
    p.add_argument("--experiments", default="standard,low-data,zero-action")
    p.add_argument("--forward-steps", type=int, default=1200)
    p.add_argument("--policy-steps", type=int, default=1500)
    p.add_argument("--episodes", type=int, default=25, help="evaluation episodes per task")
    p.add_argument("--max-steps", type=int, default=300, help="step limit per evaluation episode")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    tasks = resolve_tasks(args.tasks)
    common = ["--data", str(args.data), "--preset", args.preset]

    fwd = args.runs / "forward"
    t_fwd = run([str(BIN / "amplify-train"), "forward", *common, "--out", str(fwd), "--tokenizer", str(args.tokenizer),
                 "--max-steps", str(args.forward_steps)], fwd)
    regimes = {
        "standard": (["--train-per-task", "25"], tasks),
        "low-data": (["--train-per-task", "5"], tasks),
        "zero-action": (["--holdout-tasks", ZERO_ACTION_TASKS], resolve_tasks(ZERO_ACTION_TASKS)),
    }
    results = json.loads(args.out.read_text()) if args.out.is_file() else {"rows": []}
    results["rows"] = [r for r in results["rows"] if r["experiment"] not in args.experiments.split(",")]
    for exp in args.experiments.split(","):
        extra, eval_tasks = regimes[exp]
        for method in ("amplify", "bc"):
            out = args.runs / f"{exp}_{method}"
            kind = ["inverse", "--forward", str(fwd)] if method == "amplify" else ["bc"]
            seconds = run([str(BIN / "amplify-train"), *kind, *common, "--out", str(out), "--max-steps", str(args.policy_steps), *extra], out)
            evaluation = subprocess.run(
                [str(BIN / "amplify-eval"), "policy", "--checkpoint", str(out), "--tasks", ",".join(eval_tasks),
                 "--episodes", str(args.episodes), "--max-steps", str(args.max_steps), "--workers", str(args.workers),
                 "--video", str(args.runs / "videos" / f"{exp}_{method}"), "--json"],
                check=True, stdout=subprocess.PIPE, text=True)  # its progress bar (stderr) stays visible
            summary = json.loads(evaluation.stdout)
            split = json.loads((out / "split.json").read_text())
            results["rows"].append({
                "method": method, "experiment": exp, "mean_success": summary["mean_success"],
                "per_task": {t: r["success"] for t, r in summary["per_task"].items()},
                "episodes_per_task": args.episodes, "action_episodes": len(split["train"]),
                "video_episodes": "all" if method == "amplify" else 0, "preset": args.preset,
                "train_seconds": round(seconds + (t_fwd if method == "amplify" else 0), 1),
                "policy_ms_p50": summary["policy_ms_p50"], "policy_ms_p95": summary["policy_ms_p95"],
            })
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")  # after every row: partial results survive
    print("| experiment | method | mean success | action episodes | " + " | ".join(tasks) + " |")
    print("|---|---|---|---|" + "---|" * len(tasks))
    for r in results["rows"]:
        cells = [f"{r['per_task'][t]:.2f}" if t in r["per_task"] else "" for t in tasks]
        print(f"| {r['experiment']} | {r['method']} | {r['mean_success']:.2f} | {r['action_episodes']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
