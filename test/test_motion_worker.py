"""The forward model on its own thread: newest frame only, codes by stamp and sentence, resets, errors."""

import threading

import numpy as np
from harness import wait_until

from amplify_ros.control.motion_worker import MotionWorker


class Gated:
    """A predictor that returns the image's first value as codes, after the test lets it."""

    def __init__(self) -> None:
        self.seen: list[float] = []
        self.go = threading.Event()
        self.go.set()

    def __call__(self, images: np.ndarray, sentence: str) -> np.ndarray:
        self.seen.append(float(images.flat[0]))
        if sentence == "explode":
            raise RuntimeError("boom")
        assert self.go.wait(10.0)
        return np.full(3, images.flat[0], dtype=np.int64)


def frame(value: float) -> np.ndarray:
    return np.full((1, 2, 2, 3), value)


def test_codes_come_for_the_frame_and_sentence_within_the_age_window():
    worker = MotionWorker(Gated())
    try:
        worker.submit(frame(7), "push", 1.0, source="header 1.0")
        got = worker.codes_for(1.0, "push", max_age=0.2, timeout=5.0)  # waits for the first result
        assert got is not None and got.codes.tolist() == [7, 7, 7] and got.stamp == 1.0 and got.source == "header 1.0"
        assert worker.codes_for(1.15, "push", 0.2, 0.0) is got  # a frame later: still fresh enough
        assert worker.codes_for(1.3, "push", 0.2, 0.0) is None  # too old
        assert worker.codes_for(0.5, "push", 0.2, 0.0) is None  # time went back (a reset): not for this frame
        assert worker.codes_for(1.0, "pull", 0.2, 0.0) is None  # another task
    finally:
        worker.close()


def busy_worker() -> tuple[Gated, MotionWorker]:
    """A worker in the middle of predicting frame 1 (stamp 1.0), held until ``go`` is set."""
    predictor = Gated()
    predictor.go.clear()
    worker = MotionWorker(predictor)
    worker.submit(frame(1), "push", 1.0)
    wait_until(lambda: predictor.seen, "frame 1 to reach the predictor")
    return predictor, worker


def test_only_the_newest_waiting_frame_is_predicted():
    predictor, worker = busy_worker()
    try:
        worker.submit(frame(2), "push", 2.0)
        worker.submit(frame(3), "push", 3.0)  # replaces frame 2
        predictor.go.set()
        assert worker.codes_for(3.0, "push", 0.0, 5.0).codes[0] == 3
        assert predictor.seen == [1.0, 3.0]
    finally:
        worker.close()


def test_a_reset_drops_the_prediction_in_flight_and_errors_are_reported_not_fatal():
    predictor, worker = busy_worker()
    try:
        worker.reset()  # e.g. a new task arrived meanwhile
        predictor.go.set()
        assert worker.codes_for(1.0, "push", 1.0, 0.3) is None
        worker.submit(frame(2), "explode", 2.0)
        wait_until(lambda: worker.error is not None, "the predictor's error to be reported")
        assert "boom" in worker.error
        worker.submit(frame(4), "push", 4.0)
        assert worker.codes_for(4.0, "push", 0.0, 5.0).codes[0] == 4 and worker.error is None
    finally:
        worker.close()
