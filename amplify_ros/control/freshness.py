"""Is an observation fit to act on? The check every node makes before inference.

Times are seconds on the node's clock (sim time under ``use_sim_time``). An image older than
``max_image_age`` when its turn comes, or a robot state further than ``max_state_age`` from the
image, describes a world that has moved on: acting on it is how arms hit things.

Which state belongs to an image: the one stamped nearest to it (``StampedHistory``), not simply
the newest. Large images can arrive later than the small state messages sent with them, and
pairing such an image with the newest state would feed the model a mismatched observation. The
frames of a second camera are paired with the first camera's the same way.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class StampedHistory(Generic[T]):
    """The last ``size`` values (robot states, camera frames) with their stamps (seconds), in
    arrival order."""

    def __init__(self, size: int = 64) -> None:
        self._values: deque[tuple[T, float]] = deque(maxlen=size)

    def add(self, value: T, stamp: float) -> None:
        """A stamp earlier than the last one means time jumped back (a simulator reset, a bag
        replayed again): the values from the old timeline are forgotten, as tf does."""
        if self._values and stamp < self._values[-1][1]:
            self._values.clear()
        self._values.append((value, stamp))

    def __len__(self) -> int:
        return len(self._values)

    def nearest(self, stamp: float) -> tuple[T, float] | None:
        """(value, its stamp) closest in time to ``stamp`` (of two as close, the newer); None
        before the first value."""
        return min(reversed(self._values), key=lambda s: abs(s[1] - stamp), default=None)


def refuse_reason(
    now: float,
    image_stamp: float,
    max_image_age: float,
    state: np.ndarray | None = None,
    state_stamp: float | None = None,
    max_state_age: float | None = None,
) -> tuple[str, str]:
    """("", "") when the inputs may be used, else (kind, a short reason naming what is wrong):
    kind "stale_image" (older than ``max_image_age``, or stamped that much in the future),
    "no_state" (none received yet: normal while a graph starts),
    "stale_state" (too far from the image) or "bad_state" (not finite).
    ``state`` None with ``max_state_age`` set means the node needs a state and has none yet."""
    age = now - image_stamp
    if age > max_image_age:
        return "stale_image", f"stale image: {age * 1e3:.0f} ms old (max_image_age {max_image_age * 1e3:.0f} ms)"
    if -age > max_image_age:  # else a frame stamped far ahead would count as fresh for ever
        return "stale_image", (
            f"image stamped {-age:.3f} s in the future (another clock? max_image_age {max_image_age * 1e3:.0f} ms)"
        )
    if max_state_age is None:
        return "", ""
    if state is None or state_stamp is None:
        return "no_state", "no robot state received yet"
    gap = abs(image_stamp - state_stamp)
    if gap > max_state_age:
        return (
            "stale_state",
            f"stale robot state: {gap * 1e3:.0f} ms from the image (max_state_age {max_state_age * 1e3:.0f} ms)",
        )
    if not np.all(np.isfinite(state)):
        return "bad_state", f"robot state is not finite: {np.asarray(state).tolist()}"
    return "", ""
