"""Nodes of a benchmark graph, each an amplify-bringup process of its own, with what /proc says
about them, and the node in the benchmark's process that watches them: the soak and fault
benchmarks start, sample, kill and stop them through this."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class NodeProcess:
    name: str  # node name: its section of the config
    config: Path
    log: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    _cpu_ticks: int = 0
    _cpu_wall: float = 0.0
    exits: list[int] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "amplify-bringup"), str(self.config)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self._cpu_ticks, self._cpu_wall = 0, 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exited(self) -> int | None:
        """The exit status once the process has ended (recorded once), else None."""
        code = self.proc.poll()
        if code is not None and len(self.exits) < self.starts:
            self.exits.append(code)
        return code

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_KB / 1024

    def cpu_percent(self, now: float) -> float:
        """CPU use (user + system, % of one core) since the previous call."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        share = 0.0
        if self._cpu_wall:
            share = 100.0 * (ticks - self._cpu_ticks) / CLOCK_TICKS / max(now - self._cpu_wall, 1e-6)
        self._cpu_ticks, self._cpu_wall = ticks, now
        return share

    def kill(self, sig: int = signal.SIGKILL) -> None:
        os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a clean shutdown: bags closed, nodes destroyed), SIGKILL after ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()


def write_configs(folder: Path, docs: dict[str, dict]) -> dict[str, NodeProcess]:
    """One parameter file per node (``{node name: {module, parameters, remappings?, bringup?}}``,
    bringup: more of its amplify_bringup section, e.g. processes and respawn) -> processes ready
    to start."""
    out = {}
    for name, spec in docs.items():
        config = folder / f"{name}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "amplify_bringup": {
                        "ros__parameters": {
                            "nodes": [spec["module"]],
                            "remappings": spec.get("remappings", []),
                            **spec.get("bringup", {}),
                        }
                    },
                    name: {"ros__parameters": spec["parameters"]},
                }
            )
        )
        out[name] = NodeProcess(name, config, folder / f"{name}.log")
    return out


class Watcher(Node):
    """The benchmark's own node: every node's last /diagnostics (values, plus its ``message``)
    and when it came, deadline-bounded spinning, and service calls."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.diagnostics: dict[str, dict[str, str]] = {}
        self.heard: dict[str, float] = {}  # node -> monotonic time of its last /diagnostics
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            name = status.name.removeprefix("amplify_ros: ")
            self.diagnostics[name] = {**{v.key: v.value for v in status.values}, "message": status.message}
            self.heard[name] = time.monotonic()

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            rclpy.spin_once(self, timeout_sec=min(0.02, left))

    def spin_until(self, done: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end:
            rclpy.spin_once(self, timeout_sec=0.02)
        return done()

    def heard_since(self, node: str, since: float, timeout: float) -> bool:
        """Wait for ``node``'s /diagnostics after ``since``: a restarted node is discovered both ways
        (a service call sent before that may lose its response)."""
        return self.spin_until(lambda: self.heard.get(node, -1.0) > since, timeout)

    def call(self, srv_type, name: str, request, timeout: float = 10.0):
        """The response, or None when the service does not appear or answer within ``timeout``."""
        client = self.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                return None
            future = client.call_async(request)
            self.spin_until(future.done, timeout)
            return future.result() if future.done() else None
        finally:
            self.destroy_client(client)
