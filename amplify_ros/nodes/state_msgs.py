"""sensor_msgs/JointState -> the proprioception vector a checkpoint expects, by joint name."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import JointState


def joint_vector(msg: JointState, names: list[str]) -> np.ndarray:
    """Positions of ``names`` in that order (all positions in message order when ``names`` is
    empty). Raises ValueError naming the joints the message lacks."""
    if not names:
        return np.asarray(msg.position, np.float32)
    index = {n: i for i, n in enumerate(msg.name)}
    missing = [n for n in names if n not in index or index[n] >= len(msg.position)]
    if missing:
        raise ValueError(f"joint state lacks {missing}; it has {list(msg.name)}")
    return np.asarray([msg.position[index[n]] for n in names], np.float32)
