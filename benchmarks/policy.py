"""Closed-loop Meta-World success: AMPLIFY vs behaviour cloning in three data regimes.

    .venv/bin/python benchmarks/policy.py --data /work/data/avdc11 --tokenizer runs/track_prediction/tokenizer \\
        --runs runs/policy --episodes 25 --workers 2

- standard:    up to 25 action-labelled demos per task for the inverse model / BC;
- low-data:    5 action-labelled demos per task; the forward model still sees every video;
- low-data-2:  2 action-labelled demos per task (the paper's LIBERO-Long setting);
- zero-action: three tasks have no action labels at all (inverse model / BC never see them);
               evaluated on those three tasks only.
Methods: amplify and bc, plus two ablations of the inverse model that show what the codes do:
amplify-zero-codes (the same model trained and run on the all-zero code) and amplify-true-codes
(trained on the tokenizer's codes of the true tracks and run on the codes of what the scripted
expert does next from each state: the ceiling for a better forward model).
The forward model (shared by every AMPLIFY row) trains on every episode's video and track
codes, actions unused. Every run is resumed when its directory exists, so rerunning only
evaluates. Writes benchmarks/results/policy.json (+ policy.png, success per task) and prints a
table. The experiments are independent after the forward model: run them on separate cores with
their own --out, then --merge the files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from amplify_ros.sim.metaworld_tasks import resolve_tasks
from amplify_ros.train.tb_logs import training_seconds

RESULTS = Path(__file__).parent / "results" / "policy.json"
BIN = Path(sys.executable).parent
ZERO_ACTION_TASKS = "door-close,handle-press,button-press"
EXPERIMENTS = ("standard", "low-data", "low-data-2", "zero-action")
# method: (inverse model's training codes or None for BC, amplify-eval --codes)
METHODS = {
    "amplify": ("predicted", "policy"),
    "bc": (None, "policy"),
    "amplify-zero-codes": ("zero", "policy"),
    "amplify-true-codes": ("gt", "expert-future"),
}
COLOURS = {
    "amplify": (200, 110, 30),
    "bc": (150, 150, 150),
    "amplify-zero-codes": (90, 90, 220),
    "amplify-true-codes": (60, 170, 60),
}  # BGR, in the chart


def run(cmd: list[str], out: Path) -> float:
    """Train (or resume) a run; its training time in seconds over every session that trained it."""
    if (out / "train.yaml").is_file():
        cmd = [*cmd, "--resume"]
    subprocess.run(cmd, check=True)
    return training_seconds(out)


def success_chart(rows: list[dict], tasks: list[str]) -> np.ndarray:
    """One panel per experiment: a pair of bars (AMPLIFY, BC) per task, 0-1 success, means in the title."""
    bar, gap, name_w, bar_w, top = 9, 6, 170, 260, 44
    panels = []
    present = {r["experiment"] for r in rows}
    for exp in [e for e in EXPERIMENTS if e in present]:
        mine = {m: r for m in METHODS for r in rows if r["experiment"] == exp and r["method"] == m}
        shown = [t for t in tasks if any(t in r["per_task"] for r in mine.values())]
        row_h = len(mine) * bar + gap
        panel = np.full((top + len(shown) * row_h + 10, name_w + bar_w + 20, 3), 255, np.uint8)
        title = exp + ": " + ", ".join(f"{m.removeprefix('amplify-')} {r['mean_success']:.2f}" for m, r in mine.items())
        cv2.putText(
            panel, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4 if len(mine) > 2 else 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
        for x in (0.0, 0.5, 1.0):
            px = name_w + round(x * bar_w)
            cv2.line(panel, (px, top - 6), (px, panel.shape[0] - 6), (225, 225, 225), 1)
            cv2.putText(
                panel, f"{x:g}", (px - 6, top - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (90, 90, 90), 1, cv2.LINE_AA
            )
        for i, task in enumerate(shown):
            y = top + i * row_h
            cv2.putText(panel, task, (6, y + bar + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            for j, (method, row) in enumerate(mine.items()):
                value = row["per_task"].get(task, 0.0)
                y0 = y + j * bar
                cv2.rectangle(
                    panel,
                    (name_w, y0),
                    (name_w + max(1, round(value * bar_w)), y0 + bar - 2),
                    COLOURS.get(method, (0, 0, 0)),
                    -1,
                )
        panels.append(panel)
    height = max(p.shape[0] for p in panels)
    chart = np.hstack([np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels])
    legend = np.full((22, chart.shape[1], 3), 255, np.uint8)
    for k, (method, colour) in enumerate(COLOURS.items()):
        cv2.rectangle(legend, (6 + k * 170, 6), (20 + k * 170, 16), colour, -1)
        cv2.putText(legend, method, (26 + k * 170, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([legend, chart])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path)
    p.add_argument("--tokenizer", type=Path, help="trained motion tokenizer run")
    p.add_argument("--runs", type=Path, default=Path("runs/policy"))
    p.add_argument("--preset", default="small")
    p.add_argument("--tasks", default="avdc11")
    p.add_argument("--experiments", default=",".join(EXPERIMENTS))
    p.add_argument("--methods", default="amplify,bc", help=f"comma-separated, of {', '.join(METHODS)}")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="of the policy (inverse / bc) runs")
    p.add_argument("--forward-steps", type=int, default=1200)
    p.add_argument("--policy-steps", type=int, default=1500)
    p.add_argument("--episodes", type=int, default=25, help="evaluation episodes per task")
    p.add_argument("--max-steps", type=int, default=300, help="step limit per evaluation episode")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="train nothing: put the rows of these result files (runs of this script with their own --out, "
        "e.g. one experiment per core) into --out, replacing rows of the same experiment and method",
    )
    args = p.parse_args()
    tasks = resolve_tasks(args.tasks)
    if args.merge:
        results = merge(args.out, args.merge)
    elif args.data and args.tokenizer:
        results = run_experiments(args, tasks)
    else:
        p.error("--data and --tokenizer are required (unless --merge)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    cv2.imwrite(str(args.out.with_suffix(".png")), success_chart(results["rows"], tasks))
    print(
        "| experiment | method | mean success | 95 % CI | action demos | "
        + " | ".join(tasks)
        + " | policy ms p50 | training (1 core) |"
    )
    print("|---|---|---|---|---|" + "---|" * len(tasks) + "---|---|")
    for r in sorted(
        results["rows"], key=lambda r: (EXPERIMENTS.index(r["experiment"]), list(METHODS).index(r["method"]))
    ):
        cells = [f"{r['per_task'][t]:.2f}" if t in r["per_task"] else "" for t in tasks]
        ci = "-".join(f"{v:.2f}" for v in r["ci95"]) if "ci95" in r else ""
        minutes = f"{r['train_seconds'] / 60:.0f} min" if r.get("train_seconds") else ""
        print(
            f"| {r['experiment']} | {r['method']} | {r['mean_success']:.2f} | {ci} | {r['action_episodes']} | "
            + " | ".join(cells)
            + f" | {r['policy_ms_p50']:.0f} | {minutes} |"
        )
    return 0


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"rows": []}


def merge(out: Path, sources: list[Path]) -> dict:
    results = load_results(out)
    for source in sources:
        for row in load_results(source)["rows"]:
            results["rows"] = [
                r for r in results["rows"] if (r["experiment"], r["method"]) != (row["experiment"], row["method"])
            ]
            results["rows"].append(row)
    return results


def run_experiments(args: argparse.Namespace, tasks: list[str]) -> dict:
    common = ["--data", str(args.data), "--preset", args.preset]

    fwd = args.runs / "forward"
    methods = args.methods.split(",")
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {', '.join(METHODS)}")
    t_fwd = 0.0
    if any(METHODS[m][0] for m in methods):  # BC alone needs no forward model (and may run beside the one training it)
        t_fwd = run(
            [
                str(BIN / "amplify-train"),
                "forward",
                *common,
                "--out",
                str(fwd),
                "--tokenizer",
                str(args.tokenizer),
                "--max-steps",
                str(args.forward_steps),
            ],
            fwd,
        )
    regimes = {
        "standard": (["--train-per-task", "25"], tasks),
        "low-data": (["--train-per-task", "5"], tasks),
        "low-data-2": (["--train-per-task", "2"], tasks),
        "zero-action": (["--holdout-tasks", ZERO_ACTION_TASKS], resolve_tasks(ZERO_ACTION_TASKS)),
    }
    results = load_results(args.out)
    results["rows"] = [
        r for r in results["rows"] if not (r["experiment"] in args.experiments.split(",") and r["method"] in methods)
    ]
    for exp in args.experiments.split(","):
        extra, eval_tasks = regimes[exp]
        for method in methods:
            out = args.runs / f"{exp}_{method}"
            train_codes, eval_codes = METHODS[method]
            kind = ["inverse", "--forward", str(fwd), "--codes", train_codes] if train_codes else ["bc"]
            seconds = run(
                [
                    str(BIN / "amplify-train"),
                    *kind,
                    *common,
                    "--out",
                    str(out),
                    "--max-steps",
                    str(args.policy_steps),
                    "--precision",
                    args.precision,
                    *extra,
                ],
                out,
            )
            evaluation = subprocess.run(
                [
                    str(BIN / "amplify-eval"),
                    "policy",
                    "--checkpoint",
                    str(out),
                    "--codes",
                    eval_codes,
                    "--tasks",
                    ",".join(eval_tasks),
                    "--episodes",
                    str(args.episodes),
                    "--max-steps",
                    str(args.max_steps),
                    "--workers",
                    str(args.workers),
                    "--video",
                    str(args.runs / "videos" / f"{exp}_{method}"),
                    "--json",
                ],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )  # its progress bar (stderr) stays visible
            summary = json.loads(evaluation.stdout)
            split = json.loads((out / "split.json").read_text())
            results["rows"].append(
                {
                    "method": method,
                    "experiment": exp,
                    "mean_success": summary["mean_success"],
                    "per_task": {t: r["success"] for t, r in summary["per_task"].items()},
                    "ci95": summary["ci95_pooled"],
                    "episodes_per_task": args.episodes,
                    "action_episodes": len(split["train"]),
                    "video_episodes": "all" if train_codes == "predicted" else 0,
                    "preset": args.preset,
                    "precision": args.precision,
                    # the forward model is part of the policy only where it predicts the codes
                    "train_seconds": round(seconds + (t_fwd if train_codes == "predicted" else 0), 1),
                    "forward_seconds": round(t_fwd, 1) if train_codes == "predicted" else 0,
                    "policy_ms_p50": summary["policy_ms_p50"],
                    "policy_ms_p95": summary["policy_ms_p95"],
                }
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")  # after every row: partial results survive
    return results


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
