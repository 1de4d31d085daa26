"""amplify-export: a trained run -> a deployable checkpoint (weights, config, stats; float16).

    amplify-export runs/policy/standard_amplify --out models/metaworld_small

Drops optimizer and RNG state and stores float weights as float16, halving the size (the nodes
load it back as float32). The nested forward model and tokenizer come along.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amplify_ros.core.checkpoint import CheckpointError, export_checkpoint, load_checkpoint


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="training run directory or checkpoint")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--float32", action="store_true", help="keep float32 weights")
    a = p.parse_args(argv)
    try:
        out = export_checkpoint(a.run, a.out, half=not a.float32)
        load_checkpoint(out)  # what we ship must load
    except (CheckpointError, OSError) as err:
        print(f"amplify-export: error: {err}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"exported {out} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
