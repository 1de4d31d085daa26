"""Checkpoints as directories that load alone: weights, the config that built the model, stats.

    <dir>/model.yaml          kind + the model's dataclass config
    <dir>/model.safetensors   weights
    <dir>/stats.json          what the data looked like (image size, cameras, horizon, ...)
    <dir>/<name>/             nested checkpoints the model needs (a forward model's tokenizer)

A training run directory is accepted too: it resolves to the checkpoint named in ``<run>/last``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from amplify_ros.core.forward_model import ForwardConfig, ForwardModel
from amplify_ros.core.inverse_model import InverseConfig, InverseModel
from amplify_ros.core.tokenizer import MotionTokenizer, TokenizerConfig
from amplify_ros.core.track_baseline import TrackBaseline, TrackBaselineConfig

MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "tokenizer": (MotionTokenizer, TokenizerConfig),
    "forward": (ForwardModel, ForwardConfig),
    "track-baseline": (TrackBaseline, TrackBaselineConfig),
    "inverse": (InverseModel, InverseConfig),
    "bc": (InverseModel, InverseConfig),  # the same network with the sentence instead of codes
}


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, of another kind, or does not fit its model or the data."""


def build_model(kind: str, config: Any) -> nn.Module:
    return MODELS[kind][0](config)


def save_checkpoint(
    path: Path, kind: str, model: nn.Module, stats: dict[str, Any], nested: dict[str, Path] | None = None
) -> Path:
    """Write a checkpoint directory (replacing any at ``path``)."""
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "model.yaml").write_text(
        yaml.safe_dump({"kind": kind, "config": dataclasses.asdict(model.cfg)}, sort_keys=False)
    )
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / "model.safetensors"))
    (tmp / "stats.json").write_text(json.dumps(stats, indent=1))
    for name, src in (nested or {}).items():
        shutil.copytree(resolve(src), tmp / name)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def resolve(path: Path) -> Path:
    """A checkpoint directory, or a run directory whose ``last`` file names one."""
    path = Path(path)
    if (path / "model.yaml").is_file():
        return path
    if (path / "last").is_file():
        return path / (path / "last").read_text().strip()
    raise CheckpointError(f"{path}: no checkpoint here (expected model.yaml, or a run directory with a 'last' file)")


def load_checkpoint(path: Path, kind: str | None = None, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load the model of a checkpoint (eval mode) and its stats; ``kind`` checks what it is."""
    path = resolve(path)
    meta = yaml.safe_load((path / "model.yaml").read_text())
    if kind is not None and meta.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {meta.get('kind')!r} model, not a {kind!r} model")
    if meta.get("kind") not in MODELS:
        raise CheckpointError(f"{path}: unknown model kind {meta.get('kind')!r}")
    cls, cfg_cls = MODELS[meta["kind"]]
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = set(meta["config"]) - fields
    if unknown:
        raise CheckpointError(f"{path}/model.yaml has fields this version does not know: {sorted(unknown)}")
    model = cls(cfg_cls(**meta["config"]))
    try:
        state = load_file(str(path / "model.safetensors"))
    except Exception as err:  # safetensors raises its own error types for truncated/garbage files
        raise CheckpointError(f"{path}/model.safetensors is not readable: {err}") from err
    expected = model.state_dict()
    problems = [f"{k}: missing" for k in expected if k not in state]
    problems += [f"{k}: unexpected" for k in state if k not in expected]
    problems += [
        f"{k}: shape {tuple(state[k].shape)} in file, {tuple(v.shape)} in model"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if problems:
        raise CheckpointError(
            f"{path}: weights do not fit the config ({'; '.join(problems[:5])}{' ...' if len(problems) > 5 else ''})"
        )
    model.load_state_dict(state)  # casts half-precision exports back to the model's float32
    stats = json.loads((path / "stats.json").read_text()) if (path / "stats.json").is_file() else {}
    return model.to(device).eval(), stats


def export_checkpoint(src: Path, dst: Path, half: bool = True) -> Path:
    """A deployable copy of a checkpoint (and its nested ones): weights, config and stats only,
    floating-point weights stored as float16 when ``half`` (half the size; loads as float32)."""
    src = resolve(src)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("model.yaml", "stats.json"):
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    state = load_file(str(src / "model.safetensors"))
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(tmp / "model.safetensors"))
    for sub in sorted(p for p in src.iterdir() if (p / "model.yaml").is_file()):
        export_checkpoint(sub, tmp / sub.name, half)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


def check_data(
    stats: dict[str, Any], image_size: int, views: int, horizon: int | None = None, fps: float | None = None
) -> list[str]:
    """Raise CheckpointError naming every way the data differs from what the model was trained
    on; return warnings for what the checkpoint does not record (older checkpoints lack ``fps``:
    a 16-frame window at 80 Hz is 0.2 s, at 20 Hz 0.8 s, so the same motion looks different)."""
    found = {"image_size": image_size, "views": views, "horizon": horizon, "fps": fps}
    diffs = [
        f"{k}: model {stats[k]}, data {v}" for k, v in found.items() if v is not None and k in stats and stats[k] != v
    ]
    if diffs:
        raise CheckpointError("checkpoint does not match the data (" + "; ".join(diffs) + ")")
    if fps and not stats.get("fps"):
        return [f"the checkpoint does not record the frame rate it was trained at; the data is {fps:g} Hz"]
    return []
