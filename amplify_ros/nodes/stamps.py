"""Header stamps <-> numbers, one way everywhere: seconds for ages and comparisons, integer
nanoseconds where stamps must match exactly (pairing tokens with their image)."""

from __future__ import annotations

from rclpy.node import Node
from std_msgs.msg import Header


def stamp_ns(header: Header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def stamp_seconds(header: Header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


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
