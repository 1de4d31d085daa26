"""End-to-end latency through real DDS: camera image published -> action chunk received.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/latency.py --checkpoint models/metaworld_small

For each graph (``policy``: one policy_node; ``split``: forward_node + inverse_node) the nodes
run in their own process (amplify-bringup), this process plays camera and robot: it publishes
640x480 rgb8 images and joint states at --rate Hz, stamped with the wall clock, and times the
action chunk that comes back for each stamp. Frames that never get a chunk are counted as
dropped (a camera stream is best effort with depth 1: a node busy for longer than a frame
period skips frames). Per-stage model times come from the nodes' /diagnostics.
Writes benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header, String
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.qos import latched_qos

RESULTS = Path(__file__).parent / "results" / "latency.json"
BIN = Path(sys.executable).parent
STATE = ["ee_x", "ee_y", "ee_z", "gripper"]
COMMON = {"state_names": STATE, "action_names": ["ee_dx", "ee_dy", "ee_dz", "gripper"], "max_image_age": 1.0,
          "max_state_age": 0.1, "publish_tracks": False}


def graph_config(graph: str, checkpoint: Path) -> dict:
    if graph == "policy":
        return {"amplify_bringup": {"ros__parameters": {"nodes": ["policy_node"]}},
                "amplify_policy": {"ros__parameters": {"checkpoint": str(checkpoint), **COMMON}}}
    return {"amplify_bringup": {"ros__parameters": {"nodes": ["forward_node", "inverse_node"]}},
            "amplify_forward": {"ros__parameters": {"checkpoint": str(checkpoint / "forward"), "publish_tracks": False}},
            "amplify_inverse": {"ros__parameters": {"checkpoint": str(checkpoint), **COMMON}}}


class Camera(Node):
    """Publishes frames + states at a fixed rate and records when each stamp's chunk returns."""

    def __init__(self, rate: float, frames: int, height: int, width: int) -> None:
        super().__init__("latency_camera")
        self.frames, self.sent = frames, {}
        self.received: dict[tuple[int, int], float] = {}
        self.diagnostics: dict[str, dict[str, str]] = {}
        rng = np.random.default_rng(0)
        self.images = [rng.integers(0, 255, (height, width, 3), np.uint8) for _ in range(8)]
        self.image_pub = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.state_pub = self.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
        self.task_pub = self.create_publisher(String, "amplify/task", latched_qos())
        self.create_subscription(JointTrajectory, "amplify/action_chunk", self.on_chunk, QoSProfile(depth=100))
        self.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, 10)
        self.period = 1.0 / rate
        self.timer = None

    def start(self) -> None:
        self.task_pub.publish(String(data="press the button from the top"))
        self.timer = self.create_timer(self.period, self.tick)

    def tick(self) -> None:
        if len(self.sent) >= self.frames:
            return
        now = time.time()
        header = Header(frame_id="camera")
        header.stamp.sec, header.stamp.nanosec = int(now), int((now % 1) * 1e9)
        self.state_pub.publish(JointState(header=header, name=STATE, position=[0.0, 0.6, 0.2, 1.0]))
        self.image_pub.publish(numpy_to_imgmsg(self.images[len(self.sent) % 8], "rgb8", header))
        self.sent[(header.stamp.sec, header.stamp.nanosec)] = now

    def on_chunk(self, msg: JointTrajectory) -> None:
        self.received[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = time.time()

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.name] = {v.key: v.value for v in status.values}


def measure(graph: str, checkpoint: Path, frames: int, rate: float, warmup: int, domain: int) -> dict:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / f"{graph}.yaml"
        config.write_text(yaml.safe_dump(graph_config(graph, checkpoint)))
        proc = subprocess.Popen([str(BIN / "amplify-bringup"), str(config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        os.environ["ROS_DOMAIN_ID"] = str(domain)
        rclpy.init()
        cam = Camera(rate, frames + warmup, 480, 640)
        try:
            deadline = time.monotonic() + 60
            while cam.image_pub.get_subscription_count() < (2 if graph == "split" else 1) and time.monotonic() < deadline:
                rclpy.spin_once(cam, timeout_sec=0.1)
            for _ in range(30):  # let the models load (the node reports 'running' on /diagnostics)
                rclpy.spin_once(cam, timeout_sec=0.1)
            cam.start()
            end = time.monotonic() + (frames + warmup) / rate + 5.0
            while time.monotonic() < end:
                rclpy.spin_once(cam, timeout_sec=0.01)
        finally:
            cam.destroy_node()
            rclpy.shutdown()
            proc.terminate()
            stderr = proc.communicate(timeout=30)[1]
    stamps = sorted(cam.sent)[warmup:]
    lat = np.array([(cam.received[s] - cam.sent[s]) * 1e3 for s in stamps if s in cam.received])
    if not len(lat):
        raise RuntimeError(f"{graph}: no action chunk came back; node output:\n{stderr[-2000:]}")
    stages = {}
    for name, values in cam.diagnostics.items():
        for key, value in values.items():
            if key.endswith("_p50_ms") or key.endswith("_p95_ms"):
                stages[f"{name.removeprefix('amplify_ros: ')}.{key}"] = value
    return {"graph": graph, "frames_sent": len(stamps), "chunks_received": int(len(lat)),
            "frames_dropped": len(stamps) - int(len(lat)), "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)), "max_ms": float(lat.max()), "node_stages": stages}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("models/metaworld_small"))
    p.add_argument("--graphs", default="policy,split")
    p.add_argument("--frames", type=int, default=500)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    rows = [measure(g, a.checkpoint.resolve(), a.frames, a.rate, a.warmup, 90 + i) for i, g in enumerate(a.graphs.split(","))]
    print("| graph | frames sent | chunks received | dropped | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['graph']} | {r['frames_sent']} | {r['chunks_received']} | {r['frames_dropped']} | "
              f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} |")
    for r in rows:
        print(f"{r['graph']} node stages: {r['node_stages']}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"rate_hz": a.rate, "image": "640x480 rgb8", "checkpoint": str(a.checkpoint),
                                 "cpu_threads": 1, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
