"""Faults of a running graph (issue 15): processes killed, a camera that stops, a disk that fills.

The cases of benchmarks/faults.py that need live nodes in processes of their own (each an
amplify-bringup, see node_graph.py); this process plays camera and robot (``Rig``: images and
joint states stamped with the wall clock) and watches what comes out. Registered in faults.py's
``CASES``:

- ``kill_policy``: kill -9 the policy process (supervised: ``processes: true``, respawn) at
  random moments while arm_output_node forwards its commands; measured: the time from the kill
  to the last command out (the output holds), the supervisor's restart, commands out before the
  operator enables the output again (must be 0: ``max_command_gap`` closes the gate), and the
  time from enabling to the first command.
- ``kill_recorder``: kill -9 the recorder at random moments while it records the sim bridge's
  camera; every bag must open and import; lost seconds = kill time - last message recorded
  (goal <= flush_seconds + one frame).
- ``camera_stop``: the camera stops for 2 s and starts again, several times: no command from a
  frame older than max_image_age, and the recovery time from the first new frame.
- ``disk_full``: the recorder writes into a tmpfs of a few MB (mounted here; needs root): the
  episode ends cleanly with the reason on ~/status and /diagnostics, the bag up to the cut
  imports, the recorder and the policy keep running.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from node_graph import NodeProcess, Watcher, write_configs
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.data.bag_import import BagImportSettings, import_bags
from amplify_ros.data.bag_reader import BagReader
from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.qos import image_qos, latched_qos
from amplify_ros.nodes.stamps import header_at, stamp_seconds

STATE = ["ee_x", "ee_y", "ee_z", "gripper"]
ACTIONS = ["ee_dx", "ee_dy", "ee_dz", "gripper"]


class Rig(Watcher):
    """Camera and robot: ``rate`` Hz images (while ``camera_on``) and joint states, stamped with
    the wall clock; records (receive time, frame stamp) of every command on arm/command and
    amplify/command, and the recorder's status."""

    def __init__(self, rate: float, size: tuple[int, int] = (320, 240)) -> None:
        super().__init__("fault_rig")
        self.camera_on = True
        rng = np.random.default_rng(0)
        self.images = [rng.integers(0, 255, (size[1], size[0], 3), np.uint8) for _ in range(4)]
        self.image_pub = self.create_publisher(Image, "camera/image_raw", image_qos("reliable"))
        self.state_pub = self.create_publisher(JointState, "joint_states", QoSProfile(depth=10))
        self.task_pub = self.create_publisher(String, "amplify/task", latched_qos())
        self.task_pub.publish(String(data="press the button from the top"))
        self.out: list[tuple[float, float]] = []  # arm/command: (monotonic receive time, frame stamp s)
        self.policy: list[tuple[float, float]] = []  # amplify/command
        self.status: list[str] = []
        self.create_subscription(JointTrajectory, "arm/command", lambda m: self.out.append(self._seen(m)), 100)
        self.create_subscription(JointTrajectory, "amplify/command", lambda m: self.policy.append(self._seen(m)), 100)
        self.create_subscription(
            String, "/amplify_recorder/status", lambda m: self.status.append(m.data), latched_qos()
        )
        self.frames = 0
        self.create_timer(1.0 / rate, self.tick)

    @staticmethod
    def _seen(msg: JointTrajectory) -> tuple[float, float]:
        return time.monotonic(), stamp_seconds(msg.header)

    def tick(self) -> None:
        header = header_at(time.time_ns(), "camera")
        self.state_pub.publish(JointState(header=header, name=STATE, position=[0.0, 0.6, 0.2, 0.5]))
        if self.camera_on:
            self.frames += 1
            self.image_pub.publish(numpy_to_imgmsg(self.images[self.frames % 4], "rgb8", header))

    def set_enabled(self, node: str, value: bool) -> bool:
        param = Parameter(name="enabled", value=ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value))
        result = self.call(SetParameters, f"/{node}/set_parameters", SetParameters.Request(parameters=[param]))
        return bool(result and result.results[0].successful)


def policy_params(checkpoint: Path) -> dict:
    return {
        "checkpoint": str(checkpoint),
        "image_qos": "reliable",
        "state_names": STATE,
        "action_names": ACTIONS,
        "max_image_age": 0.5,
        "max_state_age": 0.1,
        "publish_tracks": False,
    }


def arm_params(**extra) -> dict:
    return {
        "enabled": True,
        "joint_names": ACTIONS,
        "lower": [-1.0] * 4,
        "upper": [1.0] * 4,
        "max_image_age": 0.5,
        **extra,
    }


