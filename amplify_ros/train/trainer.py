"""The training loop shared by every model: build, step, validate, checkpoint, resume.

A run directory holds ``train.yaml`` (the arguments), ``split.json`` (which episodes train and
which validate), ``tb/`` (TensorBoard), ``checkpoints/step_NNNNNNN/`` and ``last`` (the name of
the newest checkpoint). A checkpoint holds the model (see core/checkpoint.py) plus
``training_state.pt`` (optimizer, scheduler, data position, RNG), so ``--resume`` continues the
exact sequence of updates an uninterrupted run would have made.
"""

from __future__ import annotations

import dataclasses
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from amplify_ros.core.checkpoint import MODELS, build_model, check_data, load_checkpoint, resolve, save_checkpoint
from amplify_ros.core.text import build_vocab
from amplify_ros.data.windows import Split, WindowDataset, split_episodes
from amplify_ros.train import distributed
from amplify_ros.train.evaluate import (baseline_predictor, forward_predictor, moving_errors, moving_mask,
                                       tokenizer_predictor)
from amplify_ros.train.presets import KIND_TRAIN_PRESETS, MODEL_PRESETS, TRAIN_PRESETS


# Settings a resumed run may change: they decide what is logged and kept, not the updates.
BOOKKEEPING = frozenset({"log_every", "val_every", "ckpt_every", "val_batches", "keep_checkpoints"})
PATHS = frozenset({"data", "out", "tokenizer", "forward", "init_from"})
CODE_SOURCES = ("predicted", "gt", "zero")


class TrainError(RuntimeError):
    """Bad arguments or a run directory that does not fit them; reported in one line."""


@dataclass
class TrainArgs:
    kind: str
    data: Path
    out: Path
    preset: str = "small"
    max_steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    warmup_steps: int | None = None
    device: str = "cpu"
    precision: str = "fp32"  # "bf16": matmuls and convolutions of the training step in bfloat16 (autocast)
    seed: int = 0
    val_fraction: float = 0.1
    holdout_tasks: list[str] = field(default_factory=list)
    train_per_task: int | None = None  # at most this many training episodes per task
    cameras: list[str] | None = None
    tokenizer: Path | None = None  # forward model: the frozen tokenizer whose codes it predicts
    forward: Path | None = None  # inverse model: the frozen forward model that supplies its codes
    codes: str = "predicted"  # inverse model: "predicted" by the forward model (paper), "gt" (tokenizer) or "zero" (ablation)
    chunk: int = 16  # inverse / bc: actions per predicted chunk
    init_from: Path | None = None  # start from this checkpoint's weights (those whose names and shapes fit)
    train_only: list[str] = field(default_factory=list)  # parameter name prefixes that train; empty: all
    model_overrides: dict[str, Any] = field(default_factory=dict)  # model config fields over the preset
    log_every: int = 20
    val_every: int = 500
    ckpt_every: int = 500
    val_batches: int = 10
    keep_checkpoints: int = 3
    resume: bool = False
    progress: bool = True

    def resolved(self) -> "TrainArgs":
        """Fill unset optimisation settings from the preset."""
        if self.kind not in MODELS:
            raise TrainError(f"unknown model {self.kind!r}; choose from {sorted(MODELS)}")
        if self.precision not in ("fp32", "bf16"):
            raise TrainError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if self.preset not in TRAIN_PRESETS:
            raise TrainError(f"unknown preset {self.preset!r}; choose from {sorted(TRAIN_PRESETS)}")
        preset = dict(TRAIN_PRESETS[self.preset], **KIND_TRAIN_PRESETS.get((self.kind, self.preset), {}))
        return dataclasses.replace(self, **{k: v if getattr(self, k) is None else getattr(self, k) for k, v in preset.items()})

    def as_yaml(self) -> str:
        plain = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}
        for volatile in ("resume", "progress", "max_steps"):
            plain.pop(volatile)
        return yaml.safe_dump(plain, sort_keys=True)


# --- what differs between models: how to build them and what one step computes -------------


