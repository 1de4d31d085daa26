"""Model and optimisation presets. ``small`` trains to a useful level on 2 CPU cores in well
under an hour per model: ResNet-18 at half width with its stem max-pool (4x4 patch tokens at
128 px; dropping the pool for 8x8 tokens costs 4x the convolution time) and 4 x 256 trunks.
``paper`` is the paper's sizes (31M tokenizer, 8x768 forward trunk, full-width ResNet-18, 8x8
tokens) for a GPU. The preset name is saved with every checkpoint.

The small tokenizer (docs/motion_prior.md has the measurements behind each setting): row and
column displacement classes apart, a 64-wide point MLP and no dropout (5x the samples/s of
the joint 225-way head at the same accuracy), the image around each point given to the
decoder, and a higher learning rate than the other models."""

from __future__ import annotations

MODEL_PRESETS: dict[str, dict[str, dict]] = {
    "tokenizer": {
        "small": dict(dim=256, enc_depth=2, dec_depth=1, heads=8, point_mlp_dim=64, train_points=100, dropout=0.0,
                      factorised=True, image_cond=True),
        "paper": dict(dim=768, enc_depth=2, dec_depth=1, heads=8, point_mlp_dim=256, train_points=None),
    },
    "forward": {
        "small": dict(dim=256, depth=4, heads=8, resnet_width=32, stem_pool=True),
        "paper": dict(dim=768, depth=8, heads=8, resnet_width=64, stem_pool=False),
    },
    "track-baseline": {
        "small": dict(dim=256, depth=4, heads=8, resnet_width=32, stem_pool=True, train_points=32),  # ATM: 32 tracks
        "paper": dict(dim=768, depth=8, heads=8, resnet_width=64, stem_pool=False, train_points=32),
    },
    "inverse": {
        "small": dict(dim=256, depth=4, heads=8, resnet_width=32, stem_pool=True, use_codes=True, use_text=False),
        "paper": dict(dim=768, depth=4, heads=8, resnet_width=64, stem_pool=False, use_codes=True, use_text=False),
    },
    "bc": {
        "small": dict(dim=256, depth=4, heads=8, resnet_width=32, stem_pool=True, use_codes=False, use_text=True),
        "paper": dict(dim=768, depth=4, heads=8, resnet_width=64, stem_pool=False, use_codes=False, use_text=True),
    },
}

TRAIN_PRESETS: dict[str, dict] = {
    # batch size, peak learning rate, steps; AdamW betas (0.9, 0.95) and warm-up + cosine decay
    "small": dict(batch_size=32, lr=5e-4, max_steps=3000, warmup_steps=200),
    "paper": dict(batch_size=64, lr=1e-4, max_steps=50000, warmup_steps=1000),
}

# Per-model departures from TRAIN_PRESETS: (kind, preset) -> settings.
KIND_TRAIN_PRESETS: dict[tuple[str, str], dict] = {
    ("tokenizer", "small"): dict(lr=2e-3),
}
