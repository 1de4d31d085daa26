"""What differs between the models amplify-train trains, one entry per kind: the config fields
the data and frozen models decide, what one training step computes, which trained model it
learns from, and how validation turns it into tracks. The trainer reads this table instead of
asking for the kind by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from amplify_ros.core.checkpoint import MODELS, build_model
from amplify_ros.core.text import build_vocab
from amplify_ros.data.windows import WindowDataset
from amplify_ros.train.config import TrainConfig, TrainError
from amplify_ros.train.evaluate import Predictor, baseline_predictor, forward_predictor, tokenizer_predictor
from amplify_ros.train.presets import PRESETS

Batch = dict[str, Any]
Frozen = dict[str, nn.Module]  # kind -> a trained model, frozen
Fields = dict[str, Any]  # model config fields


@dataclass(frozen=True)
class FrozenModel:
    kind: str  # also the ModelConfig field (flag) that names its run
    what: str  # for the error when it is missing


@dataclass(frozen=True)
class ModelKind:
    fields: Callable[[Fields, WindowDataset, Frozen, TrainConfig], Fields]  # what the data and frozen models decide
    step: Callable[[Callable, Batch, Frozen], tuple[torch.Tensor, dict[str, float]]]  # (loss, metrics) of one batch
    learns_from: FrozenModel | None = None
    actions: bool = False  # trains on episodes with actions only
    codes: bool = False  # takes motion codes, computed once by its frozen forward model (trainer.CodeCache)
    predictor: Callable[[nn.Module, Frozen], Predictor] | None = None  # its tracks, scored at validation


def _tokenizer_fields(fields: Fields, data: WindowDataset, frozen: Frozen, config: TrainConfig) -> Fields:
    tracks = data[0]["tracks"]
    points = tracks.shape[-2]
    # the preset's subset of points is for the 400-point grid
    subset = None if (fields.get("train_points") or 0) >= points else fields.get("train_points")
    return {"num_points": points, "horizon": tracks.shape[-3], "train_points": subset}


def _forward_fields(fields: Fields, data: WindowDataset, frozen: Frozen, config: TrainConfig) -> Fields:
    return {"vocab": build_vocab(data.sentences), **_codes_of(frozen["tokenizer"])}


def _baseline_fields(fields: Fields, data: WindowDataset, frozen: Frozen, config: TrainConfig) -> Fields:
    return {"vocab": build_vocab(data.sentences), "horizon": data[0]["tracks"].shape[-3]}


def _codes_of(model: nn.Module) -> Fields:
    return {"code_len": model.cfg.code_len, "fsq_levels": list(model.cfg.fsq_levels)}


def _action_stats(data: WindowDataset) -> Fields:
    """Normalisation of actions (by range) and proprioception (by mean and std) from training data."""
    actions = np.concatenate([e["actions"] for e in data.episodes])
    proprio = np.concatenate([e["proprio"] for e in data.episodes])
    return {
        "action_dim": actions.shape[1],
        "proprio_dim": proprio.shape[1],
        "action_low": actions.min(0).tolist(),
        "action_high": actions.max(0).tolist(),
        "proprio_mean": proprio.mean(0).tolist(),
        "proprio_std": (proprio.std(0) + 1e-6).tolist(),
    }


def _policy_fields(fields: Fields, data: WindowDataset, frozen: Frozen, config: TrainConfig) -> Fields:
    codes = _codes_of(frozen["forward"]) if "forward" in frozen else {}
    return {"vocab": build_vocab(data.sentences), "chunk": config.model.chunk, **_action_stats(data), **codes}


def _policy_inputs(batch: Batch) -> tuple:
    return batch["images"], batch["proprio"], batch["actions"], batch["action_mask"]


def _forward_step(model: Callable, batch: Batch, frozen: Frozen) -> tuple[torch.Tensor, dict[str, float]]:
    with torch.no_grad():
        _, codes = frozen["tokenizer"].encode(batch["tracks"])
    return model(batch["images"], batch["sentence"], codes)


KINDS: dict[str, ModelKind] = {
    "tokenizer": ModelKind(
        fields=_tokenizer_fields,
        step=lambda model, batch, frozen: model(batch["tracks"], batch["images"]),
        predictor=lambda model, frozen: tokenizer_predictor(model),
    ),
    "forward": ModelKind(
        fields=_forward_fields,
        step=_forward_step,
        learns_from=FrozenModel("tokenizer", "a trained motion tokenizer"),
        predictor=lambda model, frozen: forward_predictor(model, frozen["tokenizer"]),
    ),
    "track-baseline": ModelKind(
        fields=_baseline_fields,
        step=lambda model, batch, frozen: model(batch["images"], batch["sentence"], batch["tracks"], batch["visible"]),
        predictor=lambda model, frozen: baseline_predictor(model),
    ),
    "inverse": ModelKind(
        fields=_policy_fields,
        step=lambda model, batch, frozen: model(*_policy_inputs(batch), codes=batch["codes"]),
        learns_from=FrozenModel("forward", "a trained forward model"),
        actions=True,
        codes=True,
    ),
    "bc": ModelKind(
        fields=_policy_fields,
        step=lambda model, batch, frozen: model(*_policy_inputs(batch), sentences=batch["sentence"]),
        actions=True,
    ),
}


def new_model(config: TrainConfig, data: WindowDataset, frozen: Frozen) -> nn.Module:
    """A fresh model of ``config.kind``: its preset's sizes, ``--set`` over them, the rest from the
    training data and the frozen models."""
    preset = dataclasses.asdict(PRESETS[config.preset].models[config.kind])
    unknown = set(config.model.overrides) - set(preset)
    if unknown:
        raise TrainError(f"--set: {sorted(unknown)} are not {config.kind} settings; known: {sorted(preset)}")
    fields = {**preset, **config.model.overrides, "image_size": data.image_size, "views": data.views}
    fields.update(KINDS[config.kind].fields(fields, data, frozen, config))
    return build_model(config.kind, MODELS[config.kind][1](**fields))
