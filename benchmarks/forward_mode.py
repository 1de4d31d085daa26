"""Closed-loop success over DDS, one policy_node setting against another on the same episodes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forward_mode.py --episodes 10                       # sync vs async
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forward_mode.py --compare code_decoding --episodes 10
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forward_mode.py --compare fast_path --episodes 10

``--compare forward_mode`` (default): the forward model in line (sync) or on its own thread
(async). ``--compare code_decoding``: codes predicted one after another (autoregressive, greedy)
or all in one pass by the forward model's parallel head (the checkpoint needs one), both in
torch. ``--compare fast_path``: policy_node's default (parallel codes, both models in ONNX
Runtime) against the paper's path (greedy autoregressive codes, torch). Each writes
benchmarks/results/<compare>.json.

``forward_mode: async`` takes forward decoding off the path from image to action
(benchmarks/latency.py measures that), at the price of acting with motion codes predicted from
an earlier frame. This measures the price: the sim demo graph (lockstep sim bridge + policy_node
with the shipped model) on the same episodes (the bridge's seeds) in both modes, through
``amplify-demo``. In lockstep the simulation waits for each command, so in async mode the codes
are as many frames old as the forward model is slower than the rest of the loop (12.5 ms of
simulated time per frame). Writes benchmarks/results/forward_mode.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from amplify_ros.train.policy_eval import wilson_interval

RESULTS = Path(__file__).parent / "results"
TORCH_AR = {"runtime": "torch", "code_decoding": "autoregressive"}
COMPARE = {  # mode name -> the policy_node parameters it sets
    "forward_mode": {"sync": {"forward_mode": "sync"}, "async": {"forward_mode": "async"}},
    "code_decoding": {"autoregressive": TORCH_AR, "parallel": {"runtime": "torch", "code_decoding": "parallel"}},
    "fast_path": {
        "autoregressive-torch": TORCH_AR,
        "parallel-onnxruntime": {"runtime": "onnxruntime", "code_decoding": "parallel"},
    },
}
REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TASKS = "button-press-topdown,door-open,handle-press,faucet-close"


def run_mode(params: dict, mode: str, task: str, episodes: int, tmp: Path, domain: int, checkpoint: Path) -> list[dict]:
    doc = yaml.safe_load((REPO / "config" / "sim_demo.yaml").read_text())
    doc["amplify_sim_bridge"]["ros__parameters"].update(task=task)
    doc["amplify_policy"]["ros__parameters"].update({**params, "publish_tracks": False, "checkpoint": str(checkpoint)})
    config = tmp / f"{mode}_{task}.yaml"
    config.write_text(yaml.safe_dump(doc))
    out = tmp / f"{mode}_{task}"
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [str(BIN / "amplify-demo"), "--config", str(config), "--episodes", str(episodes), "--out", str(out)],
        check=True,
        env=env,
    )
    return json.loads((out / "summary.json").read_text())["episodes"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default=TASKS)
    p.add_argument("--episodes", type=int, default=10, help="episodes per task and mode")
    p.add_argument(
        "--compare", choices=sorted(COMPARE), default="forward_mode", help="the policy_node settings compared"
    )
    p.add_argument("--checkpoint", type=Path, default=REPO / "models" / "metaworld_small")
    p.add_argument("--out", type=Path, help="default: benchmarks/results/<compare>.json")
    a = p.parse_args()
    modes = COMPARE[a.compare]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, task in enumerate(a.tasks.split(",")):
            for mode in modes:
                results = run_mode(modes[mode], mode, task, a.episodes, Path(tmp), 80 + i, a.checkpoint.resolve())
                wins = [r for r in results if r["success"]]
                rows.append(
                    {
                        "task": task,
                        "mode": mode,
                        "episodes": len(results),
                        "successes": len(wins),
                        "success": len(wins) / len(results),
                        "mean_steps_to_success": sum(r["steps"] for r in wins) / len(wins) if wins else None,
                    }
                )
    print("| task | mode | success | episodes | mean steps to success |")
    print("|---|---|---|---|---|")
    for r in rows:
        steps = f"{r['mean_steps_to_success']:.0f}" if r["mean_steps_to_success"] is not None else "-"
        print(f"| {r['task']} | {r['mode']} | {r['success']:.2f} | {r['episodes']} | {steps} |")
    totals = {}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        k, n = sum(r["successes"] for r in mine), sum(r["episodes"] for r in mine)
        totals[mode] = {"successes": k, "episodes": n, "ci95": list(wilson_interval(k, n))}
        print(f"{mode}: {k}/{n} successful, 95 % interval {totals[mode]['ci95'][0]:.2f}-{totals[mode]['ci95'][1]:.2f}")
    out = a.out or RESULTS / f"{a.compare}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = a.checkpoint.resolve()
    out.write_text(
        json.dumps(
            {
                "checkpoint": str(checkpoint.relative_to(REPO) if checkpoint.is_relative_to(REPO) else checkpoint),
                "graph": "config/sim_demo.yaml (lockstep)",
                "compare": a.compare,
                "settings": modes,
                "rows": rows,
                "totals": totals,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
