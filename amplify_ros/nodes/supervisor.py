"""Nodes as child processes, restarted when they exit: ``amplify-bringup`` with ``processes: true``.

What ``ros2 launch`` users get from launch_ros's ``respawn`` and ``respawn_delay``, without ROS:
a child is any command (the bringup starts ``python -m amplify_ros.nodes.<module> --ros-args
...``), so the logic here is tested with ``python -c`` children.

    stop = threading.Event()  # set it from a SIGINT / SIGTERM handler
    Supervisor([Child("amplify_policy", argv, respawn=True, respawn_delay=2.0)]).run(stop)

``run`` starts every child and polls them every ``interval`` seconds:

- a child that exits is logged with its name, pid and status (``amplify_policy (pid 1234)
  exited: killed by SIGKILL``); one that respawns is started again ``respawn_delay`` seconds
  after it exited (``amplify_policy restarted (pid 1240, restart 1)``), any other stays down
  while the rest keep running;
- once ``stop`` is set: SIGINT to every child, up to ``grace`` (5) seconds for all of them to
  shut down (a recorder closes its bag), then SIGKILL; ``run`` returns 0;
- once every child is down for good: ``run`` returns 0 if each exited with status 0, else 1.

Children never outlive the supervisor. Two choices, made in the child between fork and exec:

- Linux's ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` (through ctypes): the kernel signals the child
  when the supervisor dies, however it dies (SIGKILL, a crash), when none of our clean-up can
  run. A process group would not do that: nothing signals a group whose leader is killed.
  SIGTERM rather than SIGKILL, so a node still shuts down cleanly (``run_node`` treats SIGTERM
  like Ctrl-C). It fires when the supervisor's *thread* that started the child ends: start
  children from the main thread, as ``run`` does. Without prctl (not Linux) only ``stop`` holds.
- Each child gets a process group of its own, so a terminal's Ctrl-C reaches the supervisor
  alone, which then sends every node exactly one SIGINT: a second one, arriving while a node is
  shutting down, would cut its clean-up short. The exception is a child that reads the terminal
  (``foreground=True``, the keyboard teleop): a background group may not read it, so it stays in
  the terminal's group and gets a Ctrl-C from the terminal as well, as under ``ros2 launch``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


PRCTL = _libc_prctl()


@dataclass
class Child:
    """One supervised command, and its state while supervised."""

    name: str  # in every log line (the node name)
    argv: list[str]
    respawn: bool = False
    respawn_delay: float = 0.0  # seconds from an exit to the restart
    foreground: bool = False  # stays in the terminal's process group: it reads keys
    proc: subprocess.Popen | None = None  # while running
    restart_at: float | None = None  # time.monotonic() of a restart that is due
    restarts: int = 0
    status: int | None = None  # the last exit status (Popen.returncode)


def describe_exit(returncode: int) -> str:
    """``Popen.returncode`` in words: ``exit code 3``, ``killed by SIGKILL``."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def child_setup(parent: int, own_group: bool) -> Callable[[], None]:
    """What a child does between fork and exec (module docstring): its own process group, and
    SIGTERM when ``parent`` dies. A ``preexec_fn`` is unsafe in a process with threads; the
    bringup's supervisor has none (it never initialises rclpy)."""

    def setup() -> None:
        # a bringup started as a background job inherits SIGINT ignored, and so would every node:
        # then the stop's SIGINT does nothing and the node is killed without closing its bag
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if own_group:
            os.setpgid(0, 0)
        if PRCTL is not None:
            PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM))
            if os.getppid() != parent:  # the supervisor died before prctl: no signal will come
                os._exit(1)

    return setup


def log_to_stderr(line: str) -> None:
    print(f"amplify-bringup: {line}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, children: list[Child], log: Callable[[str], None] = log_to_stderr, grace: float = 5.0) -> None:
        self.children = children
        self.log = log
        self.grace = grace  # seconds from SIGINT to SIGKILL in stop()

    def run(self, stop: threading.Event, interval: float = 0.1) -> int:
        """Start every child and keep them running until ``stop`` is set (module docstring)."""
        try:
            self.start()
            while not stop.is_set():
                time.sleep(interval)  # not stop.wait(): a signal handler sets stop, and Event.wait may deadlock with it
                if not self.poll():
                    self.log("every node has exited")
                    return 0 if all(c.status == 0 for c in self.children) else 1
        finally:
            self.stop()
        return 0

    def start(self) -> None:
        now = time.monotonic()
        for child in self.children:
            self.spawn(child, now)

    def poll(self, now: float | None = None) -> bool:
        """One step: log exits, make the restarts that are due. False once every child is down
        for good. ``now``: a ``time.monotonic()`` reading (tests pass their own)."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.proc is not None and (code := child.proc.poll()) is not None:
                child.status, pid, child.proc = code, child.proc.pid, None
                self.down(child, now, f"{child.name} (pid {pid}) exited: {describe_exit(code)}")
            if child.restart_at is not None and now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                self.spawn(child, now)
        return any(c.proc is not None or c.restart_at is not None for c in self.children)

    def spawn(self, child: Child, now: float) -> None:
        try:
            child.proc = subprocess.Popen(child.argv, preexec_fn=child_setup(os.getpid(), not child.foreground))
        except OSError as err:  # e.g. no memory left to fork: like an exit, retried if the child respawns
            self.down(child, now, f"{child.name} cannot start: {err}")
            return
        if child.restarts:
            self.log(f"{child.name} restarted (pid {child.proc.pid}, restart {child.restarts})")
        else:
            self.log(f"{child.name} started (pid {child.proc.pid})")

    def down(self, child: Child, now: float, what: str) -> None:
        if child.respawn:
            child.restart_at = now + child.respawn_delay
            self.log(f"{what}; restarting in {child.respawn_delay:g} s")
        else:
            self.log(f"{what}; not restarted (respawn is off)")

    def stop(self) -> None:
        """SIGINT to every running child, up to ``grace`` seconds for them all to exit, then SIGKILL."""
        running = [c for c in self.children if c.proc is not None]
        for child in self.children:
            child.restart_at = None
        for child in running:
            child.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.grace
        for child in running:
            try:
                child.status = child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{child.name} (pid {child.proc.pid}) still running {self.grace:g} s after SIGINT: SIGKILL")
                child.proc.kill()
                child.status = child.proc.wait()
            self.log(f"{child.name} (pid {child.proc.pid}) stopped: {describe_exit(child.status)}")
            child.proc = None
