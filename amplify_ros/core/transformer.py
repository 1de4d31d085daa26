"""Pre-LayerNorm transformer blocks shared by every model, with an optional key/value cache.

Axis letters: B batch, N query tokens, M context tokens, D model width, H heads.
A boolean ``mask`` is True where attention is allowed: (N, M) or (B, N, M).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.dropout = dropout
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x (B, N, D); context (B, M, D) for cross-attention (None: self-attention).
        With ``cache`` (self-attention only), keys/values of earlier calls are prepended."""
        q = rearrange(self.to_q(x), "b n (h d) -> b h n d", h=self.heads)
        k, v = rearrange(
            self.to_kv(x if context is None else context), "b m (two h d) -> two b h m d", two=2, h=self.heads
        )
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)  # (B, 1, N, M): same for every head
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out(rearrange(out, "b h n d -> b n (h d)"))


class Block(nn.Module):
    """Self-attention, optional cross-attention to a context, then an MLP; each pre-normed and residual."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, cross: bool = False, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.cross = cross
        if cross:
            self.norm_cross = nn.LayerNorm(dim)
            self.cross_attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim, bias=False),
            nn.GELU(),
            nn.Linear(mlp_ratio * dim, dim, bias=False),
            nn.Dropout(dropout),
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), mask=mask, cache=cache))
        if self.cross:
            x = x + self.drop(self.cross_attn(self.norm_cross(x), context=context))
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dropout: float = 0.0, cross: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, dropout, cross) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.apply(_init_weights)
        for block in self.blocks:  # GPT-2: scale residual projections by depth
            for proj in (block.attn.out, block.mlp[2]) + ((block.cross_attn.out,) if cross else ()):
                nn.init.normal_(proj.weight, std=0.02 / (2 * depth) ** 0.5)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: list[dict[str, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, context, mask, None if cache is None else cache[i])
        return self.norm(x)


def causal_mask(n: int, device: torch.device | None = None) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def prefix_causal_mask(prefix: int, n: int, device: torch.device | None = None) -> torch.Tensor:
    """Causal over n tokens, except that the first ``prefix`` (conditioning) tokens see each other."""
    mask = causal_mask(n, device)
    mask[:prefix, :prefix] = True
    return mask


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
