"""Fault injection: bad input gets a clear error and loses nothing (issue 15).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/faults.py                 # every case
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/faults.py --cases fuzz    # some of them

A registry of named cases (``CASES``); each returns a JSON-able result and a markdown table.
Results are MERGED into benchmarks/results/faults.json by case name, so a case added later
(process kills, disk full, a camera that stops) runs without rerunning these. Paths in the
results are relative to the repository root.

- ``fuzz``: per node and input topic, ``--messages`` malformed messages
  (amplify_ros/nodes/malformed_msgs.py) through the node's subscription callbacks, with valid
  context and a valid message every 25 to prove it still works (test/fuzz_nodes.py; models are
  test/tiny.py's untrained policy). Must be 0: exits, commands published from malformed input,
  malformed messages after which no refusal was counted.
- ``corrupt_files``: episode HDF5 files and rosbag2 bags (MCAP, sqlite3) truncated at random
  offsets, emptied or overwritten with random bytes among good ones, fed to ``amplify-data
  info``, ``amplify-data track``, ``amplify-data import-bag`` and training's episode loader
  (``WindowDataset``, what ``amplify-train`` reads a dataset folder with). Per tool: files fed,
  damaged, reported (one line naming the file) and skipped, crashes (exceptions out of the tool),
  exit status. A file damaged only inside pixel data may still read as valid: it is counted as
  damaged but not as skipped.
- ``kill_policy``, ``kill_recorder``, ``camera_stop``, ``disk_full``: a running graph of
  processes, see benchmarks/faults_runtime.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))

import faults_runtime  # noqa: E402
import numpy as np  # noqa: E402
from faults_runtime import table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "test"))  # the tiny models and datasets, the fuzz driver and bag writer of the tests
RESULTS = ROOT / "benchmarks" / "results" / "faults.json"

Case = Callable[[argparse.Namespace], tuple[dict, str]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


# --- fuzz ---------------------------------------------------------------------------------------
@case("fuzz")
def fuzz(args: argparse.Namespace) -> tuple[dict, str]:
    import fuzz_nodes
    import rclpy
    from tiny import tiny_policy_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        checkpoints = {"amplify": tiny_policy_checkpoint(Path(tmp))}
        rclpy.init()
        try:
            rows = []
            for name in fuzz_nodes.NODES:
                start = time.perf_counter()
                reports = fuzz_nodes.fuzz_node(name, checkpoints, args.messages, args.seed)
                seconds = time.perf_counter() - start
                rows += [{**r.as_dict(), "seconds": round(seconds / len(reports), 2)} for r in reports]
        finally:
            rclpy.shutdown()
    md = table(
        [
            "node",
            "topic",
            "sent",
            "exits",
            "published from malformed",
            "uncounted",
            "accepted by design",
            "valid processed",
            "refusals by reason",
        ],
        [
            [
                r["node"],
                r["topic"],
                r["sent"],
                r["exits"],
                r["published_from_malformed"],
                r["uncounted"],
                r["accepted_by_design"],
                f"{r['valid_processed']}/{r['valid_sent']}",
                ", ".join(f"{k} {v}" for k, v in r["refusals"].items()),
            ]
            for r in rows
        ],
    )
    totals = {k: sum(r[k] for r in rows) for k in ("sent", "exits", "published_from_malformed", "uncounted")}
    return {"messages_per_topic": args.messages, "seed": args.seed, "totals": totals, "topics": rows}, md


# --- corrupt files ------------------------------------------------------------------------------
def _run_tool(fn: Callable[[], int]) -> tuple[int | None, str, str]:
    """(exit status or None after a crash, stdout + stderr, the crash) of ``fn()``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status, crash = fn(), ""
        except SystemExit as e:
            status, crash = e.code if isinstance(e.code, int) else 2, ""
        except Exception as e:  # noqa: BLE001 - a crash is what this measures
            status, crash = None, f"{type(e).__name__}: {e}"
    return status, out.getvalue() + err.getvalue(), crash


def _named(text: str, files: list[Path]) -> int:
    """How many of ``files`` a line of ``text`` names (by its last two path parts)."""
    lines = text.splitlines()
    return sum(any(f"{f.parent.name}/{f.name}" in line or str(f) in line for line in lines) for f in files)