def _build(args: TrainArgs, data: WindowDataset, frozen: dict[str, torch.nn.Module]) -> torch.nn.Module:
    overrides = dict(MODEL_PRESETS[args.kind][args.preset], **args.model_overrides, image_size=data.image_size, views=data.views)
    sample = data[0]
    if args.kind == "tokenizer":
        points = sample["tracks"].shape[-2]
        overrides.update(num_points=points, horizon=sample["tracks"].shape[-3])
        if (overrides.get("train_points") or 0) >= points:
            overrides["train_points"] = None  # the preset's subset is for the 400-point grid
    else:
        overrides["vocab"] = build_vocab(data.sentences)
    if args.kind == "forward":
        tok = frozen["tokenizer"]
        overrides.update(code_len=tok.cfg.code_len, fsq_levels=list(tok.cfg.fsq_levels))
    if args.kind == "track-baseline":
        overrides["horizon"] = sample["tracks"].shape[-3]
    if args.kind in ("inverse", "bc"):
        overrides.update(chunk=args.chunk, **_action_stats(data))
        if args.kind == "inverse":
            fwd = frozen["forward"]
            overrides.update(code_len=fwd.cfg.code_len, fsq_levels=list(fwd.cfg.fsq_levels))
    known = {f.name for f in dataclasses.fields(MODELS[args.kind][1])}
    if set(args.model_overrides) - known:
        raise TrainError(f"--set: {sorted(set(args.model_overrides) - known)} are not {args.kind} settings; known: {sorted(known)}")
    return build_model(args.kind, MODELS[args.kind][1](**overrides))


def _action_stats(data: WindowDataset) -> dict[str, Any]:
    """Normalisation of actions (by range) and proprioception (by mean and std) from training data."""
    actions = np.concatenate([e["actions"] for e in data.episodes])
    proprio = np.concatenate([e["proprio"] for e in data.episodes])
    return {
        "action_dim": actions.shape[1], "proprio_dim": proprio.shape[1],
        "action_low": actions.min(0).tolist(), "action_high": actions.max(0).tolist(),
        "proprio_mean": proprio.mean(0).tolist(), "proprio_std": (proprio.std(0) + 1e-6).tolist(),
    }


def _step(kind: str, model: Callable, batch: dict, frozen: dict[str, torch.nn.Module]) -> tuple[torch.Tensor, dict[str, float]]:
    if kind == "tokenizer":
        return model(batch["tracks"], batch["images"])
    if kind == "forward":
        with torch.no_grad():
            _, codes = frozen["tokenizer"].encode(batch["tracks"])
        return model(batch["images"], batch["sentence"], codes)
    if kind == "track-baseline":
        return model(batch["images"], batch["sentence"], batch["tracks"], batch["visible"])
    args = (batch["images"], batch["proprio"], batch["actions"], batch["action_mask"])
    if kind == "inverse":
        return model(*args, codes=batch["codes"])
    return model(*args, sentences=batch["sentence"])


class CodeCache:
    """Motion codes for every sample of a dataset, computed once: greedy forward-model predictions
    (deterministic, so caching changes nothing), the tokenizer's codes of the true tracks, or the
    all-zero code everywhere (the ablation that withholds the codes)."""

    def __init__(self, codes: torch.Tensor) -> None:
        self.codes = codes

    @classmethod
    def compute(cls, data: WindowDataset, codes_of: Callable[[dict], torch.Tensor], device: torch.device,
                progress: bool) -> "CodeCache":
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


def train(args: TrainArgs) -> Path:
    """Train (or resume) a model; returns the final checkpoint directory."""
    args = args.resolved()
    info = distributed.setup(args.device)
    try:
        return _train(args, info)
    finally:
        distributed.teardown()


def _frozen_models(args: TrainArgs, device: torch.device) -> tuple[dict[str, tuple], dict[str, Path]]:
    """Frozen models this kind needs ({name: (model, stats)}) and the checkpoints to nest in its own."""
    if args.kind == "forward":
        if args.tokenizer is None:
            raise TrainError("the forward model needs --tokenizer RUN (a trained motion tokenizer)")
        return {"tokenizer": load_checkpoint(args.tokenizer, "tokenizer", str(device))}, {"tokenizer": args.tokenizer}
    if args.kind == "inverse":
        if args.forward is None:
            raise TrainError("the inverse model needs --forward RUN (a trained forward model)")
        if args.codes not in CODE_SOURCES:
            raise TrainError(f"--codes must be one of {', '.join(CODE_SOURCES)}, got {args.codes!r}")
        return {"forward": load_checkpoint(args.forward, "forward", str(device))}, {"forward": args.forward}
    return {}, {}


