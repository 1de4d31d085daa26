"""The QoS choices of amplify_ros, in one place (docs/interfaces.md lists them per topic)."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data


def image_qos(kind: str) -> QoSProfile:
    """'sensor_data': best effort, keep the newest frame only (cameras, the ROS default for
    drivers); 'reliable': keep the newest frame, delivered reliably (lockstep simulation, bags)."""
    if kind == "sensor_data":
        return qos_profile_sensor_data
    if kind == "reliable":
        return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
    raise ValueError(f"image QoS must be 'sensor_data' or 'reliable', got {kind!r}")


def latched_qos() -> QoSProfile:
    """Transient local, depth 1: a subscriber that joins late still gets the last message
    (the task sentence, static camera info)."""
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def recording_qos(offered: list[QoSProfile], depth: int) -> QoSProfile:
    """What a recorder subscribes with to hear every publisher of a topic (as ``ros2 bag
    record`` adapts): reliable only if all publishers are, transient local only if all are
    (then the last message published before subscribing arrives too)."""
    reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
    latched = all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
    return QoSProfile(
        depth=depth,
        history=HistoryPolicy.KEEP_LAST,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


def state_qos() -> QoSProfile:
    """Robot state: best effort, keep only the newest. A node busy with inference then reads the
    state of now, not a queue of older ones (depth 5, the sensor-data default, left the policy
    node 100+ ms behind at 30 Hz)."""
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
