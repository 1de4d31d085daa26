"""amplify-train: train the motion tokenizer, the forward model, the inverse model (AMPLIFY's
policy), or the baselines (ATM-style track regression, behaviour cloning).

    amplify-train tokenizer --data data/avdc11 --out runs/tok
    amplify-train forward --data data/avdc11 --tokenizer runs/tok --out runs/fwd
    amplify-train inverse --data data/avdc11 --forward runs/fwd --out runs/inv     # the policy
    amplify-train track-baseline --data data/avdc11 --out runs/atm
    amplify-train bc --data data/avdc11 --out runs/bc
    torchrun --nproc_per_node=2 -m amplify_ros.train.train_cli tokenizer --data ... --out ...

Progress bar with loss and samples/s, TensorBoard logs in <out>/tb, checkpoints in
<out>/checkpoints (the newest is named in <out>/last); --resume continues exactly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from amplify_ros.core.checkpoint import CheckpointError
from amplify_ros.train.presets import TRAIN_PRESETS
from amplify_ros.train.trainer import CODE_SOURCES, TrainArgs, TrainError, train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="amplify-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["tokenizer", "forward", "track-baseline", "inverse", "bc"], help="which model to train")
    p.add_argument("--data", type=Path, required=True, help="dataset folder (episodes with tracks)")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--preset", choices=sorted(TRAIN_PRESETS), default="small", help="model and optimisation sizes (default small)")
    p.add_argument("--tokenizer", type=Path, help="forward model: trained tokenizer run or checkpoint")
    p.add_argument("--forward", type=Path, help="inverse model: trained forward model run or checkpoint")
    p.add_argument("--codes", choices=list(CODE_SOURCES), default="predicted",
                   help="inverse model: train on forward-model predicted codes (paper), codes of the true tracks, "
                        "or the all-zero code (ablation: the same model without motion information)")
    p.add_argument("--chunk", type=int, default=16, help="inverse / bc: actions per chunk (default 16)")
    p.add_argument("--init-from", type=Path, help="start from this run's or checkpoint's weights (those whose names and "
                   "shapes fit; new parts, e.g. --set parallel_depth=2 on a trained forward model, start fresh)")
    p.add_argument("--train-only", default="", help="comma-separated parameter name prefixes that train (e.g. "
                   "parallel: only the parallel code head); the rest stays frozen (default: everything trains)")
    p.add_argument("--max-steps", type=int, help="optimisation steps (default: the preset's)")
    p.add_argument("--batch-size", type=int, help="per-process batch size (default: the preset's)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the preset's)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: the training step's matmuls and convolutions in bfloat16 (weights stay float32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and data order")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of each task's episodes kept for validation")
    p.add_argument("--holdout-tasks", default="", help="comma-separated tasks kept out of training entirely")
    p.add_argument("--train-per-task", type=int, help="use at most N training episodes per task (low-data experiments)")
    p.add_argument("--cameras", default=None, help="comma-separated cameras to use (default: all of each episode)")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--ckpt-every", type=int, default=500)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a model setting of the preset, e.g. --set depth=6 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    return p


def _overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"amplify-train: error: --set takes KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    args = TrainArgs(
        kind=a.kind, data=a.data, out=a.out, preset=a.preset, max_steps=a.max_steps, batch_size=a.batch_size, lr=a.lr,
        device=a.device, precision=a.precision, seed=a.seed, val_fraction=a.val_fraction,
        holdout_tasks=[t for t in a.holdout_tasks.split(",") if t], train_per_task=a.train_per_task, cameras=a.cameras.split(",") if a.cameras else None,
        tokenizer=a.tokenizer, forward=a.forward, codes=a.codes, chunk=a.chunk, init_from=a.init_from,
        train_only=[t.strip() for t in a.train_only.split(",") if t.strip()], model_overrides=_overrides(a.set), log_every=a.log_every, val_every=a.val_every, ckpt_every=a.ckpt_every, resume=a.resume,
    )
    if not a.data.is_dir():
        print(f"amplify-train: error: {a.data} is not a dataset folder", file=sys.stderr)
        return 2
    try:
        final = train(args)
    except (TrainError, CheckpointError, ValueError) as e:
        print(f"amplify-train: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("amplify-train: interrupted; continue with the same command and --resume", file=sys.stderr)
        return 130
    print(f"final checkpoint: {final}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