def _prepare_run(args: TrainArgs, info: distributed.DistInfo) -> tuple[Split, Path | None]:
    run = args.out
    state_file = run / "last"
    existing = (run / "train.yaml").is_file()
    if info.world > 1:
        torch.distributed.barrier()  # every rank has looked before rank 0 writes
    if existing:
        if not args.resume:
            raise TrainError(f"{run} already holds a run: pass --resume to continue it, or choose another --out")
        saved, now = yaml.safe_load((run / "train.yaml").read_text()), yaml.safe_load(args.as_yaml())
        defaults = {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
                    for f in dataclasses.fields(TrainArgs)}
        # settings added after the run started count as equal when they keep their default;
        # a folder named another way (relative, through a link) is the same folder
        def same(k: str) -> bool:
            a, b = saved.get(k, defaults.get(k)), now.get(k)
            if k in PATHS and a is not None and b is not None:
                return Path(a).resolve() == Path(b).resolve()
            return a == b

        differ = sorted(k for k in saved.keys() | now.keys() if k not in BOOKKEEPING and not same(k))
        if differ:
            raise TrainError(f"{run} was started with other settings ({', '.join(differ)}; see {run / 'train.yaml'}); "
                             "--resume needs the same ones")
        last = run / state_file.read_text().strip() if state_file.is_file() else None
        return Split.load(run / "split.json"), last
    split = split_episodes(args.data, args.val_fraction, args.seed, args.holdout_tasks, args.train_per_task)
    if not split.train:
        raise TrainError(f"{args.data}: no training episodes (found {len(split.val)} validation, {len(split.heldout_tasks)} held out)")
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        split.save(run / "split.json")
        (run / "train.yaml").write_text(args.as_yaml())
    if info.world > 1:
        torch.distributed.barrier()
    return split, None


def _load_data(args: TrainArgs, split: Split, info: distributed.DistInfo) -> tuple[WindowDataset, WindowDataset | None, dict]:
    """Training and validation samples, and the facts about them a checkpoint records."""
    load = dict(cameras=args.cameras, require_actions=args.kind in ("inverse", "bc"), action_horizon=args.chunk)
    train_set = WindowDataset(args.data, split.train, progress=args.progress and info.is_main, **load)
    val_set = WindowDataset(args.data, split.val, progress=False, **load) if split.val else None
    if not len(train_set):
        raise TrainError(f"{args.data}: no training samples ({train_set.skipped_without_actions} episodes without actions skipped)")
    if train_set.skipped_without_actions and info.is_main:
        print(f"skipped {train_set.skipped_without_actions} training episodes without actions")
    stats = {"image_size": train_set.image_size, "views": train_set.views, "cameras": train_set.cameras,
             "train_episodes": len(train_set.episodes), "train_samples": len(train_set), "preset": args.preset,
             "fps": train_set.fps}
    if args.kind == "inverse":
        stats["codes"] = args.codes  # how a deployment feeds it: "zero" needs no forward model
    if "tracks" in train_set[0]:
        stats["horizon"] = int(train_set[0]["tracks"].shape[-3])
    return train_set, val_set, stats


