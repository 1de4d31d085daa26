"""The deployable policy: image + proprioception + task sentence -> an action chunk.

AMPLIFY: the forward model predicts motion codes from the image and sentence, the inverse
model turns codes + image + proprioception into actions. BC: one model from image,
proprioception and sentence. Both load from one checkpoint directory (an inverse checkpoint
carries its forward model in ``forward/``) and time each stage, so the ROS nodes and the
evaluator share exactly this code. ``MotionPrior`` is the forward half alone (forward_node):
the policy holds one when it predicts its own codes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from amplify_ros.core.checkpoint import CheckpointError, load_checkpoint, resolve
from amplify_ros.core.forward_model import ForwardModel
from amplify_ros.core.inverse_model import InverseModel
from amplify_ros.core.tokenizer import MotionTokenizer
from amplify_ros.core.tracks import grid_queries


def check_images(images: np.ndarray, views: int, size: int) -> None:
    """ValueError unless ``images`` is (views, size, size, 3) uint8: what a model takes."""
    want = (views, size, size, 3)
    if images.shape != want or images.dtype != np.uint8:
        raise ValueError(f"images must be {want} uint8, got {images.shape} {images.dtype}")


class MotionPrior:
    """Forward model (+ its tokenizer, when the checkpoint carries one): image + sentence ->
    motion codes -> the grid tracks those codes stand for."""

    def __init__(self, forward: ForwardModel, tokenizer: MotionTokenizer | None = None, device: str = "cpu") -> None:
        self.forward = forward.eval()
        self.tokenizer = tokenizer.eval() if tokenizer is not None else None
        self.device = torch.device(device)
        self._code_decoding = "autoregressive"

    @property
    def code_decoding(self) -> str:
        """How codes are predicted: "autoregressive" (greedy, one pass per code) or "parallel"
        (all at once; needs a forward model trained with a parallel head)."""
        return self._code_decoding

    @code_decoding.setter
    def code_decoding(self, value: str) -> None:
        if value not in self.forward.decodings:
            raise ValueError(f"code decoding {value!r}: this forward model has {', '.join(self.forward.decodings)}")
        self._code_decoding = value

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "MotionPrior":
        """A forward checkpoint or run, or a policy checkpoint (its ``forward/`` is used)."""
        path = resolve(Path(path))
        if (path / "forward" / "model.yaml").is_file():
            path = path / "forward"
        forward = load_checkpoint(path, "forward", device)[0]
        tokenizer = None
        if (path / "tokenizer").is_dir():  # optional: only needed to draw predicted tracks
            tokenizer = load_checkpoint(path / "tokenizer", "tokenizer", device)[0]
        return cls(forward, tokenizer, device)

    @property
    def image_size(self) -> int:
        return self.forward.cfg.image_size

    @property
    def views(self) -> int:
        return self.forward.cfg.views

    @torch.inference_mode()
    def predict(self, images: np.ndarray, sentence: str) -> np.ndarray:
        """images (V, H, W, 3) uint8 -> motion codes (T,)."""
        check_images(images, self.views, self.image_size)
        img = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(0).to(self.device)
        return self.forward.predict(img, [sentence], decoding=self.code_decoding)[0].cpu().numpy()

    @torch.inference_mode()
    def decode_tracks(self, codes: np.ndarray, images: np.ndarray) -> np.ndarray | None:
        """Motion codes (T,) and the images they were predicted from (V, H, W, 3) -> the
        predicted tracks of the query grid, (V, S, N, 2) normalised (row, col); None without a
        tokenizer (a checkpoint shipped without one)."""
        if self.tokenizer is None:
            return None
        start = torch.from_numpy(grid_queries()).float().to(self.device)
        start = start.expand(1, self.views, *start.shape)
        idx = torch.as_tensor(np.asarray(codes), dtype=torch.long, device=self.device).unsqueeze(0)
        img = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(0).to(self.device)
        return self.tokenizer.decode_indices(idx, start, img)[0].cpu().numpy()


@dataclass
class ChunkPrediction:
    actions: np.ndarray  # (K, A)
    codes: np.ndarray | None  # (T,) motion codes (AMPLIFY only)
    timings_ms: dict[str, float]


class Policy:
    def __init__(self, inverse: InverseModel, motion: MotionPrior | None = None, cameras: list[str] | None = None,
                 device: str = "cpu", fps: float | None = None, zero_codes: bool = False) -> None:
        self.cameras = list(cameras or ["corner"])[: inverse.cfg.views]
        if len(self.cameras) != inverse.cfg.views:
            raise CheckpointError(f"the model takes {inverse.cfg.views} views but names {len(self.cameras)} cameras")
        self.inverse = inverse.eval()
        self.motion = motion
        self.fps = fps  # the rate of its training data: one action per frame at this rate (None: unknown)
        self.zero_codes = zero_codes  # trained on the all-zero code (an ablation): fed it, no forward model
        self.device = torch.device(device)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", with_forward: bool = True) -> "Policy":
        """``with_forward=False``: the codes will come from elsewhere (a forward node), see ``predict``."""
        path = resolve(Path(path))
        inverse, stats = load_checkpoint(path, device=device)
        if not isinstance(inverse, InverseModel):
            raise CheckpointError(f"{path} holds a {type(inverse).__name__}, not a policy (inverse or bc) checkpoint")
        zero_codes = stats.get("codes") == "zero"
        motion = MotionPrior.load(path / "forward", device) if inverse.cfg.use_codes and with_forward and not zero_codes else None
        return cls(inverse, motion, stats.get("cameras"), device, stats.get("fps"), zero_codes)

    @property
    def kind(self) -> str:
        return "amplify" if self.inverse.cfg.use_codes else "bc"

    def action_repeat(self, sim_dt: float) -> int:
        """Simulator steps to hold each action so the policy acts at its training rate."""
        return max(1, round(1.0 / (sim_dt * self.fps))) if self.fps else 1

    @property
    def image_size(self) -> int:
        return self.inverse.cfg.image_size

    @property
    def views(self) -> int:
        return self.inverse.cfg.views

    @property
    def action_dim(self) -> int:
        return self.inverse.cfg.action_dim

    @property
    def chunk(self) -> int:
        return self.inverse.cfg.chunk

    def check_inputs(self, images: np.ndarray, proprio: np.ndarray) -> None:
        """Raise ValueError naming what does not fit: image shape or dtype, proprio size or values."""
        check_images(images, self.views, self.image_size)
        if proprio.shape != (self.inverse.cfg.proprio_dim,):
            raise ValueError(f"proprio must have {self.inverse.cfg.proprio_dim} values, got {proprio.shape}")
        if not np.all(np.isfinite(proprio)):
            raise ValueError(f"proprio is not finite: {proprio}")

    @torch.inference_mode()
    def predict(self, images: np.ndarray, proprio: np.ndarray, sentence: str, codes: np.ndarray | None = None) -> ChunkPrediction:
        """images (V, H, W, 3) uint8, proprio (P,) -> the action chunk for now and the next steps.
        An AMPLIFY policy predicts its motion codes unless ``codes`` (T,) are given."""
        self.check_inputs(images, proprio)
        if self.zero_codes and codes is None:
            codes = np.full(self.inverse.cfg.code_len, self.inverse.fsq.zero_index)
        if self.inverse.cfg.use_codes and codes is None and self.motion is None:
            raise ValueError("this inverse model needs motion codes: pass them, or load the policy with its forward model")
        if codes is not None and np.shape(codes) != (self.inverse.cfg.code_len,):
            raise ValueError(f"expected {self.inverse.cfg.code_len} motion codes, got shape {np.shape(codes)}")
        if codes is not None and not 0 <= int(np.min(codes)) <= int(np.max(codes)) < self.inverse.fsq.codebook_size:
            raise ValueError(f"motion codes must lie in [0, {self.inverse.fsq.codebook_size}); got {np.asarray(codes).tolist()}")
        img = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(0).to(self.device)
        prop = torch.from_numpy(np.asarray(proprio, np.float32)).unsqueeze(0).to(self.device)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if codes is not None:
            codes = torch.as_tensor(np.asarray(codes), dtype=torch.long, device=self.device).unsqueeze(0)
        elif self.inverse.cfg.use_codes:
            codes = self.motion.forward.predict(img, [sentence], decoding=self.motion.code_decoding)
            timings["forward_ms"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        actions = self.inverse.predict(img, prop, codes, [sentence])
        timings["inverse_ms"] = (time.perf_counter() - t1) * 1e3
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        return ChunkPrediction(actions[0].cpu().numpy(), None if codes is None else codes[0].cpu().numpy(), timings)

    def decode_tracks(self, codes: np.ndarray, images: np.ndarray) -> np.ndarray | None:
        """See ``MotionPrior.decode_tracks``; None for BC and without the forward model."""
        return self.motion.decode_tracks(codes, images) if self.motion is not None else None
