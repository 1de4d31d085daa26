"""Track prediction, measured: every model (and the zero-motion baseline) behind one predictor
signature, and the metrics of core/metrics.py over a set of samples.

Metrics follow the paper's code: all views, all points, all 16 steps including the start
(which every method gets right), visibility ignored. Because most of a scene is still (and
"nothing moves" then scores well), the same metrics are also reported for ``moving`` points
only (``metrics.moving_tracks``: tracks that get more than a pixel from their start), with
"nothing moves" on the same points beside them (``zero_motion_mse``) so that a model's
moving-point error reads as a fraction of it. Samples are drawn deterministically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from amplify_ros.core import metrics
from amplify_ros.core.checkpoint import CheckpointError, load_checkpoint, resolve
from amplify_ros.core.forward_model import ForwardModel
from amplify_ros.core.tokenizer import MotionTokenizer
from amplify_ros.core.track_baseline import TrackBaseline
from amplify_ros.data.windows import WindowDataset

Predictor = Callable[[dict], torch.Tensor]  # batch -> tracks (B, V, S, N, 2)


def zero_motion(batch: dict) -> torch.Tensor:
    start = batch["tracks"][:, :, :1]
    return start.expand_as(batch["tracks"]).clone()


def tokenizer_predictor(tokenizer: MotionTokenizer, decoding: str | None = None) -> Predictor:
    """The tokenizer's reconstruction of the true tracks from their own codes."""
    return lambda b: tokenizer.reconstruct(b["tracks"], b["images"], decoding)


def forward_predictor(
    forward: ForwardModel,
    tokenizer: MotionTokenizer,
    decoding: str | None = None,
    code_decoding: str = "autoregressive",
) -> Predictor:
    """Tracks decoded from the forward model's codes (greedy autoregressive, or its parallel head's)."""
    return lambda b: tokenizer.decode_indices(
        forward.predict(b["images"], b["sentence"], decoding=code_decoding), b["tracks"][:, :, 0], b["images"], decoding
    )


def baseline_predictor(model: TrackBaseline) -> Predictor:
    """The ATM-style regressor's tracks from the start points."""
    return torch.inference_mode()(lambda b: model.predict_tracks(b["images"], b["sentence"], b["tracks"][:, :, 0]))


def load_predictor(
    checkpoint: str | Path, device: str = "cpu", decoding: str | None = None, code_decoding: str = "autoregressive"
) -> tuple[Predictor, dict, str]:
    """(predictor, stats, kind) for a checkpoint or run, or the name ``zero-motion``; ``decoding``
    overrides the tokenizer's own (``argmax`` / ``expected``), ``code_decoding`` is the forward
    model's (``autoregressive`` / ``parallel``)."""
    if str(checkpoint) == "zero-motion":
        return zero_motion, {}, "zero-motion"
    path = resolve(Path(checkpoint))
    model, stats = load_checkpoint(path, device=device)
    if isinstance(model, MotionTokenizer):
        return tokenizer_predictor(model, decoding), stats, "tokenizer"
    if isinstance(model, ForwardModel):
        if code_decoding not in model.decodings:
            raise CheckpointError(f"{path}: no {code_decoding} decoding; this forward model has {model.decodings}")
        tokenizer, _ = load_checkpoint(path / "tokenizer", "tokenizer", device)
        return forward_predictor(model, tokenizer, decoding, code_decoding), stats, "forward"
    return baseline_predictor(model), stats, "track-baseline"


def moving_mask(truth: np.ndarray, image_size: int) -> np.ndarray:
    """(B, V, S, N) True at every step of the tracks that move (``metrics.moving_tracks``)."""
    return np.broadcast_to(metrics.moving_tracks(truth, (image_size, image_size))[..., None, :], truth.shape[:-1])


def moving_errors(pred: np.ndarray, truth: np.ndarray, moving: np.ndarray) -> dict[str, float]:
    """MSE of ``pred`` and of "nothing moves" on the ``moving`` points, and their ratio."""
    start = np.broadcast_to(truth[..., :1, :, :], truth.shape)
    mse, zero = metrics.mse(pred, truth, moving), metrics.mse(start, truth, moving)
    return {"moving_mse": mse, "zero_motion_mse": zero, "vs_zero_motion": mse / zero if zero > 0 else float("nan")}


@torch.inference_mode()
def evaluate(
    predict: Predictor,
    data: WindowDataset,
    max_samples: int | None = 2000,
    batch_size: int = 32,
    seed: int = 0,
    keep: int = 0,
) -> tuple[dict[str, float], list[tuple[dict, np.ndarray]]]:
    """Metrics over up to ``max_samples`` samples; also returns ``keep`` (sample, prediction) pairs."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).tolist()
    chosen = sorted(order[:max_samples] if max_samples else order)
    preds, truths, kept = [], [], []
    for batch in DataLoader(data, batch_size, sampler=chosen):
        pred = predict(batch)
        preds.append(pred.numpy())
        truths.append(batch["tracks"].numpy())
        for i in range(min(keep - len(kept), len(pred))):
            kept.append(({k: v[i] for k, v in batch.items()}, pred[i].numpy()))
    pred, truth = np.concatenate(preds), np.concatenate(truths)
    size = (data.image_size, data.image_size)
    result: dict = metrics.track_metrics(pred, truth, size)
    moving = moving_mask(truth, data.image_size)
    result["moving"] = metrics.track_metrics(pred, truth, size, moving)
    errors = moving_errors(pred, truth, moving)
    result["moving"].update(zero_motion_mse=errors["zero_motion_mse"], vs_zero_motion=errors["vs_zero_motion"])
    result["moving_fraction"] = float(moving.mean())
    result["samples"] = len(pred)
    return result, kept