class Graph:
    """Start the processes of ``specs`` on a domain of their own, with a Rig in this process."""

    def __init__(self, work: Path, specs: dict[str, dict], domain: int, rate: float = 30.0) -> None:
        self.procs = write_configs(work, specs)
        self.env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "OMP_NUM_THREADS": "1"}
        self.domain, self.rate = domain, rate

    def __enter__(self) -> tuple[dict[str, NodeProcess], Rig]:
        for proc in self.procs.values():
            proc.start(self.env)
        os.environ["ROS_DOMAIN_ID"] = str(self.domain)
        rclpy.init()
        self.rig = Rig(self.rate)
        return self.procs, self.rig

    def __exit__(self, *exc) -> None:
        self.rig.destroy_node()
        rclpy.shutdown()
        for proc in self.procs.values():
            proc.stop()


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "median": None, "max": None}
    return {"n": len(values), "median": round(float(np.median(values)), 3), "max": round(float(np.max(values)), 3)}


# --- kill -9 the policy -------------------------------------------------------------------------
def kill_policy(args: argparse.Namespace) -> tuple[dict, str]:
    rng = random.Random(args.seed)
    gap = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        specs = {
            "amplify_policy": {
                "module": "policy_node",
                "parameters": policy_params(args.checkpoint),
                "bringup": {"processes": True, "respawn": ["policy_node"], "respawn_delay": 1.0},
            },
            "amplify_arm_output": {"module": "arm_output_node", "parameters": arm_params(max_command_gap=gap)},
        }
        graph = Graph(Path(tmp), specs, args.domain)
        bringup = graph.procs["amplify_policy"]
        rows = []
        with graph as (procs, rig):
            if not rig.spin_until(lambda: len(rig.out) >= 20, 180):
                raise RuntimeError(f"no commands came out of the graph; see {procs['amplify_policy'].log}")
            for _ in range(args.kills_policy):
                rig.spin_for(rng.uniform(1.0, 3.0))
                (child,) = children(bringup.pid)
                t_kill = time.monotonic()
                os.kill(child, signal.SIGKILL)
                # commands in flight from the killed process arrive within milliseconds; the
                # restarted one's come after respawn_delay and a model load
                back = rig.spin_until(lambda: bool(rig.policy) and rig.policy[-1][0] > t_kill + 0.5, 120)
                t_back = next((t for t, _ in rig.policy if t > t_kill + 0.5), None) if back else None
                rig.spin_for(gap + 1.0)  # the restarted policy's commands reach the closed gate
                t_enable = time.monotonic()
                held = [t for t, _ in rig.out if t_kill < t <= t_enable]
                before = [t for t, _ in rig.out if t <= t_kill]
                enabled = rig.set_enabled("amplify_arm_output", True)
                resumed = rig.spin_until(lambda: any(t > t_enable for t, _ in rig.out), 10)
                rows.append(
                    {
                        "seconds_to_last_command_out": round(max(held or [before[-1]]) - t_kill, 3),
                        "commands_out_after_kill": len(held),
                        "policy_back_s": round(t_back - t_kill, 2) if t_back else None,
                        "commands_out_before_enable": len([t for t in held if t_back and t > t_back]),
                        "enable_accepted": enabled,
                        "enable_to_first_command_s": round(next(t for t, _ in rig.out if t > t_enable) - t_enable, 3)
                        if resumed
                        else None,
                    }
                )
        log = bringup.log.read_text()
    result = {
        "kills": rows,
        "supervisor_restarts_logged": log.count("restarted (pid"),
        "exit_lines_logged": log.count("exited: killed by SIGKILL"),
        "max_command_gap_s": gap,
    }
    md = table(
        [
            "kill",
            "s to last command out",
            "commands after kill",
            "policy back s",
            "out before enable",
            "enable -> command s",
        ],
        [
            [
                i,
                r["seconds_to_last_command_out"],
                r["commands_out_after_kill"],
                r["policy_back_s"],
                r["commands_out_before_enable"],
                r["enable_to_first_command_s"],
            ]
            for i, r in enumerate(rows)
        ],
    )
    return result, md


