"""Track prediction, measured: every model (and the zero-motion baseline) behind one predictor
signature, and the metrics of core/metrics.py over a set of samples.

Metrics follow the paper's code: all views, all points, all 16 steps including the start
(which every method gets right), visibility ignored. Because most of a scene is still (and
"nothing moves" then scores well), the same metrics are also reported for ``moving`` points
only: points whose true track moves more than one pixel within the window. Samples are drawn
deterministically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from amplify_ros.core import metrics
from amplify_ros.core.checkpoint import load_checkpoint, resolve
from amplify_ros.data.windows import WindowDataset

MOVING_PX = 1.0
Predictor = Callable[[dict], torch.Tensor]  # batch -> tracks (B, V, S, N, 2)


def zero_motion(batch: dict) -> torch.Tensor:
    start = batch["tracks"][:, :, :1]
    return start.expand_as(batch["tracks"]).clone()


def load_predictor(checkpoint: str | Path, device: str = "cpu") -> tuple[Predictor, dict, str]:
    """(predictor, stats, kind) for a checkpoint or run, or the name ``zero-motion``."""
    if str(checkpoint) == "zero-motion":
        return zero_motion, {}, "zero-motion"
    path = resolve(Path(checkpoint))
    model, stats = load_checkpoint(path, device=device)
    kind = type(model).__name__
    if kind == "MotionTokenizer":
        return (lambda b: model.reconstruct(b["tracks"])), stats, "tokenizer"
    if kind == "ForwardModel":
        tokenizer, _ = load_checkpoint(path / "tokenizer", "tokenizer", device)
        return (lambda b: tokenizer.decode_indices(model.predict(b["images"], b["sentence"]), b["tracks"][:, :, 0])), stats, "forward"
    return (lambda b: model.predict_tracks(b["images"], b["sentence"], b["tracks"][:, :, 0])), stats, "track-baseline"


@torch.inference_mode()
def evaluate(predict: Predictor, data: WindowDataset, max_samples: int | None = 2000, batch_size: int = 32, seed: int = 0,
             keep: int = 0) -> tuple[dict[str, float], list[tuple[dict, np.ndarray]]]:
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
    travel = np.abs(truth - truth[:, :, :1]).max(axis=(2, 4)) * (data.image_size / 2)  # (B, V, N) px
    moving = np.broadcast_to((travel > MOVING_PX)[:, :, None, :], truth.shape[:-1])
    result["moving"] = metrics.track_metrics(pred, truth, size, moving)
    result["moving_fraction"] = float(moving.mean())
    result["samples"] = len(pred)
    return result, kept
