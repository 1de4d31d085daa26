"""What a run's TensorBoard logs say about it: training time and the curves of its scalars.

Read back from ``<run>/tb`` rather than timed around a command, so a resumed run counts every
session that trained it and a finished run resumed only to evaluate adds nothing.
"""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader


def _events(run_dir: Path) -> list[Path]:
    return sorted((Path(run_dir) / "tb").glob("events.out.tfevents.*"))


def training_seconds(run_dir: Path) -> float:
    """Wall time between the first and last event of each training session, summed."""
    total = 0.0
    for events in _events(run_dir):
        times = [e.wall_time for e in EventFileLoader(str(events)).Load()]
        total += times[-1] - times[0] if times else 0.0
    return total


def scalar_curve(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of one scalar over every session, by step (a resumed session's value wins)."""
    points: dict[int, float] = {}
    for events in _events(run_dir):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value if event.HasField("summary") else ():
                if value.tag == tag:
                    points[event.step] = _scalar(value)
    return sorted(points.items())


def _scalar(value) -> float:
    if value.HasField("simple_value"):
        return float(value.simple_value)
    from tensorboard.util import tensor_util

    return float(tensor_util.make_ndarray(value.tensor))