# --- kill -9 the recorder -----------------------------------------------------------------------
def kill_recorder(args: argparse.Namespace) -> tuple[dict, str]:
    rng = random.Random(args.seed)
    flush, frame = 1.0, 1.0 / 30
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        specs = {
            "amplify_recorder": {
                "module": "recorder_node",
                "parameters": {
                    "mode": "action_free",
                    "output_dir": str(work / "rec"),
                    "flush_seconds": flush,
                    "storage": args.storage,
                },
            }
        }
        graph = Graph(work, specs, args.domain)
        with graph as (procs, rig):
            recorder = procs["amplify_recorder"]
            for i in range(args.kills_recorder):
                if i:
                    recorder.start(graph.env)
                rig.heard_since("amplify_recorder", time.monotonic(), 60)
                answer = rig.call(Trigger, "/amplify_recorder/start", Trigger.Request(), timeout=20)
                if answer is None or not answer.success:
                    rows.append(
                        {
                            "kill": i,
                            "started": False,
                            "message": answer.message if answer else "no service",
                            "log": recorder.log.read_text()[-600:],
                        }
                    )
                    recorder.kill()
                    continue
                rig.spin_for(rng.uniform(1.0, 6.0))
                t_kill = time.time_ns()
                recorder.kill()
                recorder.proc.wait()
                bag = Path(answer.message.split(" into ")[1].split(";")[0])
                rows.append(
                    without_folder({"kill": i, "started": True, **_read_back(bag, t_kill, work / "imported")}, tmp)
                )
    lost = [r["lost_s"] for r in rows if r.get("lost_s") is not None]
    result = {
        "kills": rows,
        "flush_seconds": flush,
        "frame_s": round(frame, 4),
        "storage": args.storage,
        "bags_imported": sum(bool(r.get("imported")) for r in rows),
        "lost_s": quantiles(lost),
        "within_goal": sum(v <= flush + frame for v in lost),
    }
    md = table(
        ["kills", "bags that open and import", "lost s median", "lost s max", f"within {flush + frame:.2f} s"],
        [
            [
                len(rows),
                result["bags_imported"],
                result["lost_s"]["median"],
                result["lost_s"]["max"],
                result["within_goal"],
            ]
        ],
    )
    return result, md


def _read_back(bag: Path, t_kill_ns: int, out: Path) -> dict:
    """Open a bag cut by a kill: its last message's receive time, and whether it imports."""
    try:
        last = max((m.timestamp for m in BagReader(bag).messages()), default=None)
    except Exception as err:  # noqa: BLE001 -- the finding is the failure itself
        return {"opens": False, "error": f"{type(err).__name__}: {err}"}
    result = next(iter(import_bags([bag], "press the button from the top", out, BagImportSettings())))
    return {
        "opens": True,
        "lost_s": round((t_kill_ns - last) / 1e9, 3) if last else None,
        "imported": bool(result.paths),
        "frames": result.frames,
        "error": result.error or None,
    }


# --- the camera stops ---------------------------------------------------------------------------
def camera_stop(args: argparse.Namespace) -> tuple[dict, str]:
    rng = random.Random(args.seed)
    max_age = 0.5
    with tempfile.TemporaryDirectory() as tmp:
        specs = {
            "amplify_policy": {"module": "policy_node", "parameters": policy_params(args.checkpoint)},
            "amplify_arm_output": {"module": "arm_output_node", "parameters": arm_params()},
        }
        rows = []
        with Graph(Path(tmp), specs, args.domain) as (procs, rig):
            if not rig.spin_until(lambda: len(rig.out) >= 20, 180):
                raise RuntimeError(f"no commands came out of the graph; see {procs['amplify_policy'].log}")
            for _ in range(args.camera_stops):
                rig.spin_for(rng.uniform(2.0, 4.0))
                rig.camera_on, t_off, wall_off = False, time.monotonic(), time.time()
                rig.spin_for(2.0)
                rig.camera_on, t_on, wall_on = True, time.monotonic(), time.time()
                recovered = rig.spin_until(lambda: any(s >= wall_on for _, s in rig.out), 10)
                during = [t for t, _ in rig.out if t_off + max_age < t < t_on]
                rows.append(
                    {
                        "commands_during_outage": len(during),
                        "commands_from_before_outage_after_it": len(
                            [1 for t, s in rig.out if t >= t_on and s < wall_off]
                        ),
                        "recovery_s": round(next(t for t, s in rig.out if s >= wall_on) - t_on, 3)
                        if recovered
                        else None,
                    }
                )
            stale = 0
            for t, s in rig.out:  # receive time against the frame's wall stamp: both on this machine
                age = time.time() - (time.monotonic() - t) - s
                stale += age > max_age
    result = {
        "stops": rows,
        "outage_s": 2.0,
        "max_image_age": max_age,
        "commands_out": len(rig.out),
        "commands_older_than_max_image_age": stale,
        "recovery_s": quantiles([r["recovery_s"] for r in rows if r["recovery_s"]]),
    }
    md = table(
        [
            "stops",
            "commands during outages",
            "commands from pre-outage frames after it",
            "stale commands",
            "recovery s median",
            "recovery s max",
        ],
        [
            [
                len(rows),
                sum(r["commands_during_outage"] for r in rows),
                sum(r["commands_from_before_outage_after_it"] for r in rows),
                stale,
                result["recovery_s"]["median"],
                result["recovery_s"]["max"],
            ]
        ],
    )
    return result, md


