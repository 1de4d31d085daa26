"""Motion tokenizer: point-track velocities -> FSQ motion codes -> per-point displacement classes.

Encoder: velocities of all views at one time step form one token; a causal transformer and FSQ
turn the (horizon-1) tokens into discrete codes. Decoder: learned time queries cross-attend to
the codes; for every (view, point, step) a small MLP of [time feature, point embedding, view
embedding (, the image around the point)], added to the time feature, gives logits over a
window of displacements, trained with cross-entropy.

Choices beyond the paper's code (each measured, see docs/motion_prior.md):

- the class of a step is the change of the *rounded displacement from the start point*, not
  the difference of rounded absolute positions, so a perfectly classified track is within half
  a class step of the truth instead of a whole one;
- ``class_px``: the size of a class step (the paper: 1 px; at 20 Hz many steps are sub-pixel);
- ``factorised``: row and column classes as two ``window``-way distributions (2 x window
  logits) instead of one joint ``window ** 2``-way one: the decoder's cost is its logits;
- ``decoding = "expected"``: a step decodes to the mean displacement of its class
  distribution, not its most likely class, which keeps sub-class motion;
- ``image_cond``: the decoder sees the image at each point's start (the official code's
  ``cond_on_img``, there on the encoder): the codes then need only say how things move, not
  where the moving things are. The encoder never sees the image, so the codes of a window are
  a function of its tracks alone and the forward model's targets do not change.

Axis letters: B batch, V views, S track steps (horizon), T = S - 1 velocity steps / codes,
N points, K logits per point and step, A = 2 axes (row, col), W classes per axis,
C FSQ channels, D width, E point-MLP width.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from amplify_ros.core.fsq import FSQ
from amplify_ros.core.resnet import normalise_images
from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.core.transformer import Transformer, causal_mask

DECODINGS = ("argmax", "expected")


@dataclass
class TokenizerConfig:
    # inputs / outputs
    image_size: int = IMAGE_SIZE  # square images; displacement classes are pixels of this size
    views: int = 1
    num_points: int = 400
    horizon: int = 16
    window: int = 15  # displacement classes per axis (odd): +-(window // 2) * class_px px per step
    class_px: float = 1.0  # pixels per displacement class
    factorised: bool = False  # row and column classes apart (2 x window logits) or joint (window ** 2)
    decoding: str = "expected"  # a step's displacement: "expected" over its classes or the "argmax" class
    # architecture
    dim: int = 256
    enc_depth: int = 2
    dec_depth: int = 1
    heads: int = 8
    point_mlp_dim: int = 256
    fsq_levels: list[int] = field(default_factory=lambda: [8, 8, 6, 5])
    dropout: float = 0.1
    image_cond: bool = False  # decoder sees the image around each point's start
    image_channels: int = 64  # width of the decoder's small image encoder
    # training
    view_weights: list[float] | None = None  # loss weight per view (paper: 0.9 / 0.1)
    train_points: int | None = None  # points per sample in the decoder loss (None: all)
    moving_share: float = 0.0  # of those, the share drawn from tracks that move (> 1 px), as far as there are any
    still_weight: float = 1.0  # loss weight of the "no motion" class (the paper's unused weighted_ce)

    def __post_init__(self) -> None:
        if self.window % 2 == 0 or self.window < 3:
            raise ValueError(f"window must be odd and >= 3, got {self.window}")
        if self.class_px <= 0:
            raise ValueError(f"class_px must be > 0, got {self.class_px}")
        if self.decoding not in DECODINGS:
            raise ValueError(f"decoding must be one of {DECODINGS}, got {self.decoding!r}")
        if self.horizon < 2:
            raise ValueError(f"horizon must be >= 2, got {self.horizon}")
        if self.view_weights is not None and len(self.view_weights) != self.views:
            raise ValueError(f"view_weights has {len(self.view_weights)} entries for {self.views} views")
        if self.train_points is not None and not 0 < self.train_points <= self.num_points:
            raise ValueError(f"train_points must be in 1..{self.num_points}, got {self.train_points}")
        if not 0.0 <= self.moving_share <= 1.0:
            raise ValueError(f"moving_share must be in [0, 1], got {self.moving_share}")

    @property
    def code_len(self) -> int:
        return self.horizon - 1

    @property
    def num_logits(self) -> int:
        return 2 * self.window if self.factorised else self.window**2


def displacement_steps(tracks: torch.Tensor, image_size: int, class_px: float, window: int) -> torch.Tensor:
    """tracks (..., S, N, 2) normalised -> each step's move (..., S-1, N, 2) in whole classes,
    in [-(window // 2), window // 2]: the change of the rounded displacement from the start."""
    px = (tracks.clamp(-1, 1) + 1) * (image_size / 2)
    rounded = torch.round((px - px[..., :1, :, :]) / class_px)
    r = window // 2
    return (rounded[..., 1:, :, :] - rounded[..., :-1, :, :]).clamp(-r, r).long()


def steps_to_tracks(steps: torch.Tensor, start: torch.Tensor, image_size: int, class_px: float) -> torch.Tensor:
    """steps (..., T, N, 2) in classes (fractional ones too), start (..., N, 2) normalised ->
    tracks (..., T+1, N, 2) normalised."""
    moved = torch.cumsum(steps.float() * (class_px * 2 / image_size), dim=-3) + start.unsqueeze(-3)
    return torch.cat([start.unsqueeze(-3), moved], dim=-3)


def _log_softmax(x: torch.Tensor) -> torch.Tensor:
    """log_softmax over the last axis; 5x faster than torch's on CPU for our short class axes."""
    shifted = x - x.detach().amax(-1, keepdim=True)
    return shifted - shifted.exp().sum(-1, keepdim=True).log()


def _take_points(x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """x (B, V, N, F), points (B, N') -> (B, V, N', F): each sample's own points."""
    index = points[:, None, :, None].expand(-1, x.shape[1], -1, x.shape[-1])
    return x.gather(2, index)


class PointImageFeatures(nn.Module):
    """A small strided CNN (1/8 resolution) sampled bilinearly at each point: what is there."""

    def __init__(self, channels: int, out_dim: int) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c // 2, 4, 2, 1),
            nn.GELU(),
            nn.Conv2d(c // 2, c, 3, 2, 1),
            nn.GELU(),
            nn.Conv2d(c, c, 3, 2, 1),
            nn.GELU(),
        )
        self.proj = nn.Linear(c, out_dim)

    def forward(self, images: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """images (B, V, H, W, 3) uint8, points (B, V, N, 2) normalised (row, col) -> (B, V, N, E)."""
        b = images.shape[0]
        fmap = self.net(normalise_images(rearrange(images, "b v h w c -> (b v) h w c")))
        where = rearrange(points.flip(-1), "b v n c -> (b v) 1 n c")  # grid_sample takes (x, y) = (col, row)
        feats = F.grid_sample(fmap, where.to(fmap.dtype), align_corners=False)  # (B*V, C, 1, N)
        return self.proj(rearrange(feats, "(b v) c 1 n -> b v n c", b=b))


class MotionTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, t = cfg.dim, cfg.code_len
        self.fsq = FSQ(cfg.fsq_levels)
        self.proj_in = nn.Linear(cfg.views * cfg.num_points * 2, d)
        self.enc_pos = nn.Parameter(torch.randn(t, d) * 0.02)
        self.encoder = Transformer(d, cfg.enc_depth, cfg.heads, cfg.dropout)
        self.to_fsq = nn.Linear(d, self.fsq.dim)
        self.from_fsq = nn.Linear(self.fsq.dim, d)
        self.dec_pos = nn.Parameter(torch.randn(t, d) * 0.02)
        self.decoder = Transformer(d, cfg.dec_depth, cfg.heads, cfg.dropout, cross=True)
        e = cfg.point_mlp_dim
        self.time_in = nn.Linear(d, e)
        self.point_emb = nn.Parameter(torch.randn(cfg.num_points, e) * 0.02)
        self.view_emb = nn.Parameter(torch.randn(cfg.views, e) * 0.02)
        self.image_features = PointImageFeatures(cfg.image_channels, e) if cfg.image_cond else None
        self.point_out = nn.Linear(e, d)
        self.head = nn.Linear(d, cfg.num_logits)
        self.register_buffer("_enc_mask", causal_mask(t), persistent=False)
        r = cfg.window // 2
        self.register_buffer("_offsets", torch.arange(-r, r + 1, dtype=torch.float32), persistent=False)

    @property
    def codebook_size(self) -> int:
        return self.fsq.codebook_size

    def encode(self, tracks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tracks (B, V, S, N, 2) -> (codes (B, T, C) with straight-through gradient, indices (B, T))."""
        # velocities in pixels per step: O(1) inputs (in normalised units they are ~0.01 and the
        # encoder collapses onto a single code)
        vel = (tracks[:, :, 1:] - tracks[:, :, :-1]) * (self.cfg.image_size / 2)
        x = self.proj_in(rearrange(vel, "b v t n c -> b t (v n c)")) + self.enc_pos
        x = self.encoder(x, mask=self._enc_mask)
        return self.fsq(self.to_fsq(x))

    def decode_logits(
        self,
        codes: torch.Tensor,
        start: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
        points: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """codes (B, T, C) -> logits (B, V, T, N', K) for ``points`` (B, N') point indices per
        sample (None: all). With ``image_cond``, ``images`` (B, V, H, W, 3) and the start points
        (B, V, N, 2) are needed."""
        ctx = self.from_fsq(codes)
        x = self.decoder(self.dec_pos.expand(len(codes), -1, -1), context=ctx)  # (B, T, D)
        point = self.point_emb.unsqueeze(0) if points is None else self.point_emb[points]  # (1 or B, N', E)
        hidden = (
            rearrange(self.time_in(x), "b t e -> b 1 t 1 e")
            + rearrange(self.view_emb, "v e -> 1 v 1 1 e")
            + rearrange(point, "b n e -> b 1 1 n e")
        )  # (B, V, T, N', E)
        if self.image_features is not None:
            if images is None or start is None:
                raise ValueError("this tokenizer decodes with the image (image_cond): pass images and start points")
            where = start if points is None else _take_points(start, points)
            hidden = hidden + rearrange(self.image_features(images, where), "b v n e -> b v 1 n e")
        hidden = torch.relu(hidden)
        # head(x + point_out(hidden)) without materialising (B, V, T, N', D): the maps are linear
        fused_w = self.head.weight @ self.point_out.weight  # (K, E)
        fused_b = self.head.weight @ self.point_out.bias  # (K,)
        base = rearrange(self.head(x), "b t k -> b 1 t 1 k")
        return (base + hidden @ fused_w.T + fused_b).float()  # class probabilities need float32 under autocast

    def _training_points(self, steps: torch.Tensor) -> torch.Tensor:
        """(B, train_points) point indices per sample: ``moving_share`` of them from tracks that
        move (in random order; static ones fill in when too few move), the rest uniformly."""
        cfg = self.cfg
        b, n = steps.shape[0], cfg.num_points
        n_moving = round(cfg.train_points * cfg.moving_share)
        moves = (steps != 0).any(-1).any(-2).any(1)  # (B, N): any step of any view moves
        key = torch.rand(b, n, device=steps.device) + moves.float() * (n_moving > 0)
        first = key.topk(n_moving, dim=-1).indices
        key = torch.rand(b, n, device=steps.device).scatter(-1, first, -1.0)  # taken ones last
        rest = key.topk(cfg.train_points - n_moving, dim=-1).indices
        return torch.cat([first, rest], dim=-1)

    def _log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., K) -> log-probabilities (..., A, W) per axis (marginals of the joint classes)."""
        w = self.cfg.window
        if self.cfg.factorised:
            return _log_softmax(logits.unflatten(-1, (2, w)))
        joint = _log_softmax(logits).unflatten(-1, (w, w))  # (..., row class, col class)
        return torch.stack([joint.logsumexp(-1), joint.logsumexp(-2)], dim=-2)

    def _class_loss(self, log_p: torch.Tensor, logits: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """Cross-entropy per (B, V, T, N) of the true steps (B, V, T, N, A) given the per-axis
        log-probabilities (B, V, T, N, A, W); factorised: summed over the axes."""
        cfg, r, w = self.cfg, self.cfg.window // 2, self.cfg.window
        cls = steps + r
        if cfg.factorised:
            ce = -log_p.gather(-1, cls.unsqueeze(-1)).squeeze(-1)  # (B, V, T, N, A)
            still = (steps == 0).all(-1, keepdim=True)
        else:
            joint = (cls[..., 0] * w + cls[..., 1]).unsqueeze(-1)
            ce = -_log_softmax(logits).gather(-1, joint)  # (B, V, T, N, 1)
            still = joint == r * (w + 1)
        if cfg.still_weight != 1.0:
            ce = ce * torch.where(still, cfg.still_weight, 1.0)
        return ce.sum(-1)

    def logits_to_steps(self, logits: torch.Tensor, decoding: str | None = None) -> torch.Tensor:
        """(..., K) -> each step's move (..., 2) in classes: the argmax class, or the expected one."""
        decoding = decoding or self.cfg.decoding
        if decoding not in DECODINGS:
            raise ValueError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
        log_p = self._log_probs(logits)  # (..., A, W)
        if decoding == "expected":
            return log_p.exp() @ self._offsets
        return self._offsets[log_p.argmax(-1)]

    def forward(
        self, tracks: torch.Tensor, images: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of the reconstructed displacement classes; tracks (B, V, S, N, 2)."""
        cfg = self.cfg
        codes, indices = self.encode(tracks)
        steps = displacement_steps(tracks, cfg.image_size, cfg.class_px, cfg.window)  # (B, V, T, N, 2)
        points = None
        if self.training and cfg.train_points is not None and cfg.train_points < cfg.num_points:
            points = self._training_points(steps)
            steps = rearrange(
                _take_points(rearrange(steps, "b v t n a -> b v n (t a)"), points), "b v n (t a) -> b v t n a", a=2
            )
        logits = self.decode_logits(codes, tracks[:, :, 0], images, points)
        log_p = self._log_probs(logits)  # (B, V, T, N, A, W)
        ce = self._class_loss(log_p, logits, steps)  # (B, V, T, N)
        per_view = ce.mean(dim=(0, 2, 3))  # (V,)
        weights = torch.tensor(cfg.view_weights or [1.0 / cfg.views] * cfg.views, device=ce.device)
        loss = (per_view * weights).sum()
        with torch.no_grad():
            right = (self._offsets[log_p.argmax(-1)] == steps).all(-1)  # (B, V, T, N)
            moving = (steps != 0).any(-1)
            moving_acc = right[moving].float().mean() if moving.any() else torch.tensor(float("nan"))
            usage = torch.unique(indices).numel() / self.codebook_size
        return loss, {
            "loss": loss.item(),
            "class_acc": right.float().mean().item(),
            "moving_class_acc": moving_acc.item(),
            "code_usage": usage,
        }

    @torch.inference_mode()
    def reconstruct(
        self, tracks: torch.Tensor, images: torch.Tensor | None = None, decoding: str | None = None
    ) -> torch.Tensor:
        """tracks (B, V, S, N, 2) -> tracks decoded from their own codes, same shape."""
        codes, _ = self.encode(tracks)
        return self.decode(codes, tracks[:, :, 0], images, decoding)

    @torch.inference_mode()
    def decode(
        self, codes: torch.Tensor, start: torch.Tensor, images: torch.Tensor | None = None, decoding: str | None = None
    ) -> torch.Tensor:
        """codes (B, T, C), start points (B, V, N, 2) (, images (B, V, H, W, 3)) -> tracks (B, V, S, N, 2)."""
        steps = self.logits_to_steps(self.decode_logits(codes, start, images), decoding)
        return steps_to_tracks(steps, start, self.cfg.image_size, self.cfg.class_px)

    @torch.inference_mode()
    def decode_indices(
        self,
        indices: torch.Tensor,
        start: torch.Tensor,
        images: torch.Tensor | None = None,
        decoding: str | None = None,
    ) -> torch.Tensor:
        return self.decode(self.fsq.indices_to_codes(indices), start, images, decoding)
