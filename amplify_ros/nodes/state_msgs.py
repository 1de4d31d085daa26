"""sensor_msgs/JointState -> the proprioception vector a checkpoint expects, by joint name."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import JointState

from amplify_ros.control.safety import MAX_MAGNITUDE, implausible
from amplify_ros.nodes.stamps import stamp_problem, stamp_seconds


def joint_state_problem(msg: JointState) -> str:
    """ "" for a well-formed message, else what is wrong: sensor_msgs/JointState wants unique
    names, one position per name, and velocity/effort either empty or one per name too."""
    n = len(msg.name)
    if len(set(msg.name)) != n:
        return f"joint state names a joint twice: {list(msg.name)}"
    for field in ("position", "velocity", "effort"):
        count = len(getattr(msg, field))
        if count != n and (count or field == "position"):
            return f"joint state has {n} names but {count} {field} values"
    return ""


def joint_vector(msg: JointState, names: list[str]) -> np.ndarray:
    """Positions of ``names`` in that order (all positions in message order when ``names`` is
    empty). Raises ValueError on a malformed message (``joint_state_problem``), naming the joints
    the message lacks, or on positions that are not finite or beyond ``MAX_MAGNITUDE`` (a
    corrupted value: the state is unknown, so it is not used)."""
    if problem := joint_state_problem(msg):
        raise ValueError(problem)
    if names:
        index = {n: i for i, n in enumerate(msg.name)}
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(f"joint state lacks {missing}; it has {list(msg.name)}")
        positions = [msg.position[index[n]] for n in names]
    else:
        positions = list(msg.position)
    vec = np.asarray(positions, np.float64)
    if not np.all(np.isfinite(vec)) or implausible(vec):
        raise ValueError(f"joint state is not finite or beyond {MAX_MAGNITUDE:g}: {vec.tolist()}")
    return vec.astype(np.float32)


def joint_reading(msg: JointState, names: list[str], now: float, max_ahead: float) -> tuple[np.ndarray, float]:
    """(``joint_vector``, its stamp in seconds: ``now`` for drivers that leave it zero). Raises
    ValueError as ``joint_vector`` does, and for a corrupted stamp or one more than ``max_ahead``
    seconds after ``now``: kept, it would be the state nearest to no image and its stamp would
    make the states that follow look like a jump back in time."""
    kind, reason = stamp_problem(msg.header, now, max_ahead)
    if kind:
        raise ValueError(f"joint state {reason}")
    return joint_vector(msg, names), stamp_seconds(msg.header) or now