def _damage(paths: list[Path], rng: np.random.Generator) -> dict[Path, str]:
    from amplify_ros.data.corrupt_files import MODES, corrupt

    return {p: corrupt(p, MODES[i % len(MODES)], rng) for i, p in enumerate(paths)}


def _episode_tools(tmp: Path, rng: np.random.Generator, episodes: int) -> list[dict]:
    from tiny import tiny_dataset

    from amplify_ros.data.dataset import list_episodes
    from amplify_ros.data.windows import WindowDataset
    from amplify_ros.train.data_cli import main

    root = tiny_dataset(tmp / "ds", episodes=episodes)
    paths = list_episodes(root)
    damaged = _damage(paths[1::2], rng)
    rows = []
    for tool, fn in (
        ("amplify-data info", lambda: main(["info", str(root)])),
        ("amplify-data track", lambda: main(["track", str(root), "--backend", "lk", "--overwrite"])),
    ):
        status, text, crash = _run_tool(fn)
        rows.append(
            {
                "tool": tool,
                "fed": len(paths),
                "damaged": len(damaged),
                "reported": _named(text, list(damaged)),
                "crashes": int(bool(crash)),
                "exit": status,
                "crash": crash,
            }
        )
    holder: dict = {}

    def load() -> int:
        holder["ds"] = WindowDataset(root, [str(p.relative_to(root)) for p in paths], progress=False)
        return 0

    status, text, crash = _run_tool(load)
    ds = holder.get("ds")
    rows.append(
        {
            "tool": "training loader (WindowDataset)",
            "fed": len(paths),
            "damaged": len(damaged),
            "reported": _named(text, list(damaged)),
            "skipped": len(ds.skipped_corrupt) if ds else None,
            "used": len(ds.episodes) if ds else 0,
            "crashes": int(bool(crash)),
            "exit": status,
            "crash": crash,
        }
    )
    for row in rows[:2]:
        row["skipped"] = row["reported"]
    return rows


def _bag_tool(tmp: Path, rng: np.random.Generator, bags: int) -> list[dict]:
    from bags import recording, write_bag

    from amplify_ros.train.data_cli import main

    rows = []
    for storage in ("mcap", "sqlite3"):
        folders = [write_bag(tmp / f"{storage}_{i}", recording(duration=1.0), storage=storage) for i in range(bags)]
        damaged = _damage(folders[1::2], rng)
        out = tmp / f"out_{storage}"
        status, text, crash = _run_tool(
            lambda: main(["import-bag", *map(str, folders), "--action-topic", "/cmd", "--out", str(out)])
        )
        skipped = text.count("amplify-data: skipped")
        reported = sum(any(f"{f.name}" in line and "skipped" in line for line in text.splitlines()) for f in damaged)
        rows.append(
            {
                "tool": f"amplify-data import-bag ({storage})",
                "fed": len(folders),
                "damaged": len(damaged),
                "reported": reported,
                "skipped": skipped,
                "crashes": int(bool(crash)),
                "exit": status,
                "crash": crash,
            }
        )
    return rows


@case("corrupt_files")
def corrupt_files(args: argparse.Namespace) -> tuple[dict, str]:
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        rows = _episode_tools(Path(tmp), rng, args.episodes) + _bag_tool(Path(tmp), rng, args.bags)
    md = table(
        ["tool", "files fed", "damaged", "reported", "skipped", "crashes", "exit status"],
        [[r["tool"], r["fed"], r["damaged"], r["reported"], r["skipped"], r["crashes"], r["exit"]] for r in rows],
    )
    return {
        "seed": args.seed,
        "exit_status": "0: every file used; 1: some skipped; 2: nothing usable",
        "tools": rows,
        "crashes": sum(r["crashes"] for r in rows),
    }, md


CASES.update(faults_runtime.CASES)  # process kills, the camera stopping, the disk filling


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--messages", type=int, default=1000, help="fuzz: malformed messages per node and topic")
    parser.add_argument("--episodes", type=int, default=6, help="corrupt_files: episodes per task (half are damaged)")
    parser.add_argument("--bags", type=int, default=6, help="corrupt_files: bags per storage (half are damaged)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    faults_runtime.add_arguments(parser)
    args = parser.parse_args()
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; registered: {', '.join(CASES)}")
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for name in names:
        start = time.perf_counter()
        result, md = CASES[name](args)
        result["seconds"] = round(time.perf_counter() - start, 1)
        results[name] = result
        print(f"\n## {name} ({result['seconds']} s)\n\n{md}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
