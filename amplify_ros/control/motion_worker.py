"""The forward model on a thread of its own: motion codes for the newest frame while the caller
acts on the codes it already has.

Greedy decoding of the motion codes is most of an AMPLIFY step on a CPU (~50 of ~65 ms with the
small preset), and it sits between every image and its action. On a thread it leaves that path:
each frame is acted on at once with the newest codes, predicted from a frame at most ``max_age``
seconds older (in practice one or two frames). The price is that the inverse model pairs an
image with codes for motion that began slightly earlier; benchmarks/latency.py measures the
gain, the README the effect on success. torch releases the GIL inside its kernels, so the two
models overlap on two cores.

Only the newest submitted frame is kept: a frame submitted while the forward model is busy
replaces the one waiting, as an image topic of depth 1 would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StampedCodes:
    codes: np.ndarray  # (T,)
    stamp: float  # of the frame they were predicted from (s)
    sentence: str
    forward_ms: float
    source: Any = None  # what the caller submitted with the frame (e.g. its header, for publishing)


class MotionWorker:
    def __init__(self, predict: Callable[[np.ndarray, str], np.ndarray]) -> None:
        """``predict``: images, sentence -> codes (``MotionPrior.predict``)."""
        self._predict = predict
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, str, float, Any] | None = None
        self._latest: StampedCodes | None = None
        self._generation = 0  # bumped by reset(): a result for an older generation is dropped
        self._closed = False
        self.error: str | None = None  # the last prediction's failure, None once one succeeds
        self._thread = threading.Thread(target=self._run, name="motion-worker", daemon=True)
        self._thread.start()

    def submit(self, images: np.ndarray, sentence: str, stamp: float, source: Any = None) -> None:
        with self._cond:
            self._pending = (images, sentence, stamp, source)
            self._cond.notify_all()

    def codes_for(self, stamp: float, sentence: str, max_age: float, timeout: float) -> StampedCodes | None:
        """The newest codes for ``sentence`` predicted from a frame stamped within ``max_age``
        before ``stamp`` (never after it: time that went back, e.g. a simulator reset, makes old
        codes unusable), waiting up to ``timeout`` s for them (the first frame of an episode);
        None when there are none by then."""

        def usable() -> bool:
            c = self._latest
            return c is not None and c.sentence == sentence and stamp - max_age <= c.stamp <= stamp

        with self._cond:
            self._cond.wait_for(lambda: usable() or self._closed, timeout)
            return self._latest if usable() else None

    def reset(self) -> None:
        """Forget the codes and the waiting frame (a new task, a new episode)."""
        with self._cond:
            self._generation += 1
            self._pending = None
            self._latest = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                (images, sentence, stamp, source), self._pending = self._pending, None
                generation = self._generation
            start = time.perf_counter()
            try:
                codes = self._predict(images, sentence)
            except Exception as err:  # noqa: BLE001 - reported to the caller, the thread lives on
                self.error = f"{type(err).__name__}: {err}"
                continue
            result = StampedCodes(codes, stamp, sentence, (time.perf_counter() - start) * 1e3, source)
            with self._cond:
                if generation == self._generation:  # frames are predicted in the order they came
                    self._latest = result
                    self.error = None
                    self._cond.notify_all()
