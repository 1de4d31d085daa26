"""Is an observation fit to act on? The check every node makes before inference.

Times are seconds on the node's clock (sim time under ``use_sim_time``). An image older than
``max_image_age`` when its turn comes, or a robot state further than ``max_state_age`` from the
image, describes a world that has moved on: acting on it is how arms hit things.
"""

from __future__ import annotations

import numpy as np


def refuse_reason(
    now: float,
    image_stamp: float,
    max_image_age: float,
    state: np.ndarray | None = None,
    state_stamp: float | None = None,
    max_state_age: float | None = None,
) -> tuple[str, str]:
    """("", "") when the inputs may be used, else (kind, a short reason naming what is wrong):
    kind "stale_image", "no_state" (none received yet: normal while a graph starts),
    "stale_state" (too far from the image) or "bad_state" (not finite).
    ``state`` None with ``max_state_age`` set means the node needs a state and has none yet."""
    age = now - image_stamp
    if age > max_image_age:
        return "stale_image", f"stale image: {age * 1e3:.0f} ms old (max_image_age {max_image_age * 1e3:.0f} ms)"
    if max_state_age is None:
        return "", ""
    if state is None or state_stamp is None:
        return "no_state", "no robot state received yet"
    gap = abs(image_stamp - state_stamp)
    if gap > max_state_age:
        return "stale_state", f"stale robot state: {gap * 1e3:.0f} ms from the image (max_state_age {max_state_age * 1e3:.0f} ms)"
    if not np.all(np.isfinite(state)):
        return "bad_state", f"robot state is not finite: {np.asarray(state).tolist()}"
    return "", ""
