"""End-to-end latency through real DDS: camera image published -> action chunk received.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/latency.py --checkpoint models/metaworld_small

For each graph (``policy``: one policy_node with its defaults, every motion code in one pass of
the parallel head and both models in ONNX Runtime; ``async``: the same with ``forward_mode:
async``, the forward model on its own thread; ``torch``: the paper's path, greedy autoregressive
codes in eager torch (policy_node's default until the fast path was measured);
``torch-parallel``: parallel codes in torch; ``split``: forward_node + inverse_node, each in its
own process as they would be on two machines; ``bc`` / ``bc-torch``: one policy_node with the
behaviour-cloning checkpoint of --bc-checkpoint, in ONNX Runtime / torch) the nodes run apart
from this process
(amplify-bringup), which plays camera and robot: it publishes
640x480 rgb8 images and joint states at --rate Hz, stamped with the wall clock, and times the
action chunk that comes back for each stamp. Images travel reliable, keep-last 1, so a node
busy for longer than a frame period works on the newest frame and skips the others; frames
that never get a chunk are counted as dropped. Best effort is no option for 640x480 frames
with FastDDS's default transports: 127 of 258 were lost to an idle subscriber here (UDP
fragments); its LARGE_DATA transports (--transport) fixed that for best effort but stalled
reliable delivery (6 of 300 chunks), and do not talk to processes without them. Joint states
are published reliable, depth 10, as ros2_control's joint_state_broadcaster does: sent best
effort beside the image stream, runs of them went missing and the node refused 4-124 of 530
frames (two runs each) as having no state within max_state_age, against 12-19 sent reliable.
Per-stage model times and the nodes' refusals by reason come from their /diagnostics.
Writes benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from node_graph import write_configs
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.qos import image_qos, latched_qos
from amplify_ros.nodes.stamps import header_at

RESULTS = Path(__file__).parent / "results" / "latency.json"
STATE = ["ee_x", "ee_y", "ee_z", "gripper"]
COMMON = {
    "image_qos": "reliable",
    "state_names": STATE,
    "action_names": ["ee_dx", "ee_dy", "ee_dz", "gripper"],
    "max_image_age": 1.0,
    "max_state_age": 0.1,
    "publish_tracks": False,
}


TORCH = {"runtime": "torch"}
ONE_NODE = {
    "policy": {},
    "async": {"forward_mode": "async"},
    "torch": {**TORCH, "code_decoding": "autoregressive"},
    "torch-parallel": {**TORCH, "code_decoding": "parallel"},
    "bc": {},
    "bc-torch": TORCH,
}
GRAPHS = (*ONE_NODE, "split")


def graph_nodes(graph: str, checkpoint: Path, max_codes_age: float) -> dict[str, dict]:
    """The graph's nodes, each its own process (``node_graph.write_configs``' specs)."""
    if graph in ONE_NODE:
        mode = {**ONE_NODE[graph], **({"max_codes_age": max_codes_age} if graph == "async" else {})}
        return {
            "amplify_policy": {"module": "policy_node", "parameters": {"checkpoint": str(checkpoint), **COMMON, **mode}}
        }
    forward = {
        "checkpoint": str(checkpoint / "forward"),
        "publish_tracks": False,
        "max_image_age": COMMON["max_image_age"],
        "image_qos": "reliable",
    }
    return {
        "amplify_forward": {"module": "forward_node", "parameters": forward},
        "amplify_inverse": {"module": "inverse_node", "parameters": {"checkpoint": str(checkpoint), **COMMON}},
    }


class Camera(Node):
    """Publishes frames + states at a fixed rate and records when each stamp's chunk returns."""

    def __init__(self, rate: float, frames: int, height: int, width: int) -> None:
        super().__init__("latency_camera")
        self.frames, self.sent = frames, {}
        self.received: dict[tuple[int, int], float] = {}
        self.diagnostics: dict[str, dict[str, str]] = {}
        rng = np.random.default_rng(0)
        self.images = [rng.integers(0, 255, (height, width, 3), np.uint8) for _ in range(8)]
        self.image_pub = self.create_publisher(Image, "camera/image_raw", image_qos("reliable"))
        self.state_pub = self.create_publisher(JointState, "joint_states", QoSProfile(depth=10))
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
        header = header_at(round(now * 1e9), "camera")
        self.state_pub.publish(JointState(header=header, name=STATE, position=[0.0, 0.6, 0.2, 1.0]))
        self.image_pub.publish(numpy_to_imgmsg(self.images[len(self.sent) % 8], "rgb8", header))
        self.sent[(header.stamp.sec, header.stamp.nanosec)] = now

    def on_chunk(self, msg: JointTrajectory) -> None:
        self.received[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = time.time()

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.name] = {v.key: v.value for v in status.values}


