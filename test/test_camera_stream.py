"""CameraDriver's reconnect state machine, driven by a fake camera and a fake clock."""

import threading

import numpy as np
from harness import wait_until

from amplify_ros.camera.stream import RUNNING, WAITING, CameraDriver, CameraError, Frames, Intrinsics

INTR = Intrinsics(4, 2, 3.0, 3.0, 2.0, 1.0, "plumb_bob", (0.0,) * 5)


def frames(n: int) -> Frames:
    return Frames(np.full((2, 4, 3), n, np.uint8), None, n * 1000, n, INTR)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeCamera:
    """Hands out what the test queued: Frames, None (a read that timed out) or an exception."""

    description = "fake camera"

    def __init__(self) -> None:
        self.queue: list = []
        self.closed = False

    def read(self, timeout: float) -> Frames | None:
        item = self.queue.pop(0) if self.queue else None
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


class Devices:
    """connect() for the driver: a FakeCamera while plugged in, CameraError otherwise."""

    def __init__(self) -> None:
        self.plugged = False
        self.opened: list[FakeCamera] = []

    def __call__(self) -> FakeCamera:
        if not self.plugged:
            raise CameraError("no camera found")
        self.opened.append(FakeCamera())
        return self.opened[-1]


def driver(devices: Devices, clock: Clock, states: list) -> CameraDriver:
    return CameraDriver(
        devices,
        reconnect_period=1.0,
        frame_timeout=2.0,
        on_state=lambda status, error: states.append((status, error)),
        clock=clock,
    )


def test_no_camera_waits_with_the_reason_and_retries_every_period():
    devices, clock, states = Devices(), Clock(), []
    d = driver(devices, clock, states)
    assert d.step() is None
    assert (d.status, d.error) == (WAITING, "no camera found") and states == [(WAITING, "no camera found")]
    devices.plugged = True
    clock.now += 0.5
    assert d.step() is None and d.camera is None and d.retry_in() == 0.5  # not due yet
    clock.now += 0.5
    d.step()
    assert d.camera is devices.opened[0] and d.error == "" and "fake camera" in d.status
    d.camera.queue.append(frames(1))
    assert d.step().number == 1 and d.status == RUNNING
    assert len(states) == 3  # one report per change, none per frame
    d.camera.queue.append(frames(2))
    assert d.step().number == 2 and len(states) == 3


def test_a_failing_camera_is_closed_and_opened_again():
    devices, clock, states = Devices(), Clock(), []
    devices.plugged = True
    d = driver(devices, clock, states)
    d.step()
    first = d.camera
    first.queue += [frames(1), RuntimeError("Frame didn't arrive: device disconnected")]
    assert d.step() is not None and d.step() is None
    assert first.closed and d.camera is None and d.status == WAITING
    assert d.error == "fake camera failed: Frame didn't arrive: device disconnected"
    clock.now += 1.0
    d.step()
    d.camera.queue.append(frames(3))
    assert d.camera is devices.opened[1] and d.step().number == 3 and d.status == RUNNING and d.error == ""


def test_a_camera_that_stops_sending_times_out_and_the_unplugged_one_is_reported():
    devices, clock, states = Devices(), Clock(), []
    devices.plugged = True
    d = driver(devices, clock, states)
    d.step()
    clock.now += 1.9
    assert d.step() is None and d.camera is not None  # quiet, but not yet for frame_timeout
    clock.now += 0.2
    devices.plugged = False
    assert d.step() is None and d.camera is None
    assert devices.opened[0].closed and d.error == "no frames from fake camera for 2 s (unplugged?)"
    clock.now += 1.0
    d.step()
    assert d.error == "no camera found" and states[-1] == (WAITING, "no camera found")


def test_run_hands_frames_over_and_stops_with_the_camera_closed():
    devices = Devices()
    devices.plugged = True
    got, stop = [], threading.Event()
    d = CameraDriver(devices, reconnect_period=0.05, frame_timeout=1.0)

    def hand_over(f: Frames) -> None:
        got.append(f.number)
        if len(got) == 2:
            stop.set()

    thread = threading.Thread(target=d.run, args=(stop, hand_over))
    thread.start()
    wait_until(lambda: devices.opened, "the driver to connect on its thread")
    devices.opened[0].queue += [frames(1), frames(2)]
    thread.join(timeout=5.0)
    assert not thread.is_alive() and got == [1, 2] and devices.opened[0].closed and d.camera is None
