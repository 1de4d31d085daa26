"""The deployable policy: image + proprioception + task sentence -> an action chunk.

AMPLIFY: the forward model predicts motion codes from the image and sentence, the inverse
model turns codes + image + proprioception into actions. BC: one model from image,
proprioception and sentence. Both load from one checkpoint directory (an inverse checkpoint
carries its forward model in ``forward/``) and time each stage, so the ROS nodes and the
evaluator share exactly this code.
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


@dataclass
class ChunkPrediction:
    actions: np.ndarray  # (K, A)
    codes: np.ndarray | None  # (T,) motion codes (AMPLIFY only)
    timings_ms: dict[str, float]


class Policy:
    def __init__(self, inverse: InverseModel, forward: ForwardModel | None = None, cameras: list[str] | None = None,
                 device: str = "cpu") -> None:
        if inverse.cfg.use_codes and forward is None:
            raise CheckpointError("this inverse model needs motion codes: give it its forward model")
        self.cameras = list(cameras or ["corner"])[: inverse.cfg.views]
        if len(self.cameras) != inverse.cfg.views:
            raise CheckpointError(f"the model takes {inverse.cfg.views} views but names {len(self.cameras)} cameras")
        self.inverse = inverse.eval()
        self.forward = forward.eval() if forward is not None else None
        self.device = torch.device(device)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "Policy":
        path = resolve(Path(path))
        inverse, stats = load_checkpoint(path, device=device)
        if not isinstance(inverse, InverseModel):
            raise CheckpointError(f"{path} holds a {type(inverse).__name__}, not a policy (inverse or bc) checkpoint")
        forward = load_checkpoint(path / "forward", "forward", device)[0] if inverse.cfg.use_codes else None
        return cls(inverse, forward, stats.get("cameras"), device)

    @property
    def kind(self) -> str:
        return "amplify" if self.forward is not None else "bc"

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
        want = (self.views, self.image_size, self.image_size, 3)
        if images.shape != want or images.dtype != np.uint8:
            raise ValueError(f"images must be {want} uint8, got {images.shape} {images.dtype}")
        if proprio.shape != (self.inverse.cfg.proprio_dim,):
            raise ValueError(f"proprio must have {self.inverse.cfg.proprio_dim} values, got {proprio.shape}")
        if not np.all(np.isfinite(proprio)):
            raise ValueError(f"proprio is not finite: {proprio}")

    @torch.inference_mode()
    def predict(self, images: np.ndarray, proprio: np.ndarray, sentence: str) -> ChunkPrediction:
        """images (V, H, W, 3) uint8, proprio (P,) -> the action chunk for now and the next steps."""
        self.check_inputs(images, proprio)
        img = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(0).to(self.device)
        prop = torch.from_numpy(np.asarray(proprio, np.float32)).unsqueeze(0).to(self.device)
        timings: dict[str, float] = {}
        codes = None
        t0 = time.perf_counter()
        if self.forward is not None:
            codes = self.forward.predict(img, [sentence])
            timings["forward_ms"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        actions = self.inverse.predict(img, prop, codes, [sentence])
        timings["inverse_ms"] = (time.perf_counter() - t1) * 1e3
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        return ChunkPrediction(actions[0].cpu().numpy(), None if codes is None else codes[0].cpu().numpy(), timings)
