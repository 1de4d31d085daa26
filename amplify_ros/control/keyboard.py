"""Keys typed in a terminal -> the twist a joystick would send, without ROS.

teleop_twist_keyboard is not on PyPI, and a terminal is the one input device every robot
computer has. A terminal reports key presses, never releases; a held key repeats, after a
delay of ~0.25-0.6 s, ~30 times a second. So a motion key moves the arm for ``hold`` seconds
after its last press or repeat, then the arm stops: letting go of a key stops the arm within
``hold`` (a dead man's switch), and ``hold`` longer than the autorepeat delay keeps a held key
moving without a stutter. One motion at a time: terminals repeat only the last key pressed.

    w / s  +x / -x      a / d  +y / -y      r / f  +z / -z    (upper case too)
    g      close or open the gripper (it stays as set; sent for ``hold`` s after each press)
    space or k  stop now           + / -  speed x1.25 / x0.8, within 0.05 .. 1

The twist is the convention of ``amplify_ros.control.teleop``: linear = the motion direction
times the speed, angular.z = the gripper (+1 closed, -1 open). Escape sequences (arrow and
function keys) are skipped whole, so they never read as letters.
"""

from __future__ import annotations

from dataclasses import dataclass

from amplify_ros.control.commands import TwistFields

MOTION_KEYS: dict[str, tuple[int, float]] = {  # key -> (linear axis, sign)
    "w": (0, 1.0),
    "s": (0, -1.0),
    "a": (1, 1.0),
    "d": (1, -1.0),
    "r": (2, 1.0),
    "f": (2, -1.0),
}
SPEED_RANGE = (0.05, 1.0)
HELP = (
    "keys: w/s +x/-x  a/d +y/-y  r/f +z/-z  g gripper  space/k stop  +/- speed  (hold a key to keep moving; "
    "Ctrl-C quits)"
)


@dataclass
class KeyState:
    speed: float
    gripper: float = -1.0  # open
    axis: int | None = None  # the motion being held
    sign: float = 0.0
    until: float = float("-inf")  # monotonic time the twist stops being sent


class KeyboardTwist:
    def __init__(self, speed: float = 0.5, hold: float = 0.6) -> None:
        if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
            raise ValueError(f"speed must be in {SPEED_RANGE[0]}..{SPEED_RANGE[1]}, got {speed}")
        if not hold > 0:
            raise ValueError(f"hold must be > 0 s, got {hold}")
        self.hold = hold
        self.state = KeyState(speed)
        self._escape = ""  # the escape sequence being skipped, so far

    def feed(self, text: str, now: float) -> bool:
        """Apply the keys in ``text`` (as read from the terminal); True when the speed, the
        gripper or the motion changed (worth telling the operator)."""
        changed = False
        for key in text:
            if self._skip(key):
                continue
            changed |= self._press(key.lower(), now)
        return changed

    def _skip(self, key: str) -> bool:
        """Inside an escape sequence: ESC, then '[' and parameters up to a final byte '@'..'~'
        (CSI), 'O' and one byte (SS3), or any one byte (Alt + key)."""
        if key == "\x1b":
            self._escape = key
            return True
        if not self._escape:
            return False
        seq = self._escape + key
        done = (
            (len(seq) == 2 and key not in "[O")
            or (len(seq) == 3 and seq[1] == "O")
            or (len(seq) > 2 and seq[1] == "[" and "@" <= key <= "~")
        )
        self._escape = "" if done else seq
        return True

    def _press(self, key: str, now: float) -> bool:
        s = self.state
        if key in MOTION_KEYS:
            axis, sign = MOTION_KEYS[key]
            changed = (s.axis, s.sign) != (axis, sign) or now >= s.until
            s.axis, s.sign, s.until = axis, sign, now + self.hold
            return changed
        if key == "g":
            s.gripper = -s.gripper
            if now >= s.until:  # a motion whose hold ran out stays over, even if no twist() noticed yet
                s.axis = None
            s.until = max(s.until, now + self.hold)  # send it even when nothing moves
            return True
        if key in " k":
            s.axis, s.sign, s.until = None, 0.0, float("-inf")
            return True
        if key in "+=-_":
            factor = 1.25 if key in "+=" else 0.8
            s.speed = min(max(s.speed * factor, SPEED_RANGE[0]), SPEED_RANGE[1])
            return True
        return False

    def twist(self, now: float) -> TwistFields | None:
        """The twist to send now, or None when no key is held (nothing to send)."""
        s = self.state
        if now >= s.until:
            s.axis = None
            return None
        linear = [0.0, 0.0, 0.0]
        if s.axis is not None:
            linear[s.axis] = s.sign * s.speed
        return TwistFields((linear[0], linear[1], linear[2]), (0.0, 0.0, s.gripper), None)

    def idle_twist(self) -> TwistFields:
        """A zero motion that keeps the gripper as set (for controllers that want a steady stream)."""
        return TwistFields((0.0, 0.0, 0.0), (0.0, 0.0, self.state.gripper), None)

    def status(self, now: float) -> str:
        s = self.state
        moving = "stopped" if s.axis is None or now >= s.until else f"{'+' if s.sign > 0 else '-'}{'xyz'[s.axis]}"
        return f"speed {s.speed:.2f} | gripper {'closed' if s.gripper > 0 else 'open'} | {moving}"
