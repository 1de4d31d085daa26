"""Inverse dynamics (and its BC twin): image + proprioception + motion codes -> an action chunk.

Learned action queries, one per step of the chunk, attend to each other and cross-attend to
the conditioning tokens: image patch tokens, one proprioception token and the motion-code
tokens. With ``use_codes=False`` and ``use_text=True`` the same network is the behaviour-cloning
baseline: the task sentence replaces the motion codes.

Actions are modelled as in the paper's code: tanh-bounded means of a normal distribution
truncated to [-1, 1] with a fixed (or learned) standard deviation, trained by negative
log-likelihood weighted by ``discount ** k`` for chunk step k. Actions and proprioception are
normalised with statistics saved in the checkpoint (actions to [-1, 1] by their range).

Axis letters: B batch, V views, T codes, C FSQ channels, K chunk steps, A action dim, D width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from amplify_ros.core.fsq import FSQ
from amplify_ros.core.image_tokens import ImageTokens, TrunkConfig
from amplify_ros.core.text import WordBagEncoder
from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.core.transformer import Transformer


@dataclass
class InverseConfig(TrunkConfig):
    # inputs / outputs
    image_size: int = IMAGE_SIZE
    views: int = 1
    proprio_dim: int = 4
    action_dim: int = 4
    chunk: int = 16
    code_len: int = 15
    fsq_levels: list[int] = field(default_factory=lambda: [8, 8, 6, 5])
    use_codes: bool = True
    use_text: bool = False
    vocab: list[str] = field(default_factory=lambda: ["<unk>"])
    # normalisation (filled from the training data)
    action_low: list[float] = field(default_factory=list)
    action_high: list[float] = field(default_factory=list)
    proprio_mean: list[float] = field(default_factory=list)
    proprio_std: list[float] = field(default_factory=list)
    # objective
    std: float | None = 0.1  # fixed std of the truncated normal; None: learned per dimension
    discount: float = 0.99

    def __post_init__(self) -> None:
        if not (self.use_codes or self.use_text):
            raise ValueError("the model needs motion codes (use_codes) or the task sentence (use_text)")
        for name in ("action_low", "action_high"):
            if getattr(self, name) and len(getattr(self, name)) != self.action_dim:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for action_dim {self.action_dim}")


def truncated_normal_nll(
    x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, low: float = -1.0, high: float = 1.0
) -> torch.Tensor:
    """-log p(x) of N(mean, std) truncated to [low, high], elementwise."""
    normal = torch.distributions.Normal(mean, std)
    mass = (normal.cdf(torch.full_like(mean, high)) - normal.cdf(torch.full_like(mean, low))).clamp_min(1e-6)
    return -(normal.log_prob(x) - torch.log(mass))


class InverseModel(nn.Module):
    def __init__(self, cfg: InverseConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.image_tokens = ImageTokens(cfg.image_size, cfg.views, d, cfg.resnet_width, cfg.stem_pool)
        self.proprio_in = nn.Linear(cfg.proprio_dim, d)
        if cfg.use_codes:
            self.fsq = FSQ(cfg.fsq_levels)
            self.code_in = nn.Linear(self.fsq.dim, d)
            self.code_pos = nn.Parameter(torch.randn(cfg.code_len, d) * 0.02)
        if cfg.use_text:
            self.text = WordBagEncoder(cfg.vocab, d)
        self.queries = nn.Parameter(torch.randn(cfg.chunk, d) * 0.02)
        self.decoder = Transformer(d, cfg.depth, cfg.heads, cfg.dropout, cross=True)
        self.mean_out = nn.Linear(d, cfg.action_dim)
        self.log_std = nn.Parameter(
            torch.full((cfg.action_dim,), math.log(cfg.std or 0.1)), requires_grad=cfg.std is None
        )
        self._norm("action_low", cfg.action_low, -1.0)
        self._norm("action_high", cfg.action_high, 1.0)
        self._norm("proprio_mean", cfg.proprio_mean, 0.0, cfg.proprio_dim)
        self._norm("proprio_std", cfg.proprio_std, 1.0, cfg.proprio_dim)
        self.register_buffer("_weights", cfg.discount ** torch.arange(cfg.chunk, dtype=torch.float32), persistent=False)

    def _norm(self, name: str, values: list[float], default: float, dim: int | None = None) -> None:
        n = dim or self.cfg.action_dim
        self.register_buffer("_" + name, torch.tensor(values or [default] * n, dtype=torch.float32), persistent=False)

    def normalise_actions(self, actions: torch.Tensor) -> torch.Tensor:
        span = (self._action_high - self._action_low).clamp_min(1e-6)
        return ((actions - self._action_low) / span * 2 - 1).clamp(-1 + 1e-4, 1 - 1e-4)

    def unnormalise_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions + 1) / 2 * (self._action_high - self._action_low) + self._action_low

    def embed_text(self, sentences: list[str] | None) -> torch.Tensor | None:
        """The sentence vectors (B, D) the model conditions on; None when it takes no sentence."""
        return self.text(sentences) if self.cfg.use_text else None

    def means(
        self, images: torch.Tensor, proprio: torch.Tensor, codes: torch.Tensor | None, text: torch.Tensor | None
    ) -> torch.Tensor:
        """Normalised action means (B, K, A) in (-1, 1); ``text`` from ``embed_text``."""
        p = (proprio - self._proprio_mean) / self._proprio_std.clamp_min(1e-6)
        ctx = [self.image_tokens(images), self.proprio_in(p).unsqueeze(1)]
        if self.cfg.use_codes:
            ctx.append(self.code_in(self.fsq.indices_to_codes(codes)) + self.code_pos)
        if self.cfg.use_text:
            ctx.append(text.unsqueeze(1))
        x = self.decoder(self.queries.expand(len(proprio), -1, -1), context=torch.cat(ctx, dim=1))
        return torch.tanh(self.mean_out(x))

    def forward(
        self,
        images: torch.Tensor,
        proprio: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor,
        codes: torch.Tensor | None = None,
        sentences: list[str] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Discounted truncated-normal NLL of the (unnormalised) action chunk (B, K, A); mask (B, K)."""
        mean = self.means(images, proprio, codes, self.embed_text(sentences))
        target = self.normalise_actions(actions)
        nll = truncated_normal_nll(target, mean, self.log_std.exp().expand_as(mean)).sum(-1)  # (B, K)
        w = self._weights * mask
        loss = (nll * w).sum() / w.sum().clamp_min(1e-6)
        with torch.no_grad():
            err = ((self.unnormalise_actions(mean) - actions).abs().mean(-1) * mask).sum() / mask.sum().clamp_min(1)
        return loss, {"loss": loss.item(), "action_l1": err.item()}

    @torch.inference_mode()
    def predict(
        self,
        images: torch.Tensor,
        proprio: torch.Tensor,
        codes: torch.Tensor | None = None,
        sentences: list[str] | None = None,
    ) -> torch.Tensor:
        """The action chunk (B, K, A), in the robot's units (the distribution's mean)."""
        return self.unnormalise_actions(self.means(images, proprio, codes, self.embed_text(sentences)))
