"""Header stamps <-> numbers, one way everywhere: seconds for ages and comparisons, integer
nanoseconds where stamps must match exactly (pairing tokens with their image)."""

from __future__ import annotations

from rclpy.node import Node
from std_msgs.msg import Header

NS_PER_S = 1_000_000_000


def stamp_ns(header: Header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def stamp_seconds(header: Header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def stamp_problem(header: Header, now: float, max_ahead: float) -> tuple[str, str]:
    """("", "") for a usable stamp, else (kind, reason): "bad_stamp" for negative seconds or
    nanoseconds of a second or more (a corrupted header), "future_stamp" for a stamp more than ``max_ahead``
    seconds after ``now`` (another clock, or garbage: nothing after it would look newer)."""
    if header.stamp.nanosec >= NS_PER_S or header.stamp.sec < 0:
        return "bad_stamp", (
            f"header stamp {header.stamp.sec} s {header.stamp.nanosec} ns is corrupt (seconds must not "
            f"be negative, nanoseconds below {NS_PER_S})"
        )
    return future_problem(stamp_seconds(header), now, max_ahead)


def usable_seconds(header: Header) -> float | None:
    """The stamp in seconds, or None when it is corrupt (``stamp_problem``'s "bad_stamp")."""
    return None if stamp_problem(header, 0.0, float("inf"))[0] else stamp_seconds(header)


def future_problem(stamp: float, now: float, max_ahead: float) -> tuple[str, str]:
    """("future_stamp", reason) for a stamp (s) more than ``max_ahead`` after ``now``, else ("", "")."""
    ahead = stamp - now
    if ahead > max_ahead:
        return "future_stamp", f"stamped {ahead:.3f} s in the future (another clock? at most {max_ahead:g} s ahead)"
    return "", ""


def header_at(ns: int, frame_id: str = "") -> Header:
    """A header stamped ``ns`` nanoseconds (on whichever clock the caller means)."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
    return header


def now_seconds(node: Node) -> float:
    """The node's clock: simulation time under use_sim_time."""
    return node.get_clock().now().nanoseconds * 1e-9


def received_seconds(node: Node, header: Header) -> float:
    """A message's stamp, or the node's now for drivers that leave it zero."""
    return stamp_seconds(header) or now_seconds(node)
