"""A teleoperator's twist -> the arm command a policy would send, and which camera frame it is for.

Any joystick or spacemouse package publishes ``geometry_msgs/Twist`` (teleop_twist_joy,
teleop_twist_keyboard, spacenav); the arm takes the policy's action vector. ``TwistMapping``
turns one into the other:

- ``linear.x, linear.y, linear.z`` x ``linear_scale`` -> the first three values (end-effector
  delta x, y, z: Meta-World's action, or a Cartesian controller's);
- with a 4-D action, ``angular.<gripper_axis>`` (default ``angular.z``) x ``gripper_scale`` ->
  the gripper value (Meta-World: -1 opens, +1 closes); the other angular axes are not used;
- every value clipped to [-1, 1], the range of the policy's actions.

With the default scales (1) a twist carries the action itself: ``action_twist`` is the inverse,
which the sim bridge uses to publish its scripted expert as a teleoperator would.

``FramePairing`` serves recording and lockstep simulation, where each camera frame must get
exactly one command stamped with it. Each frame is commanded once, by the first fresh input
(received within ``max_age``) that is not older than the frame: received after it, or
stamped at or after it. The stamp rule lets an input made for a frame (the sim expert's twist
carries its frame's header) arrive before the frame does; the arrival rule serves unstamped
twists. A frame published again (a lockstep bridge still waiting) is a new frame to command.
Without fresh input a frame gets no command: nothing is held or repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from amplify_ros.control.commands import TwistFields
from amplify_ros.control.safety import MAX_MAGNITUDE, implausible

GRIPPER_AXES = ("angular.x", "angular.y", "angular.z")


@dataclass(frozen=True)
class TwistMapping:
    dims: int  # 3 (end-effector delta) or 4 (+ gripper)
    linear_scale: float = 1.0
    gripper_scale: float = 1.0
    gripper_axis: str = "angular.z"

    def __post_init__(self) -> None:
        if self.dims not in (3, 4):
            raise ValueError(f"a twist maps to 3 action values (ee delta x, y, z) or 4 (+ gripper), not {self.dims}")
        if self.gripper_axis not in GRIPPER_AXES:
            raise ValueError(f"gripper_axis must be one of {', '.join(GRIPPER_AXES)}, got {self.gripper_axis!r}")

    def action(self, linear: Sequence[float], angular: Sequence[float]) -> np.ndarray:
        """(dims,) action in [-1, 1]; raises ValueError on a twist whose used values are not
        finite or beyond ``MAX_MAGNITUDE`` (a corrupted message, not a full-speed request)."""
        used = list(linear) + ([angular[GRIPPER_AXES.index(self.gripper_axis)]] if self.dims == 4 else [])
        raw = np.asarray(used, np.float64)
        if not np.all(np.isfinite(raw)) or implausible(raw):
            raise ValueError(
                f"twist is not finite or beyond {MAX_MAGNITUDE:g}: linear {list(linear)}, angular {list(angular)}"
            )
        scales = [self.linear_scale] * 3 + ([self.gripper_scale] if self.dims == 4 else [])
        return np.clip(raw * np.asarray(scales), -1.0, 1.0)


def action_twist(action: Sequence[float] | np.ndarray) -> TwistFields:
    """The twist that the default mapping turns into ``action`` (4 values: ee delta x, y, z, gripper)."""
    a = np.asarray(action, np.float64)
    if a.shape != (4,):
        raise ValueError(f"an action to send as a twist has 4 values (ee delta x, y, z, gripper), got shape {a.shape}")
    return TwistFields((a[0], a[1], a[2]), (0.0, 0.0, a[3]), None)


class FramePairing:
    """Which input commands which camera frame (module docstring). Stamps are ns, ``now`` any
    monotonic seconds."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._seq = 0  # orders arrivals, even within one clock tick
        self._frame: tuple[int, int] | None = None  # (stamp, arrival) of the newest frame
        self._commanded = True  # the newest frame has its command (or there is none)
        self._input: tuple[np.ndarray, int | None, float, int] | None = None  # action, stamp, received, arrival

    def frame(self, stamp: int, now: float) -> tuple[tuple[np.ndarray, int] | None, bool]:
        """A frame arrived: (its command if a fresh input belongs to it, whether the previous
        frame went without a command)."""
        missed = not self._commanded
        self._seq += 1
        self._frame, self._commanded = (stamp, self._seq), False
        return self._pair(now), missed

    def input(self, action: np.ndarray, stamp: int | None, now: float) -> tuple[np.ndarray, int] | None:
        """An input arrived (``stamp`` None when it has none): the command it gives, if any."""
        self._seq += 1
        self._input = (action, stamp, now, self._seq)
        return self._pair(now)

    def _pair(self, now: float) -> tuple[np.ndarray, int] | None:
        if self._commanded or self._frame is None or self._input is None:
            return None
        action, stamp, received, arrival = self._input
        frame_stamp, frame_arrival = self._frame
        if now - received > self.max_age or not (
            arrival > frame_arrival or (stamp is not None and stamp >= frame_stamp)
        ):
            return None
        self._commanded = True
        return action, frame_stamp
