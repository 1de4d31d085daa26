"""The training loop shared by every model: build, step, validate, checkpoint, resume.

A run directory holds ``train.yaml`` (its TrainConfig, config.py), ``split.json`` (which episodes train and
which validate), ``tb/`` (TensorBoard), ``checkpoints/step_NNNNNNN/`` and ``last`` (the name of
the newest checkpoint). A checkpoint holds the model (see core/checkpoint.py) plus
``training_state.pt`` (optimizer, scheduler, data position, RNG), so ``--resume`` continues the
exact sequence of updates an uninterrupted run would have made.
"""

from __future__ import annotations

import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from amplify_ros.core.checkpoint import check_data, load_checkpoint, resolve, save_checkpoint
from amplify_ros.data.windows import Split, WindowDataset, split_episodes
from amplify_ros.train import distributed
from amplify_ros.train.config import TrainConfig, TrainError, changed_settings, read_train_yaml
from amplify_ros.train.evaluate import moving_errors, moving_mask
from amplify_ros.train.model_kinds import KINDS, new_model
from amplify_ros.train.presets import with_preset


class CodeCache:
    """Motion codes for every sample of a dataset, computed once: greedy forward-model predictions
    (deterministic, so caching changes nothing), the tokenizer's codes of the true tracks, or the
    all-zero code everywhere (the ablation that withholds the codes)."""

    def __init__(self, codes: torch.Tensor) -> None:
        self.codes = codes

    @classmethod
    def compute(
        cls, data: WindowDataset, codes_of: Callable[[dict], torch.Tensor], device: torch.device, progress: bool
    ) -> CodeCache:
        codes = []
        loader = DataLoader(data, 64, generator=torch.Generator())
        for batch in tqdm(loader, desc="motion codes", disable=not progress, unit="batch"):
            with torch.inference_mode():
                codes.append(codes_of(_to(batch, device)).cpu())
        return cls(torch.cat(codes) if codes else torch.zeros(0, dtype=torch.long))

    def attach(self, batch: dict) -> dict:
        batch["codes"] = self.codes[batch["index"]]
        return batch


# --- data order that can be resumed mid-epoch ------------------------------------------------


