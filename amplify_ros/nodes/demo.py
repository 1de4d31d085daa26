"""amplify-demo: the closed-loop demo over DDS, for people to watch.

    amplify-demo --config config/sim_demo.yaml --episodes 3 --out demo_out

Starts the nodes of the config (sim bridge + policy), runs ``--episodes`` episodes, prints each
result, and writes one video per episode of what the policy saw with its predicted motion drawn
on (the policy's amplify/predicted_tracks/overlay topic) plus ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from std_msgs.msg import String

from amplify_ros.core.overlay import label
from amplify_ros.data.viewer import write_video
from amplify_ros.nodes.bringup import BringupError, build_nodes, spin
from amplify_ros.nodes.conversions import imgmsg_to_numpy
from amplify_ros.nodes.paths import find_config


class DemoMonitor(Node):
    """Collects episode results and overlay frames; one video per episode."""

    def __init__(self, out: Path, fps: float = 20.0) -> None:
        super().__init__("amplify_demo_monitor")
        self.out = out
        self.fps = fps
        self.results: list[dict] = []
        self.frames: list[np.ndarray] = []
        self.create_subscription(String, "sim/episode_result", self.on_result, QoSProfile(depth=100))
        self.create_subscription(Image, "amplify/predicted_tracks/overlay", self.on_overlay, qos_profile_sensor_data)

    def on_overlay(self, msg: Image) -> None:
        self.frames.append(imgmsg_to_numpy(msg))

    def on_result(self, msg: String) -> None:
        result = json.loads(msg.data)
        self.results.append(result)
        name = f"{result['task']}_{result['index']:03d}_{result['reason']}.mp4"
        if self.frames:
            result["video"] = str(self.out / name)
            text = f"{result['task']} #{result['index']}: {result['reason']}"
            write_video(self.out / name, (label(frame, text) for frame in self.frames), self.fps)
        self.frames = []
        print(
            f"episode {result['index']} of {result['task']}: {'SUCCESS' if result['success'] else 'failure'} "
            f"({result['reason']} after {result['steps']} steps)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="sim_demo", help="config YAML, or the name of a shipped one")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--task", default="", help="Meta-World task (default: the config's)")
    p.add_argument("--out", type=Path, default=Path("demo_out"))
    a = p.parse_args(argv)
    a.config = find_config(a.config)
    with rclpy.init(signal_handler_options=SignalHandlerOptions.NO):
        try:
            nodes = build_nodes(a.config)
        except BringupError as err:
            print(f"amplify-demo: {err}", file=sys.stderr)
            return 2
        bridge = next((n for n in nodes if n.get_name() == "amplify_sim_bridge"), None)
        if bridge is None:
            print(f"amplify-demo: {a.config} starts no sim_bridge_node", file=sys.stderr)
            return 2
        overrides = [Parameter("episodes", value=a.episodes)] + ([Parameter("task", value=a.task)] if a.task else [])
        for r in bridge.set_parameters(overrides):
            if not r.successful:
                print(f"amplify-demo: {r.reason}", file=sys.stderr)
                return 2
        monitor = DemoMonitor(a.out)
        spin([*nodes, monitor], until=lambda: len(monitor.results) >= a.episodes)
    results = monitor.results
    wins = sum(r["success"] for r in results)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "summary.json").write_text(
        json.dumps({"episodes": results, "success_rate": wins / max(len(results), 1)}, indent=1)
    )
    print(f"{wins}/{len(results)} episodes successful; videos and summary.json in {a.out}/")
    return 0 if len(results) >= a.episodes else 1


if __name__ == "__main__":
    sys.exit(main())
