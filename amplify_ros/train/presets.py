"""Model and optimisation presets. ``small`` trains to a useful level on 2 CPU cores in well
under an hour per model: ResNet-18 at half width with its stem max-pool (4x4 patch tokens at
128 px; dropping the pool for 8x8 tokens costs 4x the convolution time, which is why it departs
from TrunkConfig's default) and 4 x 256 trunks. ``paper`` is the paper's sizes (31M tokenizer,
8x768 forward trunk, full-width ResNet-18, 8x8 tokens) for a GPU. The preset name is saved with
every checkpoint.

The small tokenizer (docs/motion_prior.md has the measurements behind each setting): row and
column displacement classes apart, a 64-wide point MLP and no dropout (5x the samples/s of
the joint 225-way head at the same accuracy), the image around each point given to the
decoder, and a higher learning rate than the other models."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from amplify_ros.core.forward_model import ForwardConfig
from amplify_ros.core.inverse_model import InverseConfig
from amplify_ros.core.tokenizer import TokenizerConfig
from amplify_ros.core.track_baseline import TrackBaselineConfig
from amplify_ros.train.config import OptimConfig, ScheduleConfig, TrainConfig


@dataclass(frozen=True)
class Preset:
    models: dict[str, Any]  # kind -> its model config: the sizes (the data fills in the rest)
    optim: OptimConfig  # batch size and peak learning rate (AdamW betas (0.9, 0.95)), for every kind ...
    schedule: ScheduleConfig  # ... trained for max_steps with warm-up + cosine decay
    optim_by_kind: dict[str, OptimConfig] = field(default_factory=dict)  # departures from optim


SMALL_TRUNK = dict(dim=256, depth=4, heads=8, resnet_width=32, stem_pool=True)
PAPER_TRUNK = dict(dim=768, depth=8, heads=8, resnet_width=64, stem_pool=False)
PAPER_POLICY_TRUNK = dict(PAPER_TRUNK, depth=4)

PRESETS: dict[str, Preset] = {
    "small": Preset(
        models={
            "tokenizer": TokenizerConfig(
                dim=256,
                enc_depth=2,
                dec_depth=1,
                heads=8,
                point_mlp_dim=64,
                train_points=100,
                dropout=0.0,
                factorised=True,
                image_cond=True,
            ),
            "forward": ForwardConfig(**SMALL_TRUNK),
            "track-baseline": TrackBaselineConfig(**SMALL_TRUNK, train_points=32),  # ATM: 32 tracks
            "inverse": InverseConfig(**SMALL_TRUNK, use_codes=True, use_text=False),
            "bc": InverseConfig(**SMALL_TRUNK, use_codes=False, use_text=True),
        },
        optim=OptimConfig(batch_size=32, lr=5e-4),
        schedule=ScheduleConfig(max_steps=3000, warmup_steps=200),
        optim_by_kind={"tokenizer": OptimConfig(batch_size=32, lr=2e-3)},
    ),
    "paper": Preset(
        models={
            "tokenizer": TokenizerConfig(
                dim=768, enc_depth=2, dec_depth=1, heads=8, point_mlp_dim=256, train_points=None
            ),
            "forward": ForwardConfig(**PAPER_TRUNK),
            "track-baseline": TrackBaselineConfig(**PAPER_TRUNK, train_points=32),
            "inverse": InverseConfig(**PAPER_POLICY_TRUNK, use_codes=True, use_text=False),
            "bc": InverseConfig(**PAPER_POLICY_TRUNK, use_codes=False, use_text=True),
        },
        optim=OptimConfig(batch_size=64, lr=1e-4),
        schedule=ScheduleConfig(max_steps=50000, warmup_steps=1000),
    ),
}


def with_preset(config: TrainConfig) -> TrainConfig:
    """``config`` with its unset (None) optimisation and schedule settings taken from its preset."""
    preset = PRESETS[config.preset]
    optim = preset.optim_by_kind.get(config.kind, preset.optim)
    return dataclasses.replace(
        config, optim=_filled(config.optim, optim), schedule=_filled(config.schedule, preset.schedule)
    )


def _filled(section: Any, preset: Any) -> Any:
    unset = {f.name: getattr(preset, f.name) for f in dataclasses.fields(section) if getattr(section, f.name) is None}
    return dataclasses.replace(section, **unset)