class EpochSampler(torch.utils.data.Sampler[int]):
    """A seeded permutation per epoch, this rank's share of it, from position ``start``."""

    def __init__(self, n: int, seed: int, epoch: int, rank: int, world: int, start: int = 0) -> None:
        g = torch.Generator().manual_seed(seed * 100_003 + epoch)
        self.indices = torch.randperm(n, generator=g)[rank::world].tolist()[start:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


# --- the loop --------------------------------------------------------------------------------


def train(config: TrainConfig) -> Path:
    """Train (or resume) a model; returns the final checkpoint directory."""
    config = with_preset(config)
    info = distributed.setup(config.device)
    try:
        return _train(config, info)
    finally:
        distributed.teardown()


def _frozen_models(config: TrainConfig, device: torch.device) -> tuple[dict[str, tuple], dict[str, Path]]:
    """The frozen model this kind learns from ({name: (model, stats)}) and the checkpoint to nest in its own."""
    need = KINDS[config.kind].learns_from
    if need is None:
        return {}, {}
    path = getattr(config.model, need.kind)
    if path is None:
        raise TrainError(f"the {config.kind} model needs --{need.kind} RUN ({need.what})")
    return {need.kind: load_checkpoint(path, need.kind, str(device))}, {need.kind: path}


def _prepare_run(config: TrainConfig, info: distributed.DistInfo) -> tuple[Split, Path | None]:
    run = config.out
    state_file = run / "last"
    existing = (run / "train.yaml").is_file()
    if info.world > 1:
        torch.distributed.barrier()  # every rank has looked before rank 0 writes
    if existing:
        if not config.resume:
            raise TrainError(f"{run} already holds a run: pass --resume to continue it, or choose another --out")
        differ = changed_settings(read_train_yaml((run / "train.yaml").read_text()), config)
        if differ:
            raise TrainError(
                f"{run} was started with other settings ({', '.join(differ)}; see {run / 'train.yaml'}); "
                "--resume needs the same ones"
            )
        if info.is_main:  # now with this call's steps and bookkeeping (atomically: other ranks may be reading it)
            (run / "train.yaml.tmp").write_text(config.to_yaml())
            (run / "train.yaml.tmp").replace(run / "train.yaml")
        last = run / state_file.read_text().strip() if state_file.is_file() else None
        return Split.load(run / "split.json"), last
    data = config.data
    split = split_episodes(data.root, data.val_fraction, config.seed, data.holdout_tasks, data.train_per_task)
    if not split.train:
        raise TrainError(
            f"{data.root}: no training episodes (found {len(split.val)} validation, "
            f"{len(split.heldout_tasks)} held out)"
        )
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        split.save(run / "split.json")
        (run / "train.yaml").write_text(config.to_yaml())
    if info.world > 1:
        torch.distributed.barrier()
    return split, None


def _load_data(
    config: TrainConfig, split: Split, info: distributed.DistInfo
) -> tuple[WindowDataset, WindowDataset | None, dict]:
    """Training and validation samples, and the facts about them a checkpoint records."""
    kind, root = KINDS[config.kind], config.data.root
    load = dict(cameras=config.data.cameras, require_actions=kind.actions, action_horizon=config.model.chunk)
    train_set = WindowDataset(root, split.train, progress=config.logging.progress and info.is_main, **load)
    val_set = WindowDataset(root, split.val, progress=False, **load) if split.val else None
    if not len(train_set):
        raise TrainError(
            f"{root}: no training samples ({train_set.skipped_without_actions} episodes without actions skipped)"
        )
    if train_set.skipped_without_actions and info.is_main:
        print(f"skipped {train_set.skipped_without_actions} training episodes without actions")
    stats = {
        "image_size": train_set.image_size,
        "views": train_set.views,
        "cameras": train_set.cameras,
        "train_episodes": len(train_set.episodes),
        "train_samples": len(train_set),
        "preset": config.preset,
        "fps": train_set.fps,
    }
    if kind.codes:
        stats["codes"] = config.model.codes  # how a deployment feeds it: "zero" needs no forward model
    if "tracks" in train_set[0]:
        stats["horizon"] = int(train_set[0]["tracks"].shape[-3])
    return train_set, val_set, stats


def _code_caches(
    config: TrainConfig,
    frozen: dict,
    train_set: WindowDataset,
    val_set: WindowDataset | None,
    info: distributed.DistInfo,
) -> dict[str, CodeCache]:
    """The inverse model's input codes for every sample: predicted, of the true tracks, or zero."""
    splits = [(name, data) for name, data in (("train", train_set), ("val", val_set)) if data is not None]
    forward = frozen["forward"]
    if config.model.codes == "zero":
        zero = forward.fsq.zero_index
        return {
            name: CodeCache(torch.full((len(data), forward.cfg.code_len), zero, dtype=torch.long))
            for name, data in splits
        }
    if config.model.codes == "predicted":

        def codes_of(batch: dict) -> torch.Tensor:
            return forward.predict(batch["images"], batch["sentence"])
    else:  # true-track codes come from the tokenizer the forward model carries
        tokenizer = load_checkpoint(resolve(config.model.forward) / "tokenizer", "tokenizer", str(info.device))[0]

        def codes_of(batch: dict) -> torch.Tensor:
            return tokenizer.encode(batch["tracks"])[1]

    progress = config.logging.progress and info.is_main
    return {name: CodeCache.compute(data, codes_of, info.device, progress) for name, data in splits}


def _init_from(model: torch.nn.Module, config: TrainConfig, info: distributed.DistInfo) -> None:
    """Copy the weights of ``--init-from`` whose names and shapes fit ``model``; the rest (a new
    head, say) keeps its fresh initialisation. Says what it did."""
    source_path = config.model.init_from
    source, _ = load_checkpoint(resolve(source_path), config.kind, str(info.device))
    own, theirs = model.state_dict(), source.state_dict()
    fits = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    if not fits:
        raise TrainError(f"--init-from {source_path}: no tensor fits this {config.kind} model (another preset?)")
    model.load_state_dict(fits, strict=False)
    new = sorted({k.split(".")[0] for k in own if k not in fits})
    if info.is_main:
        print(f"init from {source_path}: {len(fits)} of {len(own)} tensors; fresh: {', '.join(new) or 'none'}")


def _trainable(model: torch.nn.Module, prefixes: list[str]) -> list[torch.nn.Parameter]:
    """The parameters that train: those named with one of ``prefixes`` (all when empty); the
    others are frozen."""
    if not prefixes:
        return list(model.parameters())
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(any(name.startswith(prefix) for prefix in prefixes))
        if p.requires_grad:
            params.append(p)
    if not params:
        top = sorted({name.split(".")[0] for name, _ in model.named_parameters()})
        raise TrainError(f"--train-only {prefixes} names no parameter; this model's parts: {', '.join(top)}")
    return params


def _train_mode(model: torch.nn.Module) -> None:
    """Training mode, except for parts with no parameter that trains (``--train-only``): frozen
    parts stay as at inference, without dropout or batch-norm statistics that drift."""
    model.train()
    for module in model.modules():
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            module.eval()


def _train(config: TrainConfig, info: distributed.DistInfo) -> Path:
    kind, optim, schedule, logging = KINDS[config.kind], config.optim, config.schedule, config.logging
    # denormal floats in gradients and optimiser moments made CPU steps 3x slower as runs went on
    torch.set_flush_denormal(True)
    torch.manual_seed(config.seed + info.rank)
    np.random.seed(config.seed + info.rank)
    random.seed(config.seed + info.rank)
    frozen, nested = _frozen_models(config, info.device)
    split, last = _prepare_run(config, info)
    if last is not None and torch.load(last / "training_state.pt", weights_only=False)["step"] >= schedule.max_steps:
        return last  # resuming a finished run: nothing to load or train
    train_set, val_set, stats = _load_data(config, split, info)
    for name, (_, frozen_stats) in frozen.items():
        for warning in check_data(
            frozen_stats, stats["image_size"], stats["views"], stats.get("horizon"), stats["fps"]
        ):
            print(f"warning: frozen {name}: {warning}", file=sys.stderr)
    frozen = {name: model for name, (model, _) in frozen.items()}
    caches = _code_caches(config, frozen, train_set, val_set, info) if kind.codes else {}

    model = new_model(config, train_set, frozen).to(info.device)
    if config.model.init_from is not None and last is None:
        _init_from(model, config, info)
    trainable = _trainable(model, optim.train_only)
    opt = torch.optim.AdamW(trainable, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay)
    lr_factor = _warmup_cosine(schedule.warmup_steps, schedule.max_steps, schedule.lr_floor)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    step, epoch, pos = 0, 0, 0
    if last is not None:
        loaded, _ = load_checkpoint(last, config.kind, str(info.device))
        model.load_state_dict(loaded.state_dict())
        state = torch.load(last / "training_state.pt", weights_only=False)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, epoch, pos = state["step"], state["epoch"], state["pos"]
        _set_rng_state(state["rng"][info.rank] if info.rank < len(state["rng"]) else state["rng"][0])
    wrapped = DistributedDataParallel(model) if info.world > 1 else model
    writer = _tensorboard(config.out) if info.is_main else None
    if info.is_main and logging.progress:
        n_params = sum(p.numel() for p in model.parameters())
        print(
            f"settings (train.yaml):\n{config.to_yaml()}"
            f"{config.kind} ({config.preset}): {n_params / 1e6:.1f}M parameters, {len(train_set)} training samples "
            f"from {len(split.train)} episodes, {len(split.val)} validation episodes, "
            f"step {step}/{schedule.max_steps}"
        )

    def batches() -> Iterator[dict]:
        nonlocal epoch, pos
        while True:
            sampler = EpochSampler(len(train_set), config.seed, epoch, info.rank, info.world, pos)
            # a private generator: making a DataLoader iterator must not draw from the global RNG,
            # or a resumed run (which makes a new one mid-epoch) would diverge
            loader = DataLoader(
                train_set, optim.batch_size, sampler=sampler, drop_last=True, generator=torch.Generator()
            )
            for batch in loader:
                pos += optim.batch_size
                yield batch
            epoch, pos = epoch + 1, 0

    stream = batches()
    show = info.is_main and logging.progress
    bar = tqdm(total=schedule.max_steps, initial=step, desc=config.kind, disable=not show, unit="step")
    sums: dict[str, float] = {}
    tick, seen, logged = time.perf_counter(), 0, 0
    _train_mode(model)
    while step < schedule.max_steps:
        batch = next(stream)
        if "train" in caches:
            caches["train"].attach(batch)
        with torch.autocast(info.device.type, dtype=torch.bfloat16, enabled=optim.precision == "bf16"):
            loss, metrics = kind.step(wrapped, _to(batch, info.device), frozen)
        if not torch.isfinite(loss):
            raise TrainError(f"loss became {loss.item()} at step {step}: lower --lr or check the data")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
        opt.step()
        sched.step()
        step += 1
        seen += optim.batch_size * info.world
        logged += 1
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v
        if step % logging.log_every == 0 or step == schedule.max_steps:
            rate = seen / (time.perf_counter() - tick)
            means = {k: v / logged for k, v in sums.items()}
            if writer:
                for k, v in means.items():
                    writer.add_scalar(f"train/{k}", v, step)
                writer.add_scalar("train/lr", sched.get_last_lr()[0], step)
                writer.add_scalar("train/samples_per_s", rate, step)
            bar.set_postfix(loss=f"{means.get('loss', float('nan')):.4f}", samples_per_s=f"{rate:.0f}")
            sums, tick, seen, logged = {}, time.perf_counter(), 0, 0
        if val_set is not None and (step % logging.val_every == 0 or step == schedule.max_steps) and info.is_main:
            val = _validate(config, model, val_set, frozen, caches.get("val"), info.device)
            for k, v in val.items():
                writer.add_scalar(f"val/{k}", v, step)
            bar.write(f"step {step}: " + ", ".join(f"val {k} {v:.4f}" for k, v in val.items()))
        if step % logging.ckpt_every == 0 or step == schedule.max_steps:
            last = _save(config, info, model, opt, sched, step, epoch, pos, stats, nested)
        bar.update(1)
    bar.close()
    if writer:
        writer.close()
    return last


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _warmup_cosine(warmup: int, total: int, floor: float) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


@torch.no_grad()
def _validate(
    config: TrainConfig,
    model: torch.nn.Module,
    data: WindowDataset,
    frozen: dict,
    cache: CodeCache | None,
    device: torch.device,
) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    kind, batch_size = KINDS[config.kind], config.optim.batch_size
    g = torch.Generator().manual_seed(config.seed)  # the same validation batches every time
    sampler = torch.randperm(len(data), generator=g).tolist()[: config.logging.val_batches * batch_size]
    predict = kind.predictor(model, frozen) if kind.predictor else None
    preds, truths = [], []
    for batch in DataLoader(data, batch_size, sampler=sampler, generator=torch.Generator()):
        if cache is not None:
            cache.attach(batch)
        batch = _to(batch, device)
        _, metrics = kind.step(model, batch, frozen)
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
        if predict is not None:
            preds.append(predict(batch).cpu().numpy())
            truths.append(batch["tracks"].cpu().numpy())
    _train_mode(model)
    out = {k: v / max(n, 1) for k, v in sums.items()}
    if preds:  # the headline: error on moving points, as a fraction of "nothing moves"
        pred, truth = np.concatenate(preds), np.concatenate(truths)
        errors = moving_errors(pred, truth, moving_mask(truth, data.image_size))
        out.update(moving_mse=errors["moving_mse"], moving_vs_zero_motion=errors["vs_zero_motion"])
    return out


def _save(config, info, model, opt, sched, step, epoch, pos, stats, nested) -> Path:
    run = config.out
    ckpt_dir = run / "checkpoints" / f"step_{step:07d}"
    # every rank's RNG, so each continues its own stream after --resume
    rngs = [None] * info.world
    if info.world > 1:
        torch.distributed.all_gather_object(rngs, _rng_state())
    else:
        rngs = [_rng_state()]
    if info.is_main:
        save_checkpoint(ckpt_dir, config.kind, model, stats, nested)
        torch.save(
            {
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "step": step,
                "epoch": epoch,
                "pos": pos,
                "rng": rngs,
            },
            ckpt_dir / "training_state.pt",
        )
        tmp = run / "last.tmp"
        tmp.write_text(str(ckpt_dir.relative_to(run)) + "\n")
        tmp.replace(run / "last")
        for old in sorted((run / "checkpoints").glob("step_*"))[: -config.logging.keep_checkpoints]:
            shutil.rmtree(old)
    if info.world > 1:
        torch.distributed.barrier()
    return ckpt_dir


def _tensorboard(run: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run / "tb"))
