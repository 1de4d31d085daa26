"""Frames in, commands out: how a policy is run, apart from where the frames come from.

policy_node, inverse_node and the closed-loop evaluator all act the same way: ask the policy for
a chunk when the chunk scheduler (temporal ensembling or open loop) needs one, refuse a chunk
that is not finite, forget the chunks predicted before a gap in the frames, and in ``async``
forward mode take the motion codes from a background thread (``MotionWorker``) instead of
predicting them in line. The nodes add ROS (topics, parameters, diagnostics); the evaluator
adds the simulator. Nothing here imports rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amplify_ros.control.chunking import make_chunker
from amplify_ros.control.motion_worker import MotionWorker, StampedCodes
from amplify_ros.core.policy import ChunkPrediction, Policy

CODES_WAIT = 2.0  # s: async mode waits this long for the first codes of an episode (a forward pass)


@dataclass
class Step:
    """What one frame gave: a command, or the reason there is none."""

    action: np.ndarray | None = None  # (A,) the command for this frame
    prediction: ChunkPrediction | None = None  # the chunk predicted at this frame, if one was
    background: StampedCodes | None = None  # async: the codes it was predicted with
    refusal: tuple[str, str] | None = None  # (reason, detail): nothing to send
    stages_ms: dict[str, float] = field(default_factory=dict)  # model times of this frame


@dataclass(frozen=True)
class RunnerSettings:
    ensemble: str = "temporal"  # or "open-loop"
    ensemble_k: float = 0.01
    execute_steps: int | None = None  # open loop: steps of a chunk before predicting again (None: all)
    forward_mode: str = "sync"  # or "async": codes from a background thread
    max_codes_age: float = 0.2  # async: codes from a frame at most this much older (s)
    max_gap: float | None = None  # frames further apart than this (s) drop the chunks held (None: never)


class PolicyRunner:
    def __init__(self, policy: Policy, settings: RunnerSettings) -> None:
        self.policy = policy
        self.settings = settings
        execute = min(settings.execute_steps or policy.chunk, policy.chunk)
        self.chunker = make_chunker(settings.ensemble, policy.chunk, settings.ensemble_k, execute)
        self._last_stamp: float | None = None
        asynchronous = settings.forward_mode == "async" and policy.motion is not None
        self.worker = MotionWorker(policy.motion.predict) if asynchronous else None

    @property
    def needs_chunk(self) -> bool:
        """Whether the next step predicts a chunk (so codes from elsewhere would be used)."""
        return self.chunker.needs_chunk

    def reset(self) -> None:
        """A new episode or task: forget the chunks, the waiting frame and the codes."""
        self.chunker.reset()
        self._last_stamp = None
        if self.worker is not None:
            self.worker.reset()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()

    def step(
        self,
        views: np.ndarray,
        proprio: np.ndarray,
        sentence: str,
        stamp: float,
        codes: np.ndarray | None = None,
        source: Any = None,
    ) -> Step:
        """Act on one frame (``views`` (V, S, S, 3), ``proprio`` (P,), stamped ``stamp`` s).
        ``codes``: motion codes from elsewhere (a forward node, an oracle) instead of the
        policy's own; ``source``: kept with the frame's background codes (async), e.g. its header."""
        gap = self.settings.max_gap
        if self._last_stamp is not None and gap is not None and stamp - self._last_stamp > gap:
            self.chunker.reset()  # what it holds was predicted from frames before the gap
        self._last_stamp = stamp
        out = Step()
        if self.worker is not None and codes is None:  # async: every frame goes to the forward model's thread
            self.worker.submit(views, sentence, stamp, source)
            if self.chunker.needs_chunk:
                out.background = self.worker.codes_for(stamp, sentence, self.settings.max_codes_age, CODES_WAIT)
                if out.background is None:
                    out.refusal = (
                        "no_codes",
                        self.worker.error
                        or f"no motion codes from within max_codes_age "
                        f"({self.settings.max_codes_age} s) of the frame after waiting {CODES_WAIT} s",
                    )
                    return out
                codes = out.background.codes
        if self.chunker.needs_chunk:
            try:
                pred = self.policy.predict(views, proprio, sentence, codes)
            except ValueError as err:
                out.refusal = ("bad_input", str(err))
                return out
            if not np.all(np.isfinite(pred.actions)):
                self.chunker.reset()
                out.refusal = ("nonfinite_action", "the model produced a non-finite action chunk; nothing published")
                return out
            self.chunker.push(pred.actions)
            out.prediction = pred
            out.stages_ms = {k: v for k, v in pred.timings_ms.items() if k != "total_ms"}
            if out.background is not None:
                out.stages_ms.update(
                    forward_ms=out.background.forward_ms, codes_age_ms=(stamp - out.background.stamp) * 1e3
                )
        out.action = self.chunker.next_action()
        return out
