"""Parameters declared with a description, type and range, cached as attributes and kept true.

rclpy enforces types, numeric ranges and read-only flags itself once they are in the
descriptor; this adds allowed string values and a per-parameter apply function, so a change at
run time either updates the node or is rejected with a reason. A parameter without an apply
function is read-only: it shapes what the node builds at start, so changing it later would lie.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter


class LiveParameters:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._choices: dict[str, Sequence[str]] = {}
        self._apply: dict[str, Callable[[Any], None]] = {}
        node.add_on_set_parameters_callback(self._on_set)

    def declare(
        self,
        name: str,
        default: Any,
        description: str,
        *,
        range: tuple[float, float] | None = None,  # noqa: A002 - the ROS term
        choices: Sequence[str] | None = None,
        apply: Callable[[Any], None] | None = None,
        empty: Parameter.Type = Parameter.Type.STRING_ARRAY,
    ) -> Any:
        """Declare ``name`` and return its value (from overrides, else ``default``); an empty list
        default is declared as ``empty`` (e.g. DOUBLE_ARRAY for limits)."""
        desc = ParameterDescriptor(name=name, description=description, read_only=apply is None)
        if range is not None:
            lo, hi = range
            if isinstance(default, float):
                desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
            else:
                desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        if choices is not None:
            self._choices[name] = tuple(choices)
            desc.additional_constraints = "one of: " + ", ".join(choices)
        if isinstance(default, (list, tuple)) and not default:
            value = self._node.declare_parameter(name, empty, desc).value
            value = [] if value is None else list(value)
        else:
            value = self._node.declare_parameter(name, default, desc).value
        reason = self._check(name, value)
        if reason:
            raise ValueError(reason)
        if apply is not None:
            self._apply[name] = apply  # after declaring: the declared value is the caller's to use
        return value

    def setter(self, attribute: str, owner: object | None = None) -> Callable[[Any], None]:
        """An apply function for a parameter only read: keeps ``<owner or the node>.<attribute>`` equal to it."""
        target = self._node if owner is None else owner
        return lambda value: setattr(target, attribute, value)

    def _check(self, name: str, value: Any) -> str:
        choices = self._choices.get(name)
        if choices is not None and value not in choices:
            return f"{name} must be one of {', '.join(choices)}; got {value!r}"
        return ""

    def _on_set(self, params: list[Parameter]) -> SetParametersResult:
        reasons = [self._check(p.name, p.value) for p in params]
        reasons = [r for r in reasons if r]
        if reasons:
            return SetParametersResult(successful=False, reason="; ".join(reasons))
        for p in params:
            if p.name in self._apply:
                try:
                    self._apply[p.name](p.value)
                except ValueError as err:  # the node could not take the value: keep the old one
                    return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)
