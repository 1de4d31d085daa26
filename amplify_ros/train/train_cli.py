"""amplify-train: train the motion tokenizer, the forward model, the inverse model (AMPLIFY's
policy), or the baselines (ATM-style track regression, behaviour cloning).

    amplify-train tokenizer --data data/avdc11 --out runs/tok
    amplify-train forward --data data/avdc11 --tokenizer runs/tok --out runs/fwd
    amplify-train inverse --data data/avdc11 --forward runs/fwd --out runs/inv     # the policy
    amplify-train track-baseline --data data/avdc11 --out runs/atm
    amplify-train bc --data data/avdc11 --out runs/bc
    torchrun --nproc_per_node=2 -m amplify_ros.train.train_cli tokenizer --data ... --out ...

Every flag is a field of TrainConfig (config.py), printed at start and saved whole in
<out>/train.yaml. Progress bar with loss and samples/s, TensorBoard logs in <out>/tb,
checkpoints in <out>/checkpoints (the newest is named in <out>/last); --resume continues exactly.
"""

from __future__ import annotations

import argparse
import sys

from amplify_ros.core.checkpoint import CheckpointError
from amplify_ros.train.config import TrainConfig, TrainError
from amplify_ros.train.config_cli import build_parser, parse
from amplify_ros.train.trainer import train


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(
        TrainConfig, prog="amplify-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    try:
        config = parse(TrainConfig, parser, argv)
    except TrainError as e:
        parser.error(str(e))
    if not config.data.root.is_dir():
        print(f"amplify-train: error: {config.data.root} is not a dataset folder", file=sys.stderr)
        return 2
    try:
        final = train(config)
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
