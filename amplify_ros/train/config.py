"""Every setting of amplify-train in one nested dataclass: it is the command line (config_cli
makes the flags from it, flat: ``--lr``, not ``--optim.lr``), the ``train.yaml`` saved whole in
each run and printed at start, and what ``--resume`` checks. Optimisation settings left None are
the preset's (presets.py fills them in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from amplify_ros.core.checkpoint import MODELS
from amplify_ros.train.config_cli import default_of, flag_name, invalid_choices, leaves, nest, option, to_plain

PresetName = Literal["small", "paper"]
CodeSource = Literal["predicted", "gt", "zero"]


class TrainError(RuntimeError):
    """Bad settings or a run directory that does not fit them; reported in one line."""


@dataclass
class DataConfig:
    root: Path = option(help="dataset folder (episodes with tracks)", flag="data", legacy="data")
    val_fraction: float = option(0.1, help="share of each task's episodes kept for validation")
    holdout_tasks: list[str] = option(factory=list, help="comma-separated tasks kept out of training entirely")
    train_per_task: int | None = option(None, help="use at most N training episodes per task (low-data experiments)")
    cameras: list[str] | None = option(None, help="comma-separated cameras to use (default: all of each episode)")


@dataclass
class ModelConfig:
    overrides: dict[str, Any] = option(
        factory=dict,
        flag="set",
        legacy="model_overrides",
        help="override a model setting of the preset, e.g. --set depth=6 (repeatable)",
    )
    tokenizer: Path | None = option(None, help="forward model: trained tokenizer run or checkpoint")
    forward: Path | None = option(None, help="inverse model: trained forward model run or checkpoint")
    codes: CodeSource = option(
        "predicted",
        help="inverse model: train on forward-model predicted codes (paper), codes of "
        "the true tracks, or the all-zero code (ablation: the same model without motion information)",
    )
    chunk: int = option(16, help="inverse / bc: actions per chunk")
    init_from: Path | None = option(
        None,
        help="start from this run's or checkpoint's weights (those whose names and "
        "shapes fit; new parts, e.g. --set parallel_depth=2 on a trained forward model, start fresh)",
    )


@dataclass
class OptimConfig:
    batch_size: int | None = option(None, help="per-process batch size (default: the preset's)")
    lr: float | None = option(None, help="peak learning rate (default: the preset's)")
    betas: list[float] = option(factory=lambda: [0.9, 0.95], help="AdamW betas")
    weight_decay: float = option(0.01, help="AdamW weight decay")
    grad_clip: float = option(1.0, help="gradient norm clipped to this")
    precision: Literal["fp32", "bf16"] = option(
        "fp32", help="bf16: the training step's matmuls and convolutions in bfloat16 (weights stay float32)"
    )
    train_only: list[str] = option(
        factory=list,
        help="comma-separated parameter name prefixes that train (e.g. "
        "parallel: only the parallel code head); the rest stays frozen (default: everything trains)",
    )


@dataclass
class ScheduleConfig:
    max_steps: int | None = option(None, help="optimisation steps (default: the preset's)", resumable=True)
    warmup_steps: int | None = option(None, help="steps of linear warm-up (default: the preset's)")
    lr_floor: float = option(0.05, help="where the cosine decay ends, as a fraction of the peak learning rate")


@dataclass
class LoggingConfig:
    """What is logged and kept: a resumed run may change it, as it changes no update."""

    log_every: int = option(20, help="steps between logs of the training metrics", resumable=True)
    val_every: int = option(500, help="steps between validations", resumable=True)
    ckpt_every: int = option(500, help="steps between checkpoints", resumable=True)
    val_batches: int = option(10, help="batches per validation", resumable=True)
    keep_checkpoints: int = option(3, help="newest checkpoints kept", resumable=True)
    progress: bool = option(True, help="progress bar and start-up summary", cli=False, resumable=True)


@dataclass
class TrainConfig:
    kind: str = option(help="which model to train", positional=True, choices=tuple(MODELS))
    out: Path = option(help="run directory")
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    preset: PresetName = option("small", help="model and optimisation sizes")
    device: Literal["cpu", "cuda"] = option("cpu", help="where to train")
    seed: int = option(0, help="seed of the split, initialisation and data order")
    resume: bool = option(False, help="continue the run in --out from its last checkpoint", resumable=True)

    def __post_init__(self) -> None:
        errors = invalid_choices(self)
        if errors:
            raise TrainError("; ".join(errors))

    def to_yaml(self) -> str:
        return yaml.safe_dump(to_plain(self), sort_keys=False)


def read_train_yaml(text: str) -> dict[str, Any]:
    """A run's train.yaml as nested plain settings, also one written before the sections (flat)."""
    saved = yaml.safe_load(text)
    if "optim" in saved:
        return saved
    names = {path: f.metadata.get("legacy", f.name) for path, f, _ in leaves(TrainConfig)}
    return nest({path: saved[name] for path, name in names.items() if name in saved})


def changed_settings(saved: dict[str, Any], now: TrainConfig) -> list[str]:
    """The flags of ``now`` that differ from a run's saved settings, except those a resumed run
    may change. A setting added after the run started counts as equal when it keeps its default;
    a folder named another way (relative, through a link) is the same folder."""
    current = to_plain(now)
    changed = []
    for path, f, hint in leaves(TrainConfig):
        if f.metadata.get("resumable"):
            continue
        a, b = _get(saved, path, to_plain(default_of(f))), _get(current, path, None)
        if hint in (Path, Path | None) and a is not None and b is not None:
            same = Path(a).resolve() == Path(b).resolve()
        else:
            same = a == b
        if not same:
            changed.append(flag_name(f))
    return changed


def _get(plain: dict[str, Any], path: str, missing: Any) -> Any:
    for part in path.split("."):
        if not isinstance(plain, dict) or part not in plain:
            return missing
        plain = plain[part]
    return plain
