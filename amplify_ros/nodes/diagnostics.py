"""Node health on /diagnostics: frame rate, latency percentiles, drops by reason, model state.

``Health`` is plain bookkeeping a callback can update in microseconds; ``DiagnosticsReporter``
turns it into a diagnostic_msgs/DiagnosticArray once a second, the standard way robot
dashboards (rqt_robot_monitor, Foxglove) show whether a node is doing its job.
"""

from __future__ import annotations

import time
from collections import Counter, deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node


class Health:
    def __init__(self, window: int = 300) -> None:
        self.processed = 0
        self.dropped: Counter[str] = Counter()
        self.latency_ms: deque[float] = deque(maxlen=window)
        self.stages_ms: dict[str, deque[float]] = {}  # e.g. forward_ms, inverse_ms of the model
        self._window = window
        self._stamps: deque[float] = deque(maxlen=window)
        self.status = "starting"  # one line: what the node is waiting for or doing
        self.error = ""  # last error; cleared by the next good frame
        self.info: dict[str, str] = {}  # node-specific values (the recorder's episode, the safety filter's counts, ...)

    def ok(self, latency_ms: float, stages_ms: dict[str, float] | None = None) -> None:
        self.processed += 1
        self.latency_ms.append(latency_ms)
        for name, ms in (stages_ms or {}).items():
            self.stages_ms.setdefault(name, deque(maxlen=self._window)).append(ms)
        self._stamps.append(time.monotonic())
        self.error = ""

    def drop(self, reason: str, error: str = "") -> None:
        self.dropped[reason] += 1
        if error:
            self.error = error

    def rate_hz(self) -> float:
        if len(self._stamps) < 2 or time.monotonic() - self._stamps[-1] > 2.0:
            return 0.0
        return (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0])

    def values(self) -> dict[str, str]:
        out = {"status": self.status, "processed": str(self.processed), "rate_hz": f"{self.rate_hz():.1f}"}
        for name, values in {
            "latency": self.latency_ms,
            **{k.removesuffix("_ms"): v for k, v in self.stages_ms.items()},
        }.items():
            for q in (50, 95):
                out[f"{name}_p{q}_ms"] = f"{np.percentile(np.asarray(values), q):.1f}" if len(values) else "n/a"
        out.update(self.info)
        out["dropped"] = str(sum(self.dropped.values()))
        out.update({f"dropped_{k}": str(v) for k, v in sorted(self.dropped.items())})
        if self.error:
            out["last_error"] = self.error
        return out


class DiagnosticsReporter:
    """Publishes ``health`` of ``node`` on /diagnostics every ``period`` seconds."""

    def __init__(self, node: Node, health: Health, period: float = 1.0) -> None:
        self._node = node
        self._health = health
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(period, self.publish)

    def publish(self) -> None:
        values = self._health.values()
        level = DiagnosticStatus.ERROR if self._health.error else DiagnosticStatus.OK
        if not self._health.error and self._health.status != "running":
            level = DiagnosticStatus.WARN
        status = DiagnosticStatus(
            level=level,
            name=f"amplify_ros: {self._node.get_name()}",
            message=self._health.error or self._health.status,
            hardware_id=self._node.get_fully_qualified_name(),
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(msg)