def _code_caches(args: TrainArgs, frozen: dict, train_set: WindowDataset, val_set: WindowDataset | None,
                 info: distributed.DistInfo) -> dict[str, "CodeCache"]:
    """The inverse model's input codes for every sample: predicted, of the true tracks, or zero."""
    splits = [(name, data) for name, data in (("train", train_set), ("val", val_set)) if data is not None]
    forward = frozen["forward"]
    if args.codes == "zero":
        zero = forward.fsq.zero_index
        return {name: CodeCache(torch.full((len(data), forward.cfg.code_len), zero, dtype=torch.long)) for name, data in splits}
    if args.codes == "predicted":
        def codes_of(batch: dict) -> torch.Tensor:
            return forward.predict(batch["images"], batch["sentence"])
    else:  # true-track codes come from the tokenizer the forward model carries
        tokenizer = load_checkpoint(resolve(args.forward) / "tokenizer", "tokenizer", str(info.device))[0]

        def codes_of(batch: dict) -> torch.Tensor:
            return tokenizer.encode(batch["tracks"])[1]
    return {name: CodeCache.compute(data, codes_of, info.device, args.progress and info.is_main) for name, data in splits}


def _init_from(model: torch.nn.Module, args: TrainArgs, info: distributed.DistInfo) -> None:
    """Copy the weights of ``args.init_from`` whose names and shapes fit ``model``; the rest (a new
    head, say) keeps its fresh initialisation. Says what it did."""
    source, _ = load_checkpoint(resolve(args.init_from), args.kind, str(info.device))
    own, theirs = model.state_dict(), source.state_dict()
    fits = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    if not fits:
        raise TrainError(f"--init-from {args.init_from}: no tensor fits this {args.kind} model (another preset?)")
    model.load_state_dict(fits, strict=False)
    new = sorted({k.split(".")[0] for k in own if k not in fits})
    if info.is_main:
        print(f"init from {args.init_from}: {len(fits)} of {len(own)} tensors; fresh: {', '.join(new) or 'none'}")


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


