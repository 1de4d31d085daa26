"""Malformed input messages, each labelled with the fault it carries: for fuzzing the nodes.

``malformed(kind, rng, count, stamp)`` yields ``count`` ``Malformed(fault, msg)``, cycling
through the faults of ``kind`` (``FAULTS[kind]``) with random details drawn from ``rng``:

- ``image`` (a colour camera's sensor_msgs/Image): unknown or non-colour encodings, ``step``,
  width and height that disagree with the data, empty data, 0x0, huge dimensions over a few
  bytes;
- ``tokens`` (amplify/motion_tokens, a one-row 32SC1 Image): other encodings and shapes, codes
  outside the codebook, too few or too many codes;
- ``joint_state``: NaN, infinite and 1e30 positions, wrong or repeated names, missing joints,
  position / velocity / effort counts that disagree with the names, an empty message;
- ``trajectory`` (amplify/command, one JointTrajectory point): non-finite or 1e30 values, too
  few or too many values, no points, points of different lengths;
- ``twist`` / ``twist_stamped`` (a teleoperator's cmd_vel): non-finite or 1e30 values;
- ``raw_frame`` (the CDR bytes of an Image, for raw subscriptions): empty, truncated, random.

Every kind with a header also gets the header faults: stamps far in the past (1970), far in
the future (a day, or the end of int32 seconds), negative, and nanoseconds beyond a second.
A malformed message otherwise carries ``stamp()`` (integer ns; make it unique per call so what a
node publishes can be traced to the message it came from). The ``valid_*`` builders make the
well-formed messages the faults are cut from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

NS = 1_000_000_000
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Malformed:
    fault: str  # what is wrong with it, e.g. "image/huge_dims"
    msg: Any  # a message object, or bytes for raw_frame


@dataclass(frozen=True)
class Shape:
    """What the valid messages look like: image size, joint and action names, code count."""

    height: int = 48
    width: int = 64
    joints: tuple[str, ...] = ("ee_x", "ee_y", "ee_z", "gripper")
    actions: tuple[str, ...] = ("j1", "j2", "j3")
    codes: int = 15
    codebook: int = 16


# --- valid messages ---------------------------------------------------------------------------
def header(ns: int, frame: str = "fuzz") -> Header:
    h = Header(frame_id=frame)
    h.stamp.sec, h.stamp.nanosec = ns // NS, ns % NS
    return h


def valid_image(ns: int, shape: Shape, rng: np.random.Generator) -> Image:
    pixels = rng.integers(0, 255, (shape.height, shape.width, 3), dtype=np.uint8)
    return Image(
        header=header(ns),
        height=shape.height,
        width=shape.width,
        encoding="rgb8",
        is_bigendian=0,
        step=shape.width * 3,
        data=pixels.tobytes(),
    )


def valid_tokens(ns: int, shape: Shape, rng: np.random.Generator) -> Image:
    codes = rng.integers(0, shape.codebook, (1, shape.codes), dtype=np.int32)
    return Image(
        header=header(ns),
        height=1,
        width=shape.codes,
        encoding="32SC1",
        is_bigendian=0,
        step=shape.codes * 4,
        data=codes.astype("<i4").tobytes(),
    )


def valid_joint_state(ns: int, shape: Shape, rng: np.random.Generator) -> JointState:
    return JointState(
        header=header(ns), name=list(shape.joints), position=rng.uniform(-1, 1, len(shape.joints)).tolist()
    )


def valid_trajectory(ns: int, shape: Shape, rng: np.random.Generator) -> JointTrajectory:
    point = JointTrajectoryPoint(positions=rng.uniform(-0.5, 0.5, len(shape.actions)).tolist())
    return JointTrajectory(header=header(ns), joint_names=list(shape.actions), points=[point])


def valid_twist(ns: int, shape: Shape, rng: np.random.Generator) -> Twist:
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.linear.z = rng.uniform(-0.5, 0.5, 3).tolist()
    twist.angular.z = float(rng.uniform(-1, 1))
    return twist


def valid_twist_stamped(ns: int, shape: Shape, rng: np.random.Generator) -> TwistStamped:
    return TwistStamped(header=header(ns), twist=valid_twist(ns, shape, rng))


def valid_raw_frame(ns: int, shape: Shape, rng: np.random.Generator) -> bytes:
    return serialize_message(valid_image(ns, shape, rng))


VALID: dict[str, Callable[[int, Shape, np.random.Generator], Any]] = {
    "image": valid_image,
    "tokens": valid_tokens,
    "joint_state": valid_joint_state,
    "trajectory": valid_trajectory,
    "twist": valid_twist,
    "twist_stamped": valid_twist_stamped,
    "raw_frame": valid_raw_frame,
}


# --- faults -------------------------------------------------------------------------------------
def _bad_value(rng: np.random.Generator) -> float:
    return float(rng.choice([np.nan, np.inf, -np.inf, 1e30, -1e30]))


def _image_fault(fault: str, msg: Image, rng: np.random.Generator) -> Image:
    row = msg.width * 3
    if fault == "unknown_encoding":
        msg.encoding = str(
            rng.choice(
                [
                    "yuv422",
                    "bayer_rggb8",
                    "RGB8",
                    "",
                    "jpeg",
                    "8UC9",
                    "rgb16",
                    "".join(rng.choice(list("abcxyz0189"), 6)),
                ]
            )
        )
    elif fault == "non_colour_encoding":  # data sized for the encoding: readable, but not colour
        encoding, itemsize = [("16UC1", 2), ("mono16", 2), ("32FC1", 4), ("32SC1", 4)][rng.integers(4)]
        msg.encoding, msg.step = encoding, msg.width * itemsize
        msg.data = bytes(msg.step * msg.height)
    elif fault == "step_too_small":
        msg.step = int(rng.integers(0, row))
    elif fault == "step_too_large":
        msg.step = int(rng.integers(row + 1, UINT32_MAX))
    elif fault == "data_too_short":
        msg.data = bytes(msg.data)[: int(rng.integers(1, row * msg.height))]
    elif fault == "empty_data":
        msg.data = b""
    elif fault == "zero_size":
        msg.height = msg.width = msg.step = 0
        msg.data = b""
    elif fault == "zero_height":
        msg.height = 0
    elif fault == "huge_dims":
        msg.width, msg.height = int(rng.integers(1 << 16, UINT32_MAX)), int(rng.integers(1 << 16, UINT32_MAX))
        msg.step = min(msg.width * 3, UINT32_MAX)
        msg.data = bytes(int(rng.integers(0, 64)))
    elif fault == "width_data_mismatch":  # claims twice the width over the same bytes
        msg.width *= 2
    else:
        raise ValueError(f"unknown image fault {fault!r}")
    return msg


def _token_fault(fault: str, msg: Image, shape: Shape, rng: np.random.Generator) -> Image:
    codes = np.frombuffer(bytes(msg.data), "<i4").copy()
    if fault == "wrong_encoding":
        msg.encoding = str(rng.choice(["32FC1", "rgb8", "16UC1", "mono8"]))
    elif fault == "two_rows":
        msg.height, msg.data = 2, bytes(msg.data) * 2
    elif fault == "out_of_range":
        codes[rng.integers(len(codes))] = rng.choice([-1, shape.codebook, INT32_MAX, -(2**31)])
        msg.data = codes.astype("<i4").tobytes()
    elif fault in ("too_few", "too_many"):
        n = (
            int(rng.integers(1, shape.codes))
            if fault == "too_few"
            else int(rng.integers(shape.codes + 1, 4 * shape.codes))
        )
        msg.width, msg.step = n, 4 * n
        msg.data = rng.integers(0, shape.codebook, n).astype("<i4").tobytes()
    elif fault == "empty":
        msg.width = msg.step = 0
        msg.data = b""
    elif fault == "data_too_short":
        msg.data = bytes(msg.data)[: int(rng.integers(0, 4 * shape.codes))]
    else:
        raise ValueError(f"unknown tokens fault {fault!r}")
    return msg


def _joint_fault(fault: str, msg: JointState, rng: np.random.Generator) -> JointState:
    n = len(msg.name)
    i = int(rng.integers(n))
    position = list(msg.position)
    if fault in ("nan", "inf", "huge"):
        position[i] = {
            "nan": float("nan"),
            "inf": float(rng.choice([np.inf, -np.inf])),
            "huge": float(rng.choice([1e30, -1e30])),
        }[fault]
        msg.position = position
    elif fault == "wrong_names":
        msg.name = [f"joint_{k}" for k in range(n)]
    elif fault == "missing_joint":
        msg.name, msg.position = msg.name[:i] + msg.name[i + 1 :], position[:i] + position[i + 1 :]
    elif fault == "duplicate_names":
        msg.name = [msg.name[0]] * n
    elif fault == "fewer_positions":
        msg.position = position[: int(rng.integers(0, n))]
    elif fault == "more_positions":
        msg.position = position + rng.uniform(-1, 1, int(rng.integers(1, 4))).tolist()
    elif fault == "velocity_mismatch":
        msg.velocity = rng.uniform(-1, 1, int(rng.choice([k for k in range(1, 2 * n) if k != n]))).tolist()
    elif fault == "effort_mismatch":
        msg.effort = rng.uniform(-1, 1, int(rng.choice([k for k in range(1, 2 * n) if k != n]))).tolist()
    elif fault == "empty":
        msg.name, msg.position = [], []
    else:
        raise ValueError(f"unknown joint_state fault {fault!r}")
    return msg


def _trajectory_fault(fault: str, msg: JointTrajectory, rng: np.random.Generator) -> JointTrajectory:
    values = list(msg.points[0].positions)
    if fault == "non_finite":
        values[rng.integers(len(values))] = float(rng.choice([np.nan, np.inf, -np.inf]))
        msg.points[0].positions = values
    elif fault == "huge":
        values[rng.integers(len(values))] = float(rng.choice([1e30, -1e30, 1e7]))
        msg.points[0].positions = values
    elif fault == "too_few":
        msg.points[0].positions = values[: int(rng.integers(0, len(values)))]
    elif fault == "too_many":
        msg.points[0].positions = values + [0.0] * int(rng.integers(1, 5))
    elif fault == "no_points":
        msg.points = []
    elif fault == "ragged_points":
        msg.points = [msg.points[0], JointTrajectoryPoint(positions=values[:-1])]
    else:
        raise ValueError(f"unknown trajectory fault {fault!r}")
    return msg


def _twist_fault(fault: str, twist: Twist, rng: np.random.Generator) -> None:
    axis = str(rng.choice(["linear.x", "linear.y", "linear.z", "angular.z"]))
    group, name = axis.split(".")
    value = {
        "nan": float("nan"),
        "inf": float(rng.choice([np.inf, -np.inf])),
        "huge": float(rng.choice([1e30, -1e30])),
    }[fault]
    setattr(getattr(twist, group), name, value)


def _raw_fault(fault: str, data: bytes, rng: np.random.Generator) -> bytes:
    if fault == "empty":
        return b""
    if fault == "truncated_header":
        return data[: int(rng.integers(1, 12))]
    if fault == "random_bytes":
        return rng.integers(0, 256, int(rng.integers(12, 256)), dtype=np.uint8).tobytes()
    if fault == "bad_nanosec":
        out = bytearray(data)
        out[8:12] = int(rng.integers(NS, UINT32_MAX)).to_bytes(4, "little")  # CDR_LE: sec at 4, nanosec at 8
        return bytes(out)
    raise ValueError(f"unknown raw_frame fault {fault!r}")


def _stamp_fault(fault: str, h: Header, ns: int, rng: np.random.Generator) -> None:
    if fault == "future_stamp":
        h.stamp.sec = min(ns // NS + int(rng.integers(3600, 86400 * 365)), INT32_MAX)
    elif fault == "far_future_stamp":
        h.stamp.sec = INT32_MAX
    elif fault == "past_stamp":
        h.stamp.sec = int(rng.integers(1, 1000))
    elif fault == "negative_stamp":
        h.stamp.sec = -int(rng.integers(1, 2**31))
    elif fault == "bad_nanosec":
        h.stamp.nanosec = int(rng.integers(NS, UINT32_MAX))
    else:
        raise ValueError(f"unknown stamp fault {fault!r}")


STAMP_FAULTS = ("future_stamp", "far_future_stamp", "past_stamp", "negative_stamp", "bad_nanosec")
FAULTS: dict[str, tuple[str, ...]] = {
    "image": (
        "unknown_encoding",
        "non_colour_encoding",
        "step_too_small",
        "step_too_large",
        "data_too_short",
        "empty_data",
        "zero_size",
        "zero_height",
        "huge_dims",
        "width_data_mismatch",
        *STAMP_FAULTS,
    ),
    "tokens": (
        "wrong_encoding",
        "two_rows",
        "out_of_range",
        "too_few",
        "too_many",
        "empty",
        "data_too_short",
        "future_stamp",
        "bad_nanosec",
    ),
    "joint_state": (
        "nan",
        "inf",
        "huge",
        "wrong_names",
        "missing_joint",
        "duplicate_names",
        "fewer_positions",
        "more_positions",
        "velocity_mismatch",
        "effort_mismatch",
        "empty",
        "future_stamp",
        "far_future_stamp",
        "bad_nanosec",
    ),
    "trajectory": ("non_finite", "huge", "too_few", "too_many", "no_points", "ragged_points", *STAMP_FAULTS),
    "twist": ("nan", "inf", "huge"),
    "twist_stamped": ("nan", "inf", "huge", "future_stamp", "far_future_stamp", "bad_nanosec"),
    "raw_frame": ("empty", "truncated_header", "random_bytes", "bad_nanosec", "future_stamp", "far_future_stamp"),
}


def malformed_one(kind: str, fault: str, ns: int, shape: Shape, rng: np.random.Generator) -> Any:
    """One message of ``kind`` stamped ``ns`` (unless the fault is its stamp) carrying ``fault``."""
    if kind == "raw_frame":
        if fault in STAMP_FAULTS:
            image = valid_image(ns, shape, rng)
            _stamp_fault(fault, image.header, ns, rng)
            return serialize_message(image)
        return _raw_fault(fault, valid_raw_frame(ns, shape, rng), rng)
    msg = VALID[kind](ns, shape, rng)
    if fault in STAMP_FAULTS:
        _stamp_fault(fault, msg.header, ns, rng)
    elif kind == "image":
        _image_fault(fault, msg, rng)
    elif kind == "tokens":
        _token_fault(fault, msg, shape, rng)
    elif kind == "joint_state":
        _joint_fault(fault, msg, rng)
    elif kind == "trajectory":
        _trajectory_fault(fault, msg, rng)
    elif kind in ("twist", "twist_stamped"):
        _twist_fault(fault, msg if kind == "twist" else msg.twist, rng)
    else:
        raise ValueError(f"unknown message kind {kind!r}; known: {', '.join(FAULTS)}")
    return msg


def malformed(
    kind: str, rng: np.random.Generator, count: int, stamp: Callable[[], int], shape: Shape = Shape()
) -> Iterator[Malformed]:
    """``count`` malformed messages of ``kind``, the faults of ``FAULTS[kind]`` in turn."""
    faults = FAULTS[kind]
    for i in range(count):
        fault = faults[i % len(faults)]
        yield Malformed(f"{kind}/{fault}", malformed_one(kind, fault, stamp(), shape, rng))
