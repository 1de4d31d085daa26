"""Forward dynamics: current image(s) + task sentence -> the motion codes of the next frames.

Token sequence: [image patch tokens of every view ; sentence token ; SOS ; code_1 .. code_{T-1}]
and the transformer predicts code_1 .. code_T at the positions of SOS .. code_{T-1}. The
conditioning tokens attend to each other freely; code tokens are causal. Code inputs are the
FSQ code vectors (so neighbouring codes start out similar), projected to the model width.
Decoding is greedy (or top-k sampling) with a key/value cache: the prefix is encoded once and
each new code costs one token's worth of compute.

Optional parallel head (``parallel_depth`` > 0): ``code_len`` learned queries cross-attend to the
trunk's outputs of the conditioning tokens and predict every code at once, one pass instead of
``code_len``. The conditioning tokens never see the code tokens, so the teacher-forced pass that
trains the autoregressive head gives the parallel head its exact inference-time inputs: it trains
beside it (or alone on a trained model's frozen trunk: ``amplify-train --init-from --train-only``).

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
from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.core.transformer import Transformer, prefix_causal_mask


@dataclass
class ForwardConfig(TrunkConfig):
    # inputs / outputs
    image_size: int = IMAGE_SIZE
    views: int = 1
    code_len: int = 15
    fsq_levels: list[int] = field(default_factory=lambda: [8, 8, 6, 5])
    vocab: list[str] = field(default_factory=lambda: ["<unk>"])
    parallel_depth: int = 0  # layers of the parallel code head (0: none, autoregressive decoding only)

    def __post_init__(self) -> None:
        if self.code_len < 1 or self.parallel_depth < 0:
            raise ValueError(
                f"code_len must be >= 1 and parallel_depth >= 0, got {self.code_len}, {self.parallel_depth}"
            )


DECODINGS = ("autoregressive", "parallel")


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
        if cfg.parallel_depth:
            self.parallel_queries = nn.Parameter(torch.randn(cfg.code_len, d) * 0.02)
            self.parallel = Transformer(d, cfg.parallel_depth, cfg.heads, cfg.dropout, cross=True)
            self.parallel_head = nn.Linear(d, self.fsq.codebook_size)

    @property
    def decodings(self) -> tuple[str, ...]:
        return DECODINGS if self.cfg.parallel_depth else DECODINGS[:1]

    def _condition(self, images: torch.Tensor, sentences: list[str]) -> torch.Tensor:
        """(B, prefix + 1, D): image tokens, sentence token, SOS."""
        img = self.image_tokens(images)
        txt = self.text(sentences).unsqueeze(1)
        sos = self.sos.expand(len(img), 1, -1)
        return torch.cat([img, txt, sos], dim=1)

    def _trunk(self, images: torch.Tensor, sentences: list[str], codes: torch.Tensor) -> torch.Tensor:
        """Teacher-forced trunk outputs (B, prefix + T, D) for target code indices (B, T)."""
        prev = self.code_in(self.fsq.indices_to_codes(codes[:, :-1]))
        x = torch.cat([self._condition(images, sentences), prev], dim=1)
        x = x + self.pos[: x.shape[1]]
        n = x.shape[1]
        return self.trunk(x, mask=self._mask[:n, :n])

    def logits(self, images: torch.Tensor, sentences: list[str], codes: torch.Tensor) -> torch.Tensor:
        """Teacher-forced: target code indices (B, T) -> logits (B, T, codebook)."""
        return self.head(self._trunk(images, sentences, codes)[:, self.prefix :])

    def parallel_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Trunk outputs of the conditioning tokens and SOS (B, prefix + 1, D) -> logits (B, T, codebook)."""
        queries = self.parallel_queries.expand(len(context), -1, -1)
        return self.parallel_head(self.parallel(queries, context=context))

    def forward(
        self, images: torch.Tensor, sentences: list[str], codes: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        out = self._trunk(images, sentences, codes)
        heads = {"": self.head(out[:, self.prefix :])}
        if self.cfg.parallel_depth:
            heads["_parallel"] = self.parallel_logits(out[:, : self.prefix + 1])
        loss, metrics = 0.0, {}
        for name, logits in heads.items():
            logits = logits.float()  # the loss in float32, also under autocast
            part = F.cross_entropy(rearrange(logits, "b t k -> (b t) k"), codes.reshape(-1))
            loss = loss + part
            with torch.no_grad():
                metrics[f"code_acc{name}"] = (logits.argmax(-1) == codes).float().mean().item()
            metrics[f"ce{name}"] = part.item()
        return loss, {"loss": loss.item(), **metrics}

    @torch.inference_mode()
    def predict(
        self,
        images: torch.Tensor,
        sentences: list[str],
        top_k: int | None = None,
        temperature: float = 1.0,
        decoding: str = "autoregressive",
    ) -> torch.Tensor:
        """Codes (B, T): autoregressive, greedy or sampled from the top-k when ``top_k`` is set;
        or ``decoding="parallel"``: every code at once from the parallel head (most likely each)."""
        if decoding not in self.decodings:
            raise ValueError(f"decoding {decoding!r}: this forward model has {', '.join(self.decodings)}")
        cache: list[dict[str, torch.Tensor]] = [{} for _ in self.trunk.blocks]
        x = self._condition(images, sentences)
        n = x.shape[1]
        out = self.trunk(x + self.pos[:n], mask=self._mask[:n, :n], cache=cache)
        if decoding == "parallel":
            return self.parallel_logits(out).argmax(-1)
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
