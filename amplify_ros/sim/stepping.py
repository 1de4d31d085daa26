"""When the sim bridge publishes a frame and steps the simulation: lockstep or real time.

- lockstep: a frame goes out, the simulation waits for the command stamped with that frame,
  then steps; a frame is sent again when its command has not come within ``command_timeout``.
- realtime: every tick the simulation steps with the latest command if it is fresh and holds
  still (a zero action) otherwise, as a real arm's controller would, then a frame goes out.

A new episode's first frame waits ``reset_pause`` after its start (so every node has its task);
in lockstep the pause starts over while nothing could answer the frame (a policy still loading
would miss the frame, or its task).
The schedule is kept here, without ROS and with the wall clock passed in, so it is tested on its
own; the node publishes, renders and steps as it is told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from amplify_ros.sim.metaworld_env import ACTION_DIM


@dataclass
class Tick:
    """What to do at one timer tick: step with ``action`` (if set), then publish a frame."""

    action: np.ndarray | None = None
    publish: bool = False
    refusal: str | None = None  # counted on /diagnostics: command_timeout, no_fresh_command
    waiting: bool = False  # lockstep: the first frame is held until something can answer it


class StepSchedule:
    def __init__(self, mode: str, command_timeout: float, reset_pause: float) -> None:
        if mode not in ("lockstep", "realtime"):
            raise ValueError(f"mode must be lockstep or realtime, got {mode!r}")
        self.mode = mode
        self.command_timeout = command_timeout
        self.reset_pause = reset_pause
        self.finished = False  # after the last episode: nothing is published or stepped
        self._command: tuple[np.ndarray, float] | None = None  # (action, wall time received)
        self._frame_stamp = -1.0  # stamp of the frame awaiting its command; < 0: none out yet
        self._frame_wall = 0.0  # wall time it went out (or, before the first, when it may)

    def start_episode(self, now: float) -> None:
        """A new episode: its first frame after the reset pause; the last command is void."""
        self._frame_wall = now + self.reset_pause
        self._frame_stamp = -1.0
        self._command = None

    def frame_sent(self, stamp: float, now: float) -> None:
        self._frame_stamp = stamp
        self._frame_wall = now

    def command(self, action: np.ndarray, stamp: float, now: float) -> bool:
        """Keep the command; True when lockstep steps with it now (it answers the frame out)."""
        self._command = (action, now)
        return self.mode == "lockstep" and not self.finished and abs(stamp - self._frame_stamp) < 1e-6

    def tick(self, now: float, answerable: Callable[[], bool] = lambda: True) -> Tick:
        """Lockstep: the first frame of an episode after the pause, once ``answerable()`` (a
        command publisher exists), or the frame again after ``command_timeout``. Realtime: a step
        with the freshest command (once a frame is out), then the next frame."""
        if self.finished or now < self._frame_wall:
            return Tick()
        if self.mode == "lockstep":
            if self._frame_stamp < 0:
                if not answerable():
                    self._frame_wall = now + self.reset_pause
                    return Tick(waiting=True)
                return Tick(publish=True)
            if now - self._frame_wall > self.command_timeout:
                return Tick(publish=True, refusal="command_timeout")
            return Tick()
        if self._frame_stamp < 0:
            return Tick(publish=True)
        fresh = self._command is not None and now - self._command[1] <= self.command_timeout
        return Tick(self._command[0] if fresh else np.zeros(ACTION_DIM), True, None if fresh else "no_fresh_command")

    @property
    def awaiting_first_frame(self) -> bool:
        """An episode started and its first frame is not out yet (e.g. the last one just ended)."""
        return self._frame_stamp < 0
