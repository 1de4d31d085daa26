"""The safety filter between a policy and any arm adapter: a command goes out only when it is safe.

Checks, in this order; the first that fails holds the arm (``Verdict.command`` is None: publish
nothing, so a position controller keeps its last target) and names why:

1. ``estop``: latched by ``estop()``; only ``reset()`` clears it, and a reset also disables, so
   motion restarts only after an explicit ``enable()``.
2. ``disabled``: the gate is off until ``enable()``; it starts off.
3. ``wrong_size``: the command does not have ``config.size`` values.
4. ``non_finite``: a NaN or an infinity anywhere; ``implausible``: a value beyond
   ``MAX_MAGNITUDE``, which no joint position, speed or Cartesian target reaches (a corrupted
   message: clamping it to the limits would still send the arm to one end of its range).
5. ``no_heartbeat``: with ``heartbeat_timeout`` set, the last heartbeat is missing or too old.
6. ``stale_image``, ``stale_state``: the latest camera image or robot state is missing, older than
   ``max_image_age`` / ``max_state_age``, or stamped that much in the future (another clock).
7. ``no_reference``: with ``max_velocity`` set, there is neither a previous command nor a current,
   finite state to measure the step from.

A command that passes is then made safe instead of refused, in this order:

- ``clamped_limits``: every value into [``lower``, ``upper``] (joint position limits, or speed
  limits for velocity commands);
- ``clamped_workspace``: values 0..2 (x, y, z of a Cartesian target) into the workspace box;
- ``clamped_velocity``: the step from the previous command (the current state before the first
  one) to at most ``max_velocity * period`` per value. It comes last, so the arm never jumps;
  between a reference inside the box and a target inside it, the result stays inside.

Every hold and every clamp increments ``counters[name]`` (commands sent: ``sent``) for the node
to publish on /diagnostics. Times are seconds on one clock, passed in, so tests set them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

REASONS = (
    "estop",
    "disabled",
    "command_gap",
    "wrong_size",
    "non_finite",
    "implausible",
    "no_heartbeat",
    "stale_image",
    "stale_state",
    "no_reference",
    "clamped_limits",
    "clamped_workspace",
    "clamped_velocity",
)

MAX_MAGNITUDE = 1e6  # rad, m, rad/s, m/s or normalised: no real state or command value comes near


def implausible(values: np.ndarray) -> bool:
    """Whether finite ``values`` hold one beyond ``MAX_MAGNITUDE`` (a corrupted message)."""
    return bool(np.any(np.abs(values) > MAX_MAGNITUDE))


@dataclass(frozen=True)
class SafetyConfig:
    size: int  # values per command
    period: float  # seconds between commands: the step the velocity limit allows is max_velocity * period
    lower: Sequence[float] | None = None  # per value; None = unbounded
    upper: Sequence[float] | None = None
    max_velocity: Sequence[float] | float | None = None  # per value, units per second
    workspace_lower: Sequence[float] | None = None  # x, y, z of Cartesian targets (values 0..2)
    workspace_upper: Sequence[float] | None = None
    max_image_age: float | None = 0.5  # seconds; None = not checked
    max_state_age: float | None = 0.5
    heartbeat_timeout: float | None = None  # seconds; None = no heartbeat required
    max_command_gap: float | None = None  # seconds between commands that closes the gate; None = never

    def __post_init__(self) -> None:
        if self.size < 1 or not self.period > 0:
            raise ValueError(f"size must be >= 1 and period > 0, got size={self.size}, period={self.period}")
        for name in ("lower", "upper"):
            if (value := getattr(self, name)) is not None and len(value) != self.size:
                raise ValueError(f"{name} needs {self.size} values, got {value}")
        if self.max_velocity is not None and np.size(self.max_velocity) not in (1, self.size):
            raise ValueError(f"max_velocity needs 1 or {self.size} values, got {self.max_velocity}")
        if (
            self.lower is not None
            and self.upper is not None
            and np.any(np.asarray(self.lower) > np.asarray(self.upper))
        ):
            raise ValueError(f"lower {self.lower} exceeds upper {self.upper}")
        if self.max_velocity is not None and np.any(~(np.asarray(self.max_velocity) > 0)):
            raise ValueError(f"max_velocity must be > 0, got {self.max_velocity}")
        if (self.workspace_lower is None) != (self.workspace_upper is None) or (
            self.workspace_lower is not None and self.size < 3
        ):
            raise ValueError(
                "workspace_lower and workspace_upper go together, for commands of at least 3 values (x, y, z first)"
            )
        if self.workspace_lower is not None and (
            len(self.workspace_lower) != 3
            or len(self.workspace_upper) != 3
            or np.any(np.asarray(self.workspace_lower) > np.asarray(self.workspace_upper))
        ):
            raise ValueError(
                "workspace bounds must be 3 values each, lower <= upper; "
                f"got {self.workspace_lower}, {self.workspace_upper}"
            )
        for name in ("max_image_age", "max_state_age", "heartbeat_timeout", "max_command_gap"):
            if (value := getattr(self, name)) is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, got {value}")


@dataclass(frozen=True)
class Verdict:
    command: np.ndarray | None  # what to send; None = send nothing (hold)
    reason: str  # "" when sent as asked; else "name: detail" parts joined by "; "


def _age(name: str, what: str, stamp: float | None, now: float, limit: float | None) -> str:
    """ "" when fresh enough, else the reason."""
    if limit is None:
        return ""
    if stamp is None:
        return f"{name}: no {what} yet"
    if abs(now - stamp) > limit:
        when = (
            f"{now - stamp:.3f} s old"
            if now >= stamp
            else f"stamped {stamp - now:.3f} s in the future (another clock?)"
        )
        return f"{name}: {what} {when}, limit {limit:g} s"
    return ""


class SafetyFilter:
    """Stateful: the e-stop latch, the enable gate and the last command sent (module docstring)."""

    def __init__(self, config: SafetyConfig) -> None:
        self.config = config
        self.counters: Counter[str] = Counter({name: 0 for name in (*REASONS, "sent")})
        self._enabled = False
        self._estop = ""  # why, while latched
        self._last: np.ndarray | None = None  # the last command sent: the velocity limit's reference
        self._last_time: float | None = None  # when the last command came, whatever became of it

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def estopped(self) -> bool:
        return bool(self._estop)

    def enable(self) -> None:
        """Open the gate; a latched e-stop still holds until ``reset()``."""
        self._enabled, self._last, self._last_time = True, None, None

    def disable(self) -> None:
        self._enabled = False

    def estop(self, reason: str = "requested") -> None:
        """Latch the e-stop: hold until ``reset()`` and then ``enable()``."""
        self._estop = reason or "requested"
        self._enabled = False

    def reset(self) -> None:
        """Clear the e-stop. The gate stays off: motion restarts only with ``enable()``."""
        self._estop = ""
        self._enabled, self._last = False, None

    def check(
        self,
        command: Sequence[float] | np.ndarray,
        now: float,
        image_time: float | None = None,
        state_time: float | None = None,
        heartbeat_time: float | None = None,
        state: Sequence[float] | np.ndarray | None = None,
    ) -> Verdict:
        """Decide what to send for ``command`` at time ``now``: the latest image, state and
        heartbeat times and, for the first step, the current ``state`` (same values as a command)."""
        cmd = np.array(command, np.float64).ravel()  # a copy: clamping must not change the caller's array
        previous, self._last_time = self._last_time, now
        gap = self.config.max_command_gap
        if self._enabled and not self._estop and gap is not None and previous is not None and now - previous > gap:
            self._enabled = False
            self.counters["command_gap"] += 1
            return Verdict(
                None,
                f"command_gap: no command for {now - previous:.2f} s (max_command_gap {gap:g} s): "
                "the gate is closed until enable()",
            )
        held = self._hold_reason(cmd, now, image_time, state_time, heartbeat_time, state)
        if held:
            self.counters[held.split(":")[0]] += 1
            return Verdict(None, held)
        cfg, changes = self.config, []
        if cfg.lower is not None or cfg.upper is not None:
            lower = -np.inf if cfg.lower is None else np.asarray(cfg.lower, np.float64)
            upper = np.inf if cfg.upper is None else np.asarray(cfg.upper, np.float64)
            changes.append(self._clamp(cmd, lower, upper, slice(None), "clamped_limits"))
        if cfg.workspace_lower is not None:
            changes.append(
                self._clamp(
                    cmd,
                    np.asarray(cfg.workspace_lower),
                    np.asarray(cfg.workspace_upper),
                    slice(0, 3),
                    "clamped_workspace",
                )
            )
        if cfg.max_velocity is not None:
            reference = self._last if self._last is not None else np.asarray(state, np.float64).ravel()
            step = np.asarray(cfg.max_velocity, np.float64) * cfg.period
            changes.append(self._clamp(cmd, reference - step, reference + step, slice(None), "clamped_velocity"))
        self._last = cmd.copy()
        self.counters["sent"] += 1
        return Verdict(cmd, "; ".join(c for c in changes if c))

    def _hold_reason(
        self,
        cmd: np.ndarray,
        now: float,
        image_time: float | None,
        state_time: float | None,
        heartbeat_time: float | None,
        state: Sequence[float] | np.ndarray | None,
    ) -> str:
        cfg = self.config
        if self._estop:
            return f"estop: latched ({self._estop}); reset() then enable()"
        if not self._enabled:
            return "disabled: enable() to send commands"
        if cmd.size != cfg.size:
            return f"wrong_size: {cmd.size} values, expected {cfg.size}"
        if not np.all(np.isfinite(cmd)):
            return f"non_finite: {cmd.tolist()}"
        if implausible(cmd):
            return f"implausible: a value beyond {MAX_MAGNITUDE:g}: {cmd.tolist()}"
        heartbeat = _age("no_heartbeat", "heartbeat", heartbeat_time, now, cfg.heartbeat_timeout)
        stale = heartbeat or _age("stale_image", "image", image_time, now, cfg.max_image_age)
        stale = stale or _age("stale_state", "state", state_time, now, cfg.max_state_age)
        if stale:
            return stale
        if (
            cfg.max_velocity is not None
            and self._last is None
            and (
                state is None
                or np.size(state) != cfg.size
                or not np.all(np.isfinite(state))
                or implausible(np.asarray(state))
            )
        ):
            return (
                f"no_reference: the first command needs the current state ({cfg.size} finite values) to limit its step"
            )
        return ""

    def _clamp(self, cmd: np.ndarray, lower: np.ndarray, upper: np.ndarray, part: slice, name: str) -> str:
        """Clamp ``cmd[part]`` in place; "" when nothing changed, else the reason (counted)."""
        before = cmd[part].copy()
        cmd[part] = np.clip(before, lower, upper)
        moved = np.flatnonzero(cmd[part] != before)
        if not moved.size:
            return ""
        self.counters[name] += 1
        return f"{name}: values {moved.tolist()} by up to {np.abs(cmd[part] - before).max():.4g}"
