"""Turning a stream of action chunks into one action per control step.

``TemporalEnsembler`` (ACT-style, as the paper executes): every step a new chunk is predicted;
the action for step s is the weighted mean of what each chunk still alive predicted for s, with
weight exp(-k * i) where i = 0 is the *oldest* prediction (k = 0.01 in the paper).
``OpenLoopChunks``: execute a chunk's first ``execute`` steps, then ask for a new one.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class TemporalEnsembler:
    def __init__(self, chunk: int, k: float = 0.01) -> None:
        if chunk < 1 or k < 0:
            raise ValueError(f"need chunk >= 1 and k >= 0, got chunk={chunk}, k={k}")
        self.chunk = chunk
        self.k = k
        self._chunks: deque[tuple[int, np.ndarray]] = deque()  # (step it was predicted at, (K, A))
        self._step = 0

    def reset(self) -> None:
        self._chunks.clear()
        self._step = 0

    @property
    def needs_chunk(self) -> bool:
        return True  # a fresh prediction every step

    def push(self, chunk: np.ndarray) -> None:
        """Add the chunk predicted at the current step (its row 0 is for this step)."""
        if chunk.ndim != 2 or len(chunk) < 1:
            raise ValueError(f"a chunk is (K, A), got {chunk.shape}")
        self._chunks.append((self._step, np.asarray(chunk, np.float64)))
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= self._step:
            self._chunks.popleft()

    def next_action(self) -> np.ndarray:
        """The action for the current step; advances to the next step."""
        preds = [(c[self._step - t]) for t, c in self._chunks if self._step - t < len(c)]
        if not preds:
            raise RuntimeError("no chunk covers this step: push one first")
        w = np.exp(-self.k * np.arange(len(preds)))  # oldest first
        self._step += 1
        return (w[:, None] * np.stack(preds)).sum(0) / w.sum()


class OpenLoopChunks:
    def __init__(self, chunk: int, execute: int | None = None) -> None:
        self.execute = execute or chunk
        if not 1 <= self.execute <= chunk:
            raise ValueError(f"execute must be in 1..{chunk}, got {execute}")
        self._queue: deque[np.ndarray] = deque()

    def reset(self) -> None:
        self._queue.clear()

    @property
    def needs_chunk(self) -> bool:
        return not self._queue

    def push(self, chunk: np.ndarray) -> None:
        self._queue = deque(np.asarray(chunk, np.float64)[: self.execute])

    def next_action(self) -> np.ndarray:
        if not self._queue:
            raise RuntimeError("the chunk is used up: push a new one first")
        return self._queue.popleft()


def make_chunker(
    kind: str, chunk: int, k: float = 0.01, execute: int | None = None
) -> TemporalEnsembler | OpenLoopChunks:
    """``temporal`` (a chunk every step, ensembled) or ``open-loop`` (``execute`` steps per chunk)."""
    if kind == "temporal":
        return TemporalEnsembler(chunk, k)
    if kind == "open-loop":
        return OpenLoopChunks(chunk, execute)
    raise ValueError(f"ensemble must be 'temporal' or 'open-loop', got {kind!r}")
