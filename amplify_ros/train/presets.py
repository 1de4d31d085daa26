"""Model and optimisation presets. ``small`` trains to a useful level on 2 CPU cores in well
under an hour per model: ResNet-18 at half width with its stem max-pool (4x4 patch tokens at
128 px; dropping the pool for 8x8 tokens costs 4x the convolution time) and 4 x 256 trunks.
``paper`` is the paper's sizes (31M tokenizer, 8x768 forward trunk, full-width ResNet-18, 8x8
tokens) for a GPU. The preset name is saved with every checkpoint."""

from __future__ import annotations

MODEL_PRESETS: dict[str, dict[str, dict]] = {
    "tokenizer": {
        "small": dict(dim=256, enc_depth=2, dec_depth=1, heads=8, point_mlp_dim=256, train_points=100),
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
