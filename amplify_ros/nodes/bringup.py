"""amplify-bringup: every node a config YAML names, without `ros2 launch`: in one process, or
each in its own, restarted when it exits.

    amplify-bringup config/sim_demo.yaml

The YAML is a ROS 2 parameter file (the same file the launch files pass to their nodes), with
one extra section the nodes ignore, which says what to start::

    amplify_bringup:
      ros__parameters:
        nodes: [sim_bridge_node, policy_node]                 # modules of amplify_ros.nodes
        remappings: ["amplify_policy:joint_states:=/ee_state"] # node name:from:=to

Each node reads its own section (by node name) through rcl's ``--params-file``, exactly as under
``ros2 launch``. Ctrl-C or SIGTERM shuts everything down cleanly.

Supervision, for long runs (what launch_ros's ``respawn`` and ``respawn_delay`` do)::

    amplify_bringup:
      ros__parameters:
        nodes: [realsense_node, policy_node, arm_output_node]
        processes: true                 # each node in its own OS process (default false: one process)
        respawn: [policy_node]          # restart these when they exit: a list of modules of `nodes`,
                                        # all (or true), or none (false, the default)
        respawn_delay: 2.0              # seconds from an exit to its restart (default 0), or per
                                        # node: {policy_node: 1.0} (unnamed respawning nodes: 0)

With ``processes: true`` the bringup starts ``python -m amplify_ros.nodes.<module> --ros-args
--params-file <config> -r from:=to ...`` per node and supervises them (``supervisor.py``): an exit
is logged with the node name, pid and status (``amplify_policy (pid 1234) exited: killed by
SIGKILL``); a node that respawns starts again after its delay (logged with a restart count), any
other stays down while the rest run on. Ctrl-C or SIGTERM: SIGINT to every node, up to 5 s, then
SIGKILL; exit status 0. When every node is down for good the bringup exits (1 if one failed). On
Linux no node outlives the bringup, even a ``kill -9`` of it (see ``supervisor.py``). ``respawn``
needs ``processes: true`` (one process cannot restart a part of itself); ``ros2 launch`` always
starts a process per node and takes ``respawn`` and ``respawn_delay`` from the same section. A
setting this section does not know (a typo) is an error, not a silent default.

The nodes share a SingleThreadedExecutor unless ``--executor multi``: with rclpy 9's
MultiThreadedExecutor a callback running inference (tens of ms) competes with the executor's
own polling for the GIL. Measured (benchmarks/latency.py, BC policy node, 640x480 at 30 Hz):
single-threaded, 165 of 200 frames answered, p50 31 ms; multi-threaded, 25 of 200, p50 92 ms.
(With ``processes: true`` each node spins its own single-threaded executor.)
"""

from __future__ import annotations

import argparse
import importlib
import math
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
from amplify_ros.nodes.registry import NODES
from amplify_ros.nodes.supervisor import Child, Supervisor

TERMINAL_NODES = {m for m, e in NODES.items() if e.terminal}
SECTION_KEYS = ("nodes", "remappings", "processes", "respawn", "respawn_delay")  # of amplify_bringup.ros__parameters


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
    respawn: bool = False  # restarted when it exits (needs Bringup.processes)
    respawn_delay: float = 0.0  # seconds from an exit to the restart


@dataclass(frozen=True)
class Bringup:
    nodes: tuple[GraphNode, ...]
    processes: bool = False  # a process per node (amplify-bringup; ros2 launch always does)


def read_bringup(path: str | Path) -> Bringup:
    """The amplify_bringup section of a config YAML (module docstring), checked: what to start and how."""
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
    extra = [k for k in section if k not in SECTION_KEYS]
    if extra:
        raise BringupError(f"{path}: amplify_bringup has no setting {extra}; it has {', '.join(SECTION_KEYS)}")
    processes = section.get("processes", False)
    if not isinstance(processes, bool):
        raise BringupError(f"{path}: processes is true or false, not {processes!r}")
    respawn = respawning(path, section.get("respawn", False), modules)
    if respawn and not processes:
        raise BringupError(
            f"{path}: respawn {sorted(respawn)} needs processes: true (a node restarts as a process "
            "of its own; in one process a dead node takes the others with it)"
        )
    delays = respawn_delays(path, section.get("respawn_delay", 0.0), respawn)
    remaps: dict[str, list[tuple[str, str]]] = {}
    for rule in section.get("remappings") or []:
        node, sep, mapping = str(rule).partition(":")
        src, arrow, dst = mapping.partition(":=")
        if not sep or not arrow:
            raise BringupError(f"{path}: remapping {rule!r} is not 'node_name:from:=to'")
        remaps.setdefault(node.strip(), []).append((src.strip(), dst.strip()))
    return Bringup(
        tuple(
            GraphNode(m, NODES[m].name, tuple(remaps.get(NODES[m].name, ())), m in respawn, delays.get(m, 0.0))
            for m in modules
        ),
        processes,
    )


