"""Forward dynamics: current image(s) + task sentence -> the motion codes of the next frames.

Token sequence: [image patch tokens of every view ; sentence token ; SOS ; code_1 .. code_{T-1}]
and the transformer predicts code_1 .. code_T at the positions of SOS .. code_{T-1}. The
conditioning tokens attend to each other freely; code tokens are causal. Code inputs are the
FSQ code vectors (so neighbouring codes start out similar), projected to the model width.
Decoding is greedy (or top-k sampling) with a key/value cache: the prefix is encoded once and
each new code costs one token's worth of compute.

Axis letters: B batch, V views, P patch tokens per view, T codes, C FSQ channels, D width.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from amplify_ros.core.fsq import FSQ
from amplify_ros.core.image_tokens import ImageTokens, TrunkConfig
from amplify_ros.core.text import WordBagEncoder
from amplify_ros.core.transformer import Transformer, prefix_causal_mask


@dataclass
class ForwardConfig(TrunkConfig):
    # inputs / outputs
    image_size: int = 128
    views: int = 1
    code_len: int = 15
    fsq_levels: list[int] = field(default_factory=lambda: [8, 8, 6, 5])
    vocab: list[str] = field(default_factory=lambda: ["<unk>"])

    def __post_init__(self) -> None:
        if self.code_len < 1:
            raise ValueError(f"code_len must be >= 1, got {self.code_len}")


class ForwardModel(nn.Module):
    def __init__(self, cfg: ForwardConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.fsq = FSQ(cfg.fsq_levels)
        self.image_tokens = ImageTokens(cfg.image_size, cfg.views, d, cfg.resnet_width, cfg.stem_pool)
        self.text = WordBagEncoder(cfg.vocab, d)
        self.sos = nn.Parameter(torch.randn(d) * 0.02)
        self.code_in = nn.Linear(self.fsq.dim, d)
        self.prefix = self.image_tokens.num_tokens + 1  # conditioning tokens
        self.pos = nn.Parameter(torch.randn(self.prefix + cfg.code_len, d) * 0.02)
        self.trunk = Transformer(d, cfg.depth, cfg.heads, cfg.dropout)
        self.head = nn.Linear(d, self.fsq.codebook_size)
        n = self.prefix + cfg.code_len
        self.register_buffer("_mask", prefix_causal_mask(self.prefix, n), persistent=False)

    def _condition(self, images: torch.Tensor, sentences: list[str]) -> torch.Tensor:
        """(B, prefix + 1, D): image tokens, sentence token, SOS."""
        img = self.image_tokens(images)
        txt = self.text(sentences).unsqueeze(1)
        sos = self.sos.expand(len(img), 1, -1)
        return torch.cat([img, txt, sos], dim=1)

    def logits(self, images: torch.Tensor, sentences: list[str], codes: torch.Tensor) -> torch.Tensor:
        """Teacher-forced: target code indices (B, T) -> logits (B, T, codebook)."""
        prev = self.code_in(self.fsq.indices_to_codes(codes[:, :-1]))
        x = torch.cat([self._condition(images, sentences), prev], dim=1)
        x = x + self.pos[: x.shape[1]]
        n = x.shape[1]
        out = self.trunk(x, mask=self._mask[:n, :n])
        return self.head(out[:, self.prefix :])

    def forward(self, images: torch.Tensor, sentences: list[str], codes: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logits = self.logits(images, sentences, codes).float()  # the loss in float32, also under autocast
        loss = F.cross_entropy(rearrange(logits, "b t k -> (b t) k"), codes.reshape(-1))
        with torch.no_grad():
            acc = (logits.argmax(-1) == codes).float().mean()
        return loss, {"loss": loss.item(), "code_acc": acc.item()}

    @torch.inference_mode()
    def predict(self, images: torch.Tensor, sentences: list[str], top_k: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Autoregressive codes (B, T): greedy, or sampled from the top-k when ``top_k`` is set."""
        cache: list[dict[str, torch.Tensor]] = [{} for _ in self.trunk.blocks]
        x = self._condition(images, sentences)
        n = x.shape[1]
        out = self.trunk(x + self.pos[:n], mask=self._mask[:n, :n], cache=cache)
        codes = []
        for t in range(self.cfg.code_len):
            logits = self.head(out[:, -1]) / temperature
            if top_k is None:
                nxt = logits.argmax(-1)
            else:
                top = logits.topk(top_k, dim=-1)
                pick = torch.multinomial(top.values.softmax(-1), 1).squeeze(-1)
                nxt = top.indices.gather(-1, pick.unsqueeze(-1)).squeeze(-1)
            codes.append(nxt)
            if t + 1 < self.cfg.code_len:
                tok = self.code_in(self.fsq.indices_to_codes(nxt)).unsqueeze(1) + self.pos[n + t]
                out = self.trunk(tok, cache=cache)
        return torch.stack(codes, dim=1)