# --- the disk fills -----------------------------------------------------------------------------
def disk_full(args: argparse.Namespace) -> tuple[dict, str]:
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "disk"
        disk.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={args.disk_mb}m", "tmpfs", str(disk)], capture_output=True, text=True
        )
        if mounted.returncode:
            return {
                "skipped": f"cannot mount a {args.disk_mb} MB tmpfs: {mounted.stderr.strip()}"
            }, "skipped: needs root"
        try:
            result, md = _fill(args, Path(tmp), disk)
            return without_folder(result, tmp), md.replace(tmp, "<tmp>")
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(args: argparse.Namespace, work: Path, disk: Path) -> tuple[dict, str]:
    specs = {
        "amplify_recorder": {
            "module": "recorder_node",
            "parameters": {"mode": "action_free", "output_dir": str(disk / "rec"), "flush_seconds": 0.5},
        },
        "amplify_policy": {"module": "policy_node", "parameters": policy_params(args.checkpoint)},
        "amplify_arm_output": {"module": "arm_output_node", "parameters": arm_params()},
    }
    with Graph(work, specs, args.domain) as (procs, rig):
        rig.spin_until(lambda: len(rig.out) >= 20, 180)
        answer = rig.call(Trigger, "/amplify_recorder/start", Trigger.Request(), timeout=60)
        t_start = time.monotonic()
        full = rig.spin_until(
            lambda: "disk full" in rig.diagnostics.get("amplify_recorder", {}).get("message", ""), 120
        )
        t_full = time.monotonic()
        n_out = len(rig.out)
        rig.spin_for(2.0)
        again = rig.call(Trigger, "/amplify_recorder/start", Trigger.Request(), timeout=10)
        alive = {name: proc.exited() is None for name, proc in procs.items()}
        bag = Path(answer.message.split(" into ")[1].split(";")[0]) if answer and answer.success else None
    read = _read_back(bag, time.time_ns(), work / "imported") if bag else {"opens": False}
    result = {
        "disk_mb": args.disk_mb,
        "recording_started": bool(answer and answer.success),
        "disk_full_reported": full,
        "seconds_to_full": round(t_full - t_start, 1),
        "recorder_message": rig.diagnostics.get("amplify_recorder", {}).get("message"),
        "status_lines": rig.status[-2:],
        "processes_alive": alive,
        "commands_out_in_2s_after": len(rig.out) - n_out,
        "restart_answer": again.message if again else None,
        "bag": {k: v for k, v in read.items() if k != "lost_s"},
    }
    md = table(
        [
            "disk MB",
            "full after s",
            "reported",
            "recorder alive",
            "policy alive",
            "commands in 2 s after",
            "bag imports (frames)",
            "start again says",
        ],
        [
            [
                args.disk_mb,
                result["seconds_to_full"],
                full,
                alive["amplify_recorder"],
                alive["amplify_policy"],
                result["commands_out_in_2s_after"],
                f"{read.get('imported')} ({read.get('frames')})",
                result["restart_answer"],
            ]
        ],
    )
    return result, md


def without_folder(result: dict, folder: str) -> dict:
    """``result`` with the temporary ``folder`` written <tmp>: results name no machine's paths."""
    return json.loads(json.dumps(result).replace(folder, "<tmp>"))


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", type=Path, default=Path("models/metaworld_small"), help="policy of the running graph"
    )
    p.add_argument("--domain", type=int, default=78, help="ROS_DOMAIN_ID of the running-graph cases")
    p.add_argument("--kills-policy", type=int, default=5)
    p.add_argument("--kills-recorder", type=int, default=20)
    p.add_argument("--camera-stops", type=int, default=5)
    p.add_argument(
        "--storage", choices=["mcap", "sqlite3"], default="mcap", help="kill_recorder: the recorder's storage"
    )
    p.add_argument("--disk-mb", type=int, default=8, help="disk_full: size of the tmpfs the recorder fills")


CASES: dict[str, Callable[[argparse.Namespace], tuple[dict, str]]] = {
    "kill_policy": kill_policy,
    "kill_recorder": kill_recorder,
    "camera_stop": camera_stop,
    "disk_full": disk_full,
}