def read_graph(path: str | Path) -> list[GraphNode]:
    """The nodes a config YAML starts, with their remappings (shared by bringup and launch files)."""
    return list(read_bringup(path).nodes)


def respawning(path: Path, value: object, modules: list[str]) -> set[str]:
    """The modules ``respawn: [...] | all | true | false`` names."""
    if value is True or value == "all":
        return set(modules)
    if value is False or value is None:
        return set()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BringupError(
            f"{path}: respawn is a list of nodes (modules, as in nodes), all, true or false; not {value!r}"
        )
    unknown = [v for v in value if v not in modules]
    if unknown:
        raise BringupError(f"{path}: respawn names {unknown}, which nodes {modules} does not start")
    return set(value)


def respawn_delays(path: Path, value: object, respawn: set[str]) -> dict[str, float]:
    """Seconds before each respawning module restarts, from ``respawn_delay: 2.0 | {module: 1.0}``."""
    if not isinstance(value, dict):
        return dict.fromkeys(respawn, seconds(path, "respawn_delay", value))
    others = [k for k in value if k not in respawn]
    if others:
        raise BringupError(f"{path}: respawn_delay names {others}, which respawn {sorted(respawn)} does not restart")
    return {k: seconds(path, f"respawn_delay.{k}", v) for k, v in value.items()}


def seconds(path: Path, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
        raise BringupError(f"{path}: {key} is a number of seconds >= 0, not {value!r}")
    return float(value)


def node_args(path: Path, node: GraphNode) -> list[str]:
    """The ROS arguments of one node: the params file and its remappings."""
    cli = ["--ros-args", "--params-file", str(path)]
    for src, dst in node.remappings:
        cli += ["-r", f"{src}:={dst}"]
    return cli


def build_nodes(path: Path) -> list[Node]:
    """Construct the configured nodes (rclpy must be initialised)."""
    nodes = []
    for g in read_graph(path):
        cls = getattr(importlib.import_module(f"amplify_ros.nodes.{g.module}"), NODES[g.module].cls)
        nodes.append(cls(cli_args=node_args(path, g)))
    return nodes


def node_processes(path: Path, ros_args: list[str] | None = None) -> list[Child]:
    """The configured nodes as supervised commands: each node module's ``main()``, with the same
    arguments ``build_nodes`` gives the node (and ``ros_args`` for all of them, like rclpy.init's)."""
    return [
        Child(
            g.name,
            [sys.executable, "-m", f"amplify_ros.nodes.{g.module}", *(ros_args or []), *node_args(path, g)],
            respawn=g.respawn,
            respawn_delay=g.respawn_delay,
            foreground=g.module in TERMINAL_NODES,
        )
        for g in read_graph(path)
    ]


def supervise(path: Path, ros_args: list[str] | None = None) -> int:
    """Run the configured nodes as supervised processes until Ctrl-C or SIGTERM (module docstring)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return Supervisor(node_processes(path, ros_args)).run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
    p.add_argument(
        "config",
        help=(
            "config YAML, or the name of a shipped one "
            "(sim_demo, sim_split, sim_record, sim_keyboard, record, tracking, real_arm, gazebo_arm)"
        ),
    )
    p.add_argument(
        "--executor",
        choices=tuple(EXECUTORS),
        help="single (default: the fastest for inference nodes, see above) or multi; one process only",
    )
    args, ros_args = p.parse_known_args(argv)
    args.config = find_config(args.config)
    try:
        if read_bringup(args.config).processes:
            if args.executor:
                raise BringupError(f"{args.config} has processes: true, where each node spins alone: no --executor")
            return supervise(args.config, ros_args)
        with rclpy.init(args=ros_args, signal_handler_options=SignalHandlerOptions.NO):  # spin() handles signals
            spin(build_nodes(args.config), executor_kind=args.executor or "single")
    except (BringupError, NodeStartError) as err:
        print(f"amplify-bringup: {err}", file=sys.stderr)
        return 2
    except ExternalShutdownException:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
