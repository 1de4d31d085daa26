"""Nodes of a benchmark graph, each an amplify-bringup process of its own, with what /proc says
about them: the soak and fault benchmarks start, sample, kill and stop them through this."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

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
            self.proc = subprocess.Popen([str(BIN / "amplify-bringup"), str(self.config)], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
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
        config.write_text(yaml.safe_dump({
            "amplify_bringup": {"ros__parameters": {"nodes": [spec["module"]], "remappings": spec.get("remappings", []),
                                                    **spec.get("bringup", {})}},
            name: {"ros__parameters": spec["parameters"]}}))
        out[name] = NodeProcess(name, config, folder / f"{name}.log")
    return out