def loaded(cam: Camera, nodes: int) -> bool:
    """Every node of the graph says 'running' on /diagnostics (its model loaded) and hears the camera."""
    running = [v for v in cam.diagnostics.values() if v.get("status") == "running"]
    return len(running) >= nodes and cam.image_pub.get_subscription_count() >= nodes


def measure(
    graph: str,
    checkpoint: Path,
    frames: int,
    rate: float,
    warmup: int,
    domain: int,
    size: tuple[int, int],
    max_codes_age: float,
) -> dict:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        procs = list(write_configs(Path(tmp), graph_nodes(graph, checkpoint, max_codes_age)).values())
        for proc in procs:
            proc.start(env)
        os.environ["ROS_DOMAIN_ID"] = str(domain)
        rclpy.init()
        cam = Camera(rate, frames + warmup, *size)
        try:
            nodes = len(procs)
            deadline = time.monotonic() + 120  # exporting ONNX Runtime graphs takes ~10 s per node at load
            while not loaded(cam, nodes) and time.monotonic() < deadline:
                rclpy.spin_once(cam, timeout_sec=0.1)
            if not loaded(cam, nodes):
                raise RuntimeError(f"{graph}: the nodes did not report a loaded model in 120 s: {cam.diagnostics}")
            cam.start()
            end = time.monotonic() + (frames + warmup) / rate + 5.0
            while time.monotonic() < end:
                rclpy.spin_once(cam, timeout_sec=0.01)
        finally:
            cam.destroy_node()
            rclpy.shutdown()
            for proc in procs:
                proc.stop(timeout=30)
            output = "".join(proc.log.read_text() for proc in procs)
    stamps = sorted(cam.sent)[warmup:]
    lat = np.array([(cam.received[s] - cam.sent[s]) * 1e3 for s in stamps if s in cam.received])
    if not len(lat):
        raise RuntimeError(f"{graph}: no action chunk came back; node output:\n{output[-2000:]}")
    stages = {}
    for name, values in cam.diagnostics.items():
        for key, value in values.items():
            if key.endswith(("_p50_ms", "_p95_ms")) or key.startswith(("processed", "dropped")):
                stages[f"{name.removeprefix('amplify_ros: ')}.{key}"] = value
    return {
        "graph": graph,
        "frames_sent": len(stamps),
        "chunks_received": int(len(lat)),
        "frames_dropped": len(stamps) - int(len(lat)),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "max_ms": float(lat.max()),
        "node_stages": stages,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("models/metaworld_small"))
    p.add_argument(
        "--bc-checkpoint",
        type=Path,
        help="a BC run or checkpoint for the 'bc' and 'bc-torch' graphs (both run when it is given)",
    )
    p.add_argument("--graphs", default="policy,async,split,torch", help=f"comma-separated, of {', '.join(GRAPHS)}")
    p.add_argument("--frames", type=int, default=500)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--size", default="640x480", help="camera image WIDTHxHEIGHT (rgb8)")
    p.add_argument("--transport", default="DEFAULT", help="FASTDDS_BUILTIN_TRANSPORTS for every process")
    p.add_argument("--max-codes-age", type=float, default=0.2, help="the async graph's max_codes_age (s)")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    os.environ["FASTDDS_BUILTIN_TRANSPORTS"] = a.transport  # before any participant: this process and the nodes
    graphs = a.graphs.split(",") + (["bc", "bc-torch"] if a.bc_checkpoint else [])
    if unknown := set(graphs) - set(GRAPHS):
        p.error(f"unknown graphs {sorted(unknown)}; choose from {', '.join(GRAPHS)}")
    bc = a.bc_checkpoint.resolve() if a.bc_checkpoint else None
    width, height = (int(v) for v in a.size.split("x"))
    rows = [
        measure(
            g,
            bc if g.startswith("bc") else a.checkpoint.resolve(),
            a.frames,
            a.rate,
            a.warmup,
            90 + i,
            (height, width),
            a.max_codes_age,
        )
        for i, g in enumerate(graphs)
    ]
    print("| graph | frames sent | chunks received | dropped | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['graph']} | {r['frames_sent']} | {r['chunks_received']} | {r['frames_dropped']} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} |"
        )
    for r in rows:
        print(f"{r['graph']} node stages: {r['node_stages']}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps(
            {
                "rate_hz": a.rate,
                "image": f"{a.size} rgb8, reliable keep-last 1",
                "fastdds_transport": a.transport,
                "checkpoint": str(a.checkpoint),
                "async_max_codes_age": a.max_codes_age,
                "cpu_threads": 1,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