def _train(args: TrainArgs, info: distributed.DistInfo) -> Path:
    # denormal floats in gradients and optimiser moments made CPU steps 3x slower as runs went on
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed + info.rank)
    np.random.seed(args.seed + info.rank)
    random.seed(args.seed + info.rank)
    frozen, nested = _frozen_models(args, info.device)
    split, last = _prepare_run(args, info)
    if last is not None and torch.load(last / "training_state.pt", weights_only=False)["step"] >= args.max_steps:
        return last  # resuming a finished run: nothing to load or train
    train_set, val_set, stats = _load_data(args, split, info)
    for name, (_, frozen_stats) in frozen.items():
        for warning in check_data(frozen_stats, stats["image_size"], stats["views"], stats.get("horizon"), stats["fps"]):
            print(f"warning: frozen {name}: {warning}", file=sys.stderr)
    frozen = {name: model for name, (model, _) in frozen.items()}
    caches = _code_caches(args, frozen, train_set, val_set, info) if args.kind == "inverse" else {}

    model = _build(args, train_set, frozen).to(info.device)
    if args.init_from is not None and last is None:
        _init_from(model, args, info)
    trainable = _trainable(model, args.train_only)
    opt = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_cosine(args.warmup_steps, args.max_steps))
    step, epoch, pos = 0, 0, 0
    if last is not None:
        loaded, _ = load_checkpoint(last, args.kind, str(info.device))
        model.load_state_dict(loaded.state_dict())
        state = torch.load(last / "training_state.pt", weights_only=False)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, epoch, pos = state["step"], state["epoch"], state["pos"]
        _set_rng_state(state["rng"][info.rank] if info.rank < len(state["rng"]) else state["rng"][0])
    wrapped = DistributedDataParallel(model) if info.world > 1 else model
    writer = _tensorboard(args.out) if info.is_main else None
    if info.is_main and args.progress:
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{args.kind} ({args.preset}): {n_params / 1e6:.1f}M parameters, {len(train_set)} training samples "
              f"from {len(split.train)} episodes, {len(split.val)} validation episodes, step {step}/{args.max_steps}")

    def batches() -> Iterator[dict]:
        nonlocal epoch, pos
        while True:
            sampler = EpochSampler(len(train_set), args.seed, epoch, info.rank, info.world, pos)
            # a private generator: making a DataLoader iterator must not draw from the global RNG,
            # or a resumed run (which makes a new one mid-epoch) would diverge
            loader = DataLoader(train_set, args.batch_size, sampler=sampler, drop_last=True, generator=torch.Generator())
            for batch in loader:
                pos += args.batch_size
                yield batch
            epoch, pos = epoch + 1, 0

    stream = batches()
    bar = tqdm(total=args.max_steps, initial=step, desc=args.kind, disable=not (info.is_main and args.progress), unit="step")
    sums: dict[str, float] = {}
    tick, seen, logged = time.perf_counter(), 0, 0
    _train_mode(model)
    while step < args.max_steps:
        batch = next(stream)
        if "train" in caches:
            caches["train"].attach(batch)
        with torch.autocast(info.device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss, metrics = _step(args.kind, wrapped, _to(batch, info.device), frozen)
        if not torch.isfinite(loss):
            raise TrainError(f"loss became {loss.item()} at step {step}: lower --lr or check the data")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        seen += args.batch_size * info.world
        logged += 1
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v
        if step % args.log_every == 0 or step == args.max_steps:
            rate = seen / (time.perf_counter() - tick)
            means = {k: v / logged for k, v in sums.items()}
            if writer:
                for k, v in means.items():
                    writer.add_scalar(f"train/{k}", v, step)
                writer.add_scalar("train/lr", sched.get_last_lr()[0], step)
                writer.add_scalar("train/samples_per_s", rate, step)
            bar.set_postfix(loss=f"{means.get('loss', float('nan')):.4f}", samples_per_s=f"{rate:.0f}")
            sums, tick, seen, logged = {}, time.perf_counter(), 0, 0
        if val_set is not None and (step % args.val_every == 0 or step == args.max_steps) and info.is_main:
            val = _validate(args, model, val_set, frozen, caches.get("val"), info.device)
            for k, v in val.items():
                writer.add_scalar(f"val/{k}", v, step)
            bar.write(f"step {step}: " + ", ".join(f"val {k} {v:.4f}" for k, v in val.items()))
        if step % args.ckpt_every == 0 or step == args.max_steps:
            last = _save(args, info, model, opt, sched, step, epoch, pos, stats, nested)
        bar.update(1)
    bar.close()
    if writer:
        writer.close()
    return last


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


@torch.no_grad()
def _validate(args: TrainArgs, model: torch.nn.Module, data: WindowDataset, frozen: dict, cache: "CodeCache | None",
              device: torch.device) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    g = torch.Generator().manual_seed(args.seed)  # the same validation batches every time
    sampler = torch.randperm(len(data), generator=g).tolist()[: args.val_batches * args.batch_size]
    predict = _track_predictor(args.kind, model, frozen)
    preds, truths = [], []
    for batch in DataLoader(data, args.batch_size, sampler=sampler, generator=torch.Generator()):
        if cache is not None:
            cache.attach(batch)
        batch = _to(batch, device)
        _, metrics = _step(args.kind, model, batch, frozen)
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


def _track_predictor(kind: str, model: torch.nn.Module, frozen: dict) -> Callable[[dict], torch.Tensor] | None:
    if kind == "tokenizer":
        return tokenizer_predictor(model)
    if kind == "forward":
        return forward_predictor(model, frozen["tokenizer"])
    if kind == "track-baseline":
        return baseline_predictor(model)
    return None


def _save(args, info, model, opt, sched, step, epoch, pos, stats, nested) -> Path:
    ckpt_dir = args.out / "checkpoints" / f"step_{step:07d}"
    # every rank's RNG, so each continues its own stream after --resume
    rngs = [None] * info.world
    if info.world > 1:
        torch.distributed.all_gather_object(rngs, _rng_state())
    else:
        rngs = [_rng_state()]
    if info.is_main:
        save_checkpoint(ckpt_dir, args.kind, model, stats, nested)
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step, "epoch": epoch,
                    "pos": pos, "rng": rngs}, ckpt_dir / "training_state.pt")
        tmp = args.out / "last.tmp"
        tmp.write_text(str(ckpt_dir.relative_to(args.out)) + "\n")
        tmp.replace(args.out / "last")
        for old in sorted((args.out / "checkpoints").glob("step_*"))[: -args.keep_checkpoints]:
            shutil.rmtree(old)
    if info.world > 1:
        torch.distributed.barrier()
    return ckpt_dir


def _tensorboard(run: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run / "tb"))
