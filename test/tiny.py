"""Tiny synthetic datasets and model configs for fast tests of the learning code (no simulator)."""

from pathlib import Path

import numpy as np

from amplify_ros.data.dataset import episode_path, prepare
from amplify_ros.data.episode import Episode, Tracks, write_episode

SIZE, POINTS, HORIZON = 32, 16, 6


def tiny_dataset(
    root: Path,
    episodes: int = 4,
    frames: int = 12,
    tasks=("push", "reach"),
    actions: bool = True,
    cameras: tuple[str, ...] = ("cam",),
) -> Path:
    """Episodes whose points drift right at a task-dependent speed, over images that show it
    (every camera the same scene, a little brighter each)."""
    prepare(root, {"env": "synthetic", "image_size": SIZE})
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.linspace(-0.75, 0.75, 4), np.linspace(-0.75, 0.75, 4), indexing="ij"), -1).reshape(
        -1, 2
    )
    for ti, task in enumerate(tasks):
        speed = (ti + 1) * 2 / SIZE  # 1 or 2 px per frame
        for e in range(episodes):
            steps = np.arange(HORIZON)[:, None, None] * np.array([0.0, speed])
            points = np.broadcast_to(grid + steps, (frames, HORIZON, POINTS, 2)).astype(np.float32)
            images = np.full((frames, SIZE, SIZE, 3), 40 + 100 * ti, np.uint8)
            images += rng.integers(0, 20, images.shape, dtype=np.uint8)
            ep = Episode(
                task=task,
                sentence=f"{task} the block",
                images={c: images + 10 * i for i, c in enumerate(cameras)},
                fps=10.0,
                proprio=rng.normal(size=(frames, 4)).astype(np.float32),
                actions=np.full((frames - 1, 4), 0.1 * (ti + 1), np.float32) if actions else None,
                tracks={c: Tracks(points.copy(), np.ones((frames, HORIZON, POINTS), bool), "oracle") for c in cameras},
                success=True,
                seed=e,
                env="synthetic",
            )
            write_episode(episode_path(root, task, e), ep)
    return root


TINY_TOKENIZER = dict(dim=32, enc_depth=1, dec_depth=1, heads=2, point_mlp_dim=16, fsq_levels=[4, 4], dropout=0.0)
TINY_FORWARD = dict(dim=32, depth=1, heads=2, resnet_width=8, dropout=0.0)


def tiny_policy_checkpoint(
    root: Path,
    image_size: int = 32,
    chunk: int = 4,
    amplify: bool = True,
    cameras: tuple[str, ...] = ("corner",),
    parallel_depth: int = 0,
) -> Path:
    """An untrained policy checkpoint for Meta-World-shaped data (4-D proprio and actions, one
    view per camera); AMPLIFY ones carry forward/ and forward/tokenizer/ like a trained one."""
    from amplify_ros.core.checkpoint import save_checkpoint
    from amplify_ros.core.forward_model import ForwardConfig, ForwardModel
    from amplify_ros.core.inverse_model import InverseConfig, InverseModel
    from amplify_ros.core.tokenizer import MotionTokenizer, TokenizerConfig

    views = len(cameras)
    stats = {"image_size": image_size, "views": views, "cameras": list(cameras)}
    vocab = ["<unk>", "press", "the", "button"]
    if not amplify:
        cfg = InverseConfig(
            image_size=image_size, views=views, chunk=chunk, use_codes=False, use_text=True, vocab=vocab, **TINY_FORWARD
        )
        return save_checkpoint(root / "bc", "bc", InverseModel(cfg), stats)
    levels = TINY_TOKENIZER["fsq_levels"]
    tok = save_checkpoint(
        root / "tok",
        "tokenizer",
        MotionTokenizer(TokenizerConfig(image_size=image_size, views=views, **TINY_TOKENIZER)),
        stats,
    )
    fwd = ForwardModel(
        ForwardConfig(
            image_size=image_size,
            views=views,
            fsq_levels=levels,
            vocab=vocab,
            parallel_depth=parallel_depth,
            **TINY_FORWARD,
        )
    )
    fwd_dir = save_checkpoint(root / "fwd", "forward", fwd, stats, nested={"tokenizer": tok})
    inv = InverseModel(
        InverseConfig(image_size=image_size, views=views, chunk=chunk, fsq_levels=levels, **TINY_FORWARD)
    )
    return save_checkpoint(root / "policy", "inverse", inv, stats, nested={"forward": fwd_dir})
