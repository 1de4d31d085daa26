"""ONNX Runtime against torch on real frames: the same codes and actions, and each stage's time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/runtime_agreement.py --data data/avdc11_20hz

One policy loaded twice, both decoding codes with the parallel head: once in eager torch, once
as ONNX Runtime graphs (policy_node's default). Every ``--every``-th frame of every
``--stride``-th episode goes through both on one thread; the table counts frames whose 15 codes
are identical, the largest action difference, and the median / p95 time of the forward and
inverse passes in each runtime (this process only: no DDS, no image conversion). Writes
benchmarks/results/runtime_agreement.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from amplify_ros.core.policy import Policy
from amplify_ros.data.dataset import list_episodes
from amplify_ros.data.episode import read_episode

RESULTS = Path(__file__).parent / "results" / "runtime_agreement.json"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("models/metaworld_small"))
    p.add_argument("--data", type=Path, default=Path("data/avdc11_20hz"))
    p.add_argument("--stride", type=int, default=25, help="every N-th episode")
    p.add_argument("--every", type=int, default=3, help="every N-th frame of it")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    torch.set_num_threads(1)
    policies = {}
    for runtime in ("torch", "onnxruntime"):
        policies[runtime] = Policy.load(a.checkpoint)
        start = time.perf_counter()
        policies[runtime].configure(runtime, "parallel")
        print(f"{runtime}: configured in {time.perf_counter() - start:.1f} s")
    camera = policies["torch"].cameras[0]
    frames = same = 0
    worst = 0.0
    times: dict[str, list[float]] = {}
    for path in list_episodes(a.data)[:: a.stride]:
        ep = read_episode(path)
        images, proprio = ep.images[camera], ep.proprio
        for i in range(0, len(images), a.every):
            preds = {rt: pol.predict(images[i : i + 1], proprio[i], ep.sentence) for rt, pol in policies.items()}
            frames += 1
            same += int(np.array_equal(preds["torch"].codes, preds["onnxruntime"].codes))
            worst = max(worst, float(np.abs(preds["torch"].actions - preds["onnxruntime"].actions).max()))
            for rt, pred in preds.items():
                for stage in ("forward_ms", "inverse_ms", "total_ms"):
                    times.setdefault(f"{rt}.{stage}", []).append(pred.timings_ms[stage])
    stages = {k: {"p50": float(np.median(v)), "p95": float(np.percentile(v, 95))} for k, v in times.items()}
    print(f"{frames} frames: identical codes on {same}, largest action difference {worst:.2e}")
    print("| runtime | forward p50 / p95 ms | inverse p50 / p95 ms | total p50 / p95 ms |")
    print("|---|---|---|---|")
    for rt in policies:
        cells = [
            f"{stages[f'{rt}.{s}']['p50']:.1f} / {stages[f'{rt}.{s}']['p95']:.1f}"
            for s in ("forward_ms", "inverse_ms", "total_ms")
        ]
        print(f"| {rt} | {' | '.join(cells)} |")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps(
            {
                "checkpoint": str(a.checkpoint),
                "data": str(a.data),
                "code_decoding": "parallel",
                "frames": frames,
                "identical_codes": same,
                "max_action_difference": worst,
                "stages_ms": stages,
                "threads": 1,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
