"""amplify-bringup: every node a config YAML names, in one process, without `ros2 launch`.

    amplify-bringup config/sim_demo.yaml

The YAML is a ROS 2 parameter file (the same file the launch files pass to their nodes), with
one extra section the nodes ignore, which says what to start::

    amplify_bringup:
      ros__parameters:
        nodes: [sim_bridge_node, policy_node]                 # modules of amplify_ros.nodes
        remappings: ["amplify_policy:joint_states:=/ee_state"] # node name:from:=to

Each node reads its own section (by node name) through rcl's ``--params-file``, exactly as under
``ros2 launch``. Ctrl-C or SIGTERM shuts everything down cleanly.

The nodes share a SingleThreadedExecutor unless ``--executor multi``: with rclpy 9's
MultiThreadedExecutor a callback running inference (tens of ms) competes with the executor's
own polling for the GIL. Measured (benchmarks/latency.py, BC policy node, 640x480 at 30 Hz):
single-threaded, 165 of 200 frames answered, p50 31 ms; multi-threaded, 25 of 200, p50 92 ms.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import rclpy
import yaml
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from amplify_ros.nodes.paths import find_config

NODES: dict[str, tuple[str, str]] = {  # module -> (class, node name)
    "sim_bridge_node": ("SimBridgeNode", "amplify_sim_bridge"),
    "policy_node": ("PolicyNode", "amplify_policy"),
    "forward_node": ("ForwardNode", "amplify_forward"),
    "inverse_node": ("InverseNode", "amplify_inverse"),
    "tracker_node": ("TrackerNode", "amplify_tracker"),
    "arm_output_node": ("ArmOutputNode", "amplify_arm_output"),
    "realsense_node": ("RealSenseNode", "amplify_realsense"),
    "teleop_node": ("TeleopNode", "amplify_teleop"),
    "keyboard_teleop_node": ("KeyboardTeleopNode", "amplify_keyboard"),
    "recorder_node": ("RecorderNode", "amplify_recorder"),
}


class BringupError(ValueError):
    """A config that does not say which known nodes to start."""


class NodeStartError(RuntimeError):
    """A node that cannot start on this machine, with what to do about it (e.g. no terminal for
    the keyboard)."""


@dataclass(frozen=True)
class GraphNode:
    module: str  # amplify_ros.nodes.<module>; also its console script (`ros2 run amplify_ros <module>`)
    name: str  # node name: its section of the YAML
    remappings: tuple[tuple[str, str], ...] = ()


def read_graph(path: str | Path) -> list[GraphNode]:
    """The nodes a config YAML starts, with their remappings (shared by bringup and launch files)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise BringupError(f"cannot read {path}: {err}") from err
    section = (doc.get("amplify_bringup") or {}).get("ros__parameters") or {}
    modules = list(section.get("nodes") or [])
    if not modules:
        raise BringupError(f"{path} names no nodes: add amplify_bringup.ros__parameters.nodes: [...]")
    unknown = [n for n in modules if n not in NODES]
    if unknown:
        raise BringupError(f"{path}: unknown nodes {unknown}; known: {', '.join(NODES)}")
    remaps: dict[str, list[tuple[str, str]]] = {}
    for rule in section.get("remappings") or []:
        node, sep, mapping = str(rule).partition(":")
        src, arrow, dst = mapping.partition(":=")
        if not sep or not arrow:
            raise BringupError(f"{path}: remapping {rule!r} is not 'node_name:from:=to'")
        remaps.setdefault(node.strip(), []).append((src.strip(), dst.strip()))
    return [GraphNode(m, NODES[m][1], tuple(remaps.get(NODES[m][1], ()))) for m in modules]


def build_nodes(path: Path) -> list[Node]:
    """Construct the configured nodes (rclpy must be initialised)."""
    nodes = []
    for g in read_graph(path):
        cls = getattr(importlib.import_module(f"amplify_ros.nodes.{g.module}"), NODES[g.module][0])
        cli = ["--ros-args", "--params-file", str(path)]
        for src, dst in g.remappings:
            cli += ["-r", f"{src}:={dst}"]
        nodes.append(cls(cli_args=cli))
    return nodes


EXECUTORS: dict[str, type[Executor]] = {"single": SingleThreadedExecutor, "multi": MultiThreadedExecutor}


def spin(nodes: list[Node], until: Callable[[], bool] | None = None, executor_kind: str = "single") -> None:
    """Spin ``nodes`` on one executor until Ctrl-C, SIGTERM or ``until()``; then let running
    callbacks finish before the nodes and the context go (a callback publishing into a
    shut-down context fails)."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    executor = EXECUTORS[executor_kind]()
    for node in nodes:
        executor.add_node(node)
    try:
        while rclpy.ok() and not stop.is_set() and not (until and until()):
            executor.spin_once(timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_executor(executor, nodes)


def stop_executor(executor: Executor, nodes: list[Node]) -> None:
    """Stop ``executor`` after its running callbacks, then destroy ``nodes``."""
    for node in nodes:
        executor.remove_node(node)
    if isinstance(executor, MultiThreadedExecutor):
        # rclpy 9 destroys the executor's guard condition before joining its thread pool, so a
        # callback handed to the pool just before would fail on it: let those start first.
        time.sleep(0.2)
    executor.shutdown(timeout_sec=5.0)
    for node in nodes:
        node.destroy_node()


def run_node(node_class: type[Node], args: list[str] | None = None) -> None:
    """Every node's ``main()``: one node, spun and shut down like the bringup's (Ctrl-C or
    SIGTERM, then destroyed, so nodes holding a camera or an open bag release it)."""
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):  # spin() handles signals
            spin([node_class()])
    except (KeyboardInterrupt, ExternalShutdownException):  # Ctrl-C while the node is still starting
        pass
    except NodeStartError as err:
        print(f"{node_class.__name__}: {err}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="config YAML, or the name of a shipped one (sim_demo, sim_split, sim_record, sim_keyboard, record, tracking, real_arm, gazebo_arm)")
    p.add_argument("--executor", choices=tuple(EXECUTORS), default="single",
                   help="single (default: the fastest for inference nodes, see above) or multi")
    args, ros_args = p.parse_known_args(argv)
    args.config = find_config(args.config)
    try:
        with rclpy.init(args=ros_args, signal_handler_options=SignalHandlerOptions.NO):  # spin() handles signals
            spin(build_nodes(args.config), executor_kind=args.executor)
    except (BringupError, NodeStartError) as err:
        print(f"amplify-bringup: {err}", file=sys.stderr)
        return 2
    except ExternalShutdownException:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
