"""Soak: the closed loop in real time for --minutes, every process sampled once a second.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/soak.py --checkpoint models/metaworld_small --minutes 10

Four processes, each an amplify-bringup of its own as on a real arm: sim_bridge_node in realtime
mode at --rate frames per second (episodes back to back), policy_node, arm_output_node (the safety
filter between the policy's amplify/command and the simulator) and recorder_node recording the
teleop topics, one episode every --episode-seconds (started and stopped through its services).
Once a second this process reads each one's RSS and CPU from /proc and its /diagnostics
(callback latency p50 / p95 over the node's last 300 frames, frames processed, refusals by
reason). At the end every recorded bag is imported with amplify-data's import-bag.

Targets: RSS growth <= 5 % from minute 2 to the last minute (means of the samples in each);
policy latency p95 of the last minute within 10 % of minute 2's; no process exits; every
recorded episode imports. Runs shorter than 3 minutes compare the second and last quarter
instead (a smoke run, not the target). Writes benchmarks/results/soak.json and soak.png.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from node_graph import NodeProcess, Watcher, write_configs
from std_msgs.msg import String
from std_srvs.srv import Trigger

from amplify_ros.core.checkpoint import resolve
from amplify_ros.data.bag_import import BagImportSettings, import_bags

RESULTS = Path(__file__).parent / "results" / "soak.json"
ACTIONS = ["ee_dx", "ee_dy", "ee_dz", "gripper"]
SAMPLES_KEPT_EVERY = 5  # of the once-a-second samples, in soak.json


def graph(checkpoint: Path, rate: float, recordings: Path) -> dict[str, dict]:
    fps = json.loads((resolve(checkpoint) / "stats.json").read_text()).get("fps") or 80.0
    sim_time = {"use_sim_time": True}
    return {
        "amplify_sim_bridge": {
            "module": "sim_bridge_node",
            "remappings": ["amplify_sim_bridge:amplify/command:=/sim/command"],
            "parameters": {
                "mode": "realtime",
                "rate": rate,
                "action_repeat": round(80.0 / fps),
                "task": "button-press-topdown",
                "max_steps": 300,
                "image_qos": "reliable",
            },
        },
        "amplify_policy": {
            "module": "policy_node",
            "remappings": ["amplify_policy:joint_states:=/ee_state"],
            "parameters": {
                **sim_time,
                "checkpoint": str(checkpoint),
                "image_qos": "reliable",
                "state_names": ["ee_x", "ee_y", "ee_z", "gripper"],
                "action_names": ACTIONS,
                "action_period": 1.0 / fps,
                "max_image_age": 0.5,
                "max_state_age": 0.1,
            },
        },
        "amplify_arm_output": {
            "module": "arm_output_node",
            "remappings": ["amplify_arm_output:arm/command:=/sim/command"],
            "parameters": {
                **sim_time,
                "enabled": True,
                "joint_names": ACTIONS,
                "period": 1.0 / fps,
                "lower": [-1.0] * 4,
                "upper": [1.0] * 4,
                "max_image_age": 0.5,
            },
        },
        "amplify_recorder": {
            "module": "recorder_node",
            "remappings": ["amplify_recorder:joint_states:=/ee_state"],
            "parameters": {"mode": "teleop", "output_dir": str(recordings), "storage": "mcap"},
        },
    }


class Driver(Watcher):
    """Watches every node's /diagnostics and the episode results."""

    def __init__(self) -> None:
        super().__init__("soak_driver")
        self.episodes: list[dict] = []
        self.create_subscription(String, "sim/episode_result", lambda m: self.episodes.append(json.loads(m.data)), 100)

    def recorder(self, service: str) -> str:
        """Call the recorder's ~/start or ~/stop; its answer."""
        answer = self.call(Trigger, f"/amplify_recorder/{service}", Trigger.Request())
        return answer.message if answer is not None else "no answer"


def _float(values: dict[str, str], key: str) -> float | None:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


def sample(t: float, procs: dict[str, NodeProcess], driver: Driver) -> dict:
    row: dict = {"t": round(t, 1)}
    now = time.monotonic()
    for name, proc in procs.items():
        if proc.exited() is not None:
            row[name] = {"alive": False}
            continue
        diag = driver.diagnostics.get(name, {})
        row[name] = {
            "alive": True,
            "rss_mb": round(proc.rss_mb(), 1),
            "cpu_pct": round(proc.cpu_percent(now), 1),
            "latency_p50_ms": _float(diag, "latency_p50_ms"),
            "latency_p95_ms": _float(diag, "latency_p95_ms"),
            "processed": _float(diag, "processed"),
            "dropped": {k.removeprefix("dropped_"): int(v) for k, v in diag.items() if k.startswith("dropped_")},
        }
    return row


