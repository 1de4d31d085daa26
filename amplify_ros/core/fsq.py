"""Finite Scalar Quantization (Mentzer et al., 2023), the quantiser of the motion tokenizer.

Each of the ``len(levels)`` channels is squashed into ``levels[i]`` evenly spaced values and
rounded with a straight-through gradient. A code is the tuple of channel values; its index is
the mixed-radix number of the per-channel level indices. There is no codebook to learn and no
auxiliary loss: every one of ``prod(levels)`` codes is reachable by construction.

Axis letters: B batch, ..., C = len(levels).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FSQ(nn.Module):
    def __init__(self, levels: list[int], eps: float = 1e-3) -> None:
        super().__init__()
        if not levels or any(level < 2 for level in levels):
            raise ValueError(f"FSQ levels must all be >= 2, got {levels}")
        self.levels = list(levels)
        lv = torch.tensor(levels, dtype=torch.float64)
        half = (lv - 1) * (1 + eps) / 2  # tanh range, slightly wider than the outer levels
        offset = torch.where(lv % 2 == 0, 0.5, 0.0)  # even level counts sit between integers
        basis = torch.cumprod(torch.tensor([1] + levels[:-1], dtype=torch.int64), 0)
        self.register_buffer("_half", half.float(), persistent=False)
        self.register_buffer("_offset", offset.float(), persistent=False)
        self.register_buffer("_shift", torch.atanh(offset / half).float(), persistent=False)
        self.register_buffer("_width", (lv // 2).float(), persistent=False)  # level index of 0
        self.register_buffer("_basis", basis, persistent=False)

    @property
    def dim(self) -> int:
        return len(self.levels)

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)

    @property
    def zero_index(self) -> int:
        """The index of the all-zero code (every dimension at its middle level): a code that
        carries no information, for ablations that withhold the motion codes."""
        return int(((self._width.long()) * self._basis).sum())

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (..., C) -> (codes (..., C) in [-1, 1] with straight-through gradient, indices (...))."""
        bounded = torch.tanh(z + self._shift) * self._half - self._offset
        rounded = bounded + (torch.round(bounded) - bounded).detach()
        codes = rounded / self._width
        return codes, self.codes_to_indices(codes)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        level = torch.round(codes * self._width + self._width).long()  # (..., C) in [0, L)
        return (level * self._basis).sum(dim=-1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        level = (indices.long().unsqueeze(-1) // self._basis) % torch.tensor(self.levels, device=indices.device)
        return (level.float() - self._width) / self._width
