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
from amplify_ros.core.onnx_inference import RUNTIMES, OrtGraph, actions_graph, parallel_codes_graph
from amplify_ros.core.tokenizer import MotionTokenizer
from amplify_ros.core.tracks import grid_queries


def check_images(images: np.ndarray, views: int, size: int) -> None:
    """ValueError unless ``images`` is (views, size, size, 3) uint8: what a model takes."""
    want = (views, size, size, 3)
    if images.shape != want or images.dtype != np.uint8:
        raise ValueError(f"images must be {want} uint8, got {images.shape} {images.dtype}")


def _check_runtime(runtime: str, device: torch.device) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r}: choose from {', '.join(RUNTIMES)}")
    if runtime == "onnxruntime" and device.type != "cpu":
        raise ValueError(f"runtime onnxruntime runs on the CPU; for device {device.type} choose runtime torch")


class MotionPrior:
    """Forward model (+ its tokenizer, when the checkpoint carries one): image + sentence ->
    motion codes -> the grid tracks those codes stand for."""

    def __init__(self, forward: ForwardModel, tokenizer: MotionTokenizer | None = None, device: str = "cpu") -> None:
        self.forward = forward.eval()
        self.tokenizer = tokenizer.eval() if tokenizer is not None else None
        self.device = torch.device(device)
        self.code_decoding = "autoregressive"
        self.runtime = "torch"
        self._graph: OrtGraph | None = None

    def configure(self, runtime: str | None = None, code_decoding: str | None = None) -> None:
        """How codes are predicted (None keeps the setting). ``code_decoding``: "autoregressive"
        (greedy, one pass per code, the paper's), "parallel" (all at once; needs a forward model
        trained with a parallel head) or "auto" (parallel where the model has the head).
        ``runtime``: "torch" or "onnxruntime" (core/onnx_inference.py; runs the parallel pass,
        autoregressive decoding stays in torch). ValueError for what this model cannot do."""
        runtime = runtime or self.runtime
        decoding = code_decoding or self.code_decoding
        if decoding == "auto":
            decoding = self.forward.decodings[-1]
        if decoding not in self.forward.decodings:
            raise ValueError(f"code decoding {decoding!r}: this forward model has {', '.join(self.forward.decodings)}")
        _check_runtime(runtime, self.device)
        fast = runtime == "onnxruntime" and decoding == "parallel"
        self._graph = (self._graph or parallel_codes_graph(self.forward, torch.get_num_threads())) if fast else None
        self.runtime, self.code_decoding = runtime, decoding

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> MotionPrior:
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
        img = np.ascontiguousarray(images)[None]
        if self._graph is not None:
            return self._graph(images=img, text=self.forward.text([sentence]).numpy())[0][0]
        return (
            self.forward.predict(torch.from_numpy(img).to(self.device), [sentence], decoding=self.code_decoding)[0]
            .cpu()
            .numpy()
        )

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
    def __init__(
        self,
        inverse: InverseModel,
        motion: MotionPrior | None = None,
        cameras: list[str] | None = None,
        device: str = "cpu",
        fps: float | None = None,
        zero_codes: bool = False,
    ) -> None:
        self.cameras = list(cameras or ["corner"])[: inverse.cfg.views]
        if len(self.cameras) != inverse.cfg.views:
            raise CheckpointError(f"the model takes {inverse.cfg.views} views but names {len(self.cameras)} cameras")
        self.inverse = inverse.eval()
        self.motion = motion
        self.fps = fps  # the rate of its training data: one action per frame at this rate (None: unknown)
        self.zero_codes = zero_codes  # trained on the all-zero code (an ablation): fed it, no forward model
        self.device = torch.device(device)
        self.runtime = "torch"
        self._graph: OrtGraph | None = None

    def configure(self, runtime: str | None = None, code_decoding: str | None = None) -> None:
        """The runtime of both models and the forward model's code decoding (see
        ``MotionPrior.configure``; a policy without a forward model ignores ``code_decoding``).
        ValueError, changing nothing, for what these models cannot do."""
        runtime = runtime or self.runtime
        _check_runtime(runtime, self.device)
        graph = None
        if runtime == "onnxruntime":
            graph = self._graph or actions_graph(self.inverse, torch.get_num_threads())
        if self.motion is not None:
            self.motion.configure(runtime, code_decoding)
        self._graph, self.runtime = graph, runtime

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", with_forward: bool = True) -> Policy:
        """``with_forward=False``: the codes will come from elsewhere (a forward node), see ``predict``."""
        path = resolve(Path(path))
        inverse, stats = load_checkpoint(path, device=device)
        if not isinstance(inverse, InverseModel):
            raise CheckpointError(f"{path} holds a {type(inverse).__name__}, not a policy (inverse or bc) checkpoint")
        zero_codes = stats.get("codes") == "zero"
        motion = (
            MotionPrior.load(path / "forward", device)
            if inverse.cfg.use_codes and with_forward and not zero_codes
            else None
        )
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
    def predict(
        self, images: np.ndarray, proprio: np.ndarray, sentence: str, codes: np.ndarray | None = None
    ) -> ChunkPrediction:
        """images (V, H, W, 3) uint8, proprio (P,) -> the action chunk for now and the next steps.
        An AMPLIFY policy predicts its motion codes unless ``codes`` (T,) are given."""
        self.check_inputs(images, proprio)
        if self.zero_codes and codes is None:
            codes = np.full(self.inverse.cfg.code_len, self.inverse.fsq.zero_index)
        if self.inverse.cfg.use_codes and codes is None and self.motion is None:
            raise ValueError(
                "this inverse model needs motion codes: pass them, or load the policy with its forward model"
            )
        if codes is not None and np.shape(codes) != (self.inverse.cfg.code_len,):
            raise ValueError(f"expected {self.inverse.cfg.code_len} motion codes, got shape {np.shape(codes)}")
        if codes is not None and not 0 <= int(np.min(codes)) <= int(np.max(codes)) < self.inverse.fsq.codebook_size:
            raise ValueError(
                f"motion codes must lie in [0, {self.inverse.fsq.codebook_size}); got {np.asarray(codes).tolist()}"
            )
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if codes is None and self.inverse.cfg.use_codes:
            codes = self.motion.predict(images, sentence)
            timings["forward_ms"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        actions = self._actions(
            np.ascontiguousarray(images)[None],
            np.asarray(proprio, np.float32)[None],
            None if codes is None else np.asarray(codes, np.int64)[None],
            sentence,
        )
        timings["inverse_ms"] = (time.perf_counter() - t1) * 1e3
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        return ChunkPrediction(actions[0], None if codes is None else np.asarray(codes), timings)

    def _actions(self, images: np.ndarray, proprio: np.ndarray, codes: np.ndarray | None, sentence: str) -> np.ndarray:
        """One sample's batch of one -> (1, K, A), in the configured runtime."""
        if self._graph is not None:
            feed = {"images": images, "proprio": proprio}
            if codes is not None:
                feed["codes"] = codes
            if (text := self.inverse.embed_text([sentence])) is not None:
                feed["text"] = text.numpy()
            return self._graph(**feed)[0]
        tensors = [None if a is None else torch.from_numpy(a).to(self.device) for a in (images, proprio, codes)]
        return self.inverse.predict(*tensors, [sentence]).cpu().numpy()

    def decode_tracks(self, codes: np.ndarray, images: np.ndarray) -> np.ndarray | None:
        """See ``MotionPrior.decode_tracks``; None for BC and without the forward model."""
        return self.motion.decode_tracks(codes, images) if self.motion is not None else None