def windows(seconds: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(minute 2, last minute), or the second and last quarter for a run under 3 minutes."""
    if seconds >= 180:
        return (60.0, 120.0), (seconds - 60.0, seconds)
    q = seconds / 4
    return (q, 2 * q), (3 * q, seconds)


def window_mean(samples: list[dict], name: str, key: str, window: tuple[float, float]) -> float | None:
    values = [s[name][key] for s in samples if window[0] <= s["t"] < window[1] and s[name].get(key) is not None]
    return float(np.mean(values)) if values else None


def series_chart(samples: list[dict], key: str, title: str, names: list[str]) -> np.ndarray:
    """One line per process of ``key`` over time, y from 0 to the largest value."""
    w, h, left, top, bottom = 640, 300, 60, 36, 36
    img = np.full((h, w, 3), 255, np.uint8)
    t_max = max(s["t"] for s in samples) or 1.0
    y_max = max((s[n].get(key) or 0.0 for s in samples for n in names), default=1.0) * 1.1 or 1.0
    colours = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214)]

    def at(t: float, y: float) -> tuple[int, int]:
        return left + int((w - left - 20) * t / t_max), top + int((h - top - bottom) * (1 - y / y_max))

    for frac in (0.0, 0.5, 1.0):
        cv2.line(img, at(0, frac * y_max), at(t_max, frac * y_max), (225, 225, 225), 1)
        cv2.putText(
            img, f"{frac * y_max:.0f}", (8, at(0, frac * y_max)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (90, 90, 90), 1
        )
    cv2.putText(img, title, (left, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, f"seconds (0-{t_max:.0f})", (w // 2 - 50, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    for i, name in enumerate(names):
        points = [at(s["t"], s[name][key]) for s in samples if s[name].get(key) is not None]
        if len(points) > 1:
            cv2.polylines(img, [np.array(points, np.int32).reshape(-1, 1, 2)], False, colours[i % 4], 1, cv2.LINE_AA)
        cv2.putText(img, name, (w - 190, top + 16 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.42, colours[i % 4], 1)
    return img


def import_recordings(recordings: Path, out: Path) -> list[dict]:
    """Each recorded bag through import-bag: does it give an episode, and how many frames."""
    bags = sorted(p for p in recordings.iterdir() if p.is_dir())
    settings = BagImportSettings(action_topic="/amplify/command")
    rows = []
    for bag, result in zip(bags, import_bags(bags, None, out, settings)):
        rows.append(
            {"bag": bag.name, "imported": bool(result.paths), "frames": result.frames, "error": result.error or None}
        )
    return rows


def run(args: argparse.Namespace, work: Path) -> dict:
    recordings = work / "recordings"
    procs = write_configs(work, graph(args.checkpoint, args.rate, recordings))
    env = {**os.environ, "ROS_DOMAIN_ID": str(args.domain), "OMP_NUM_THREADS": "1"}
    for proc in procs.values():
        proc.start(env)
    os.environ["ROS_DOMAIN_ID"] = str(args.domain)
    rclpy.init()
    driver = Driver()
    samples, recorder_calls = [], []
    try:
        deadline = time.monotonic() + 120  # models load; each node then reports on /diagnostics
        while set(procs) - set(driver.diagnostics) and time.monotonic() < deadline:
            driver.spin_for(0.5)
        recorder_calls.append(driver.recorder("start"))
        t0 = time.monotonic()
        next_episode = args.episode_seconds
        while (t := time.monotonic() - t0) < args.minutes * 60:
            samples.append(sample(t, procs, driver))
            if t >= next_episode:
                recorder_calls += [driver.recorder("stop"), driver.recorder("start")]
                next_episode += args.episode_seconds
            driver.spin_for(1.0 - (time.monotonic() - t0 - t))
        recorder_calls.append(driver.recorder("stop"))
        episodes = list(driver.episodes)
    finally:
        driver.destroy_node()
        rclpy.shutdown()
        for proc in procs.values():
            proc.stop()
    seconds = samples[-1]["t"]
    early, late = windows(seconds)
    processes = {}
    for name, proc in procs.items():
        rss0, rss1 = window_mean(samples, name, "rss_mb", early), window_mean(samples, name, "rss_mb", late)
        p95_0, p95_1 = (window_mean(samples, name, "latency_p95_ms", w) for w in (early, late))
        last = next((s[name] for s in reversed(samples) if s[name]["alive"]), {})
        processes[name] = {
            "exits_during_run": [c for c in proc.exits],
            "rss_mb_early": rss0,
            "rss_mb_late": rss1,
            "rss_growth_pct": 100 * (rss1 / rss0 - 1) if rss0 and rss1 else None,
            "cpu_pct_mean": window_mean(samples, name, "cpu_pct", (early[0], seconds + 1)),
            "latency_p95_ms_early": p95_0,
            "latency_p95_ms_late": p95_1,
            "latency_p95_change_pct": 100 * (p95_1 / p95_0 - 1) if p95_0 and p95_1 else None,
            "processed": last.get("processed"),
            "dropped": last.get("dropped", {}),
        }
    imports = import_recordings(recordings, work / "imported")
    return {
        "minutes": args.minutes,
        "rate_hz": args.rate,
        "checkpoint": str(args.checkpoint),
        "seconds": seconds,
        "windows_s": [early, late],
        "processes": processes,
        "sim_episodes": len(episodes),
        "sim_successes": sum(bool(e.get("success")) for e in episodes),
        "recorder_calls": recorder_calls,
        "recordings": imports,
        "samples": samples,
    }


def verdict(result: dict) -> dict[str, bool]:
    procs = result["processes"]
    return {
        "rss_growth_le_5pct": all(
            p["rss_growth_pct"] is not None and p["rss_growth_pct"] <= 5.0 for p in procs.values()
        ),
        "policy_p95_within_10pct": (procs["amplify_policy"]["latency_p95_change_pct"] or 0.0) <= 10.0
        and procs["amplify_policy"]["latency_p95_change_pct"] is not None,
        "no_process_exits": not any(p["exits_during_run"] for p in procs.values()),
        "every_recording_imports": bool(result["recordings"]) and all(r["imported"] for r in result["recordings"]),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("models/metaworld_small"))
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=30.0, help="camera frames (and commands) per second")
    p.add_argument(
        "--episode-seconds", type=float, default=60.0, help="recorder: stop and start a new episode this often"
    )
    p.add_argument("--domain", type=int, default=77, help="ROS_DOMAIN_ID of the graph")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak_") as tmp:
        result = json.loads(json.dumps(run(args, Path(tmp))).replace(tmp, "<tmp>"))  # no machine's paths in results
    result["targets"] = verdict(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    names = list(result["processes"])
    chart = np.vstack(
        [
            series_chart(result["samples"], "rss_mb", "RSS (MB) per process", names),
            series_chart(result["samples"], "latency_p95_ms", "callback latency p95 (ms)", names),
        ]
    )
    kept = {**result, "samples": result["samples"][::SAMPLES_KEPT_EVERY]}  # the chart has them all
    args.out.write_text(json.dumps(kept, indent=1) + "\n")
    cv2.imwrite(str(args.out.with_suffix(".png")), chart)
    print(
        f"soak: {result['seconds']:.0f} s, "
        f"{result['sim_episodes']} sim episodes ({result['sim_successes']} successes), "
        f"{len(result['recordings'])} recordings; windows {result['windows_s']}"
    )
    print(
        "| process | exits | RSS early MB | RSS late MB | growth % | CPU % "
        "| p95 early ms | p95 late ms | change % | processed | refused |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f}"

    for name, r in result["processes"].items():
        refused = ", ".join(f"{k} {v}" for k, v in sorted(r["dropped"].items())) or "0"
        print(
            f"| {name} | {len(r['exits_during_run'])} | {fmt(r['rss_mb_early'])} | {fmt(r['rss_mb_late'])} | "
            f"{fmt(r['rss_growth_pct'])} | {fmt(r['cpu_pct_mean'])} | {fmt(r['latency_p95_ms_early'])} | "
            f"{fmt(r['latency_p95_ms_late'])} | {fmt(r['latency_p95_change_pct'])} | "
            f"{fmt(r['processed'])} | {refused} |"
        )
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in result["targets"].items()))
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
