"""Closed-loop evaluation of a policy in Meta-World: success rates with confidence intervals.

Every episode starts from a fresh, seeded task variation (seeds derived from an evaluation
seed, disjoint from the data engine's), runs until Meta-World reports success or the step limit,
and stops early, counted as a failure with its reason, when the policy produces a non-finite
action or the simulation becomes unstable. Non-finite actions never reach the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from amplify_ros.control.policy_runner import PolicyRunner, RunnerSettings
from amplify_ros.core.checkpoint import CheckpointError
from amplify_ros.data import viewer
from amplify_ros.data.image_msgs import jpeg_round_trip
from amplify_ros.sim.session import EpisodeResult

EVAL_SEED = 1_000_003  # datasets use small seeds; evaluation episodes never coincide with them


@dataclass(frozen=True)
class EvalSettings:
    checkpoint: Path
    max_steps: int = 500
    ensemble: str = "temporal"  # or "open-loop"
    ensemble_k: float = 0.01
    execute: int | None = None  # open loop: steps of a chunk to execute before replanning
    video_dir: Path | None = None
    codes: str = "policy"  # or "expert-future": the tokenizer's codes of the expert's future (an upper bound)
    code_decoding: str = "autoregressive"  # how the policy's forward model predicts them ("parallel": one pass)
    runtime: str = "torch"  # or "onnxruntime" (core/onnx_inference.py): the same actions, faster on a CPU
    jpeg_quality: int | None = None  # the policy sees each frame jpeg-compressed at this quality (1-100), as from a
    # compressed recording or topic; None: the rendered frame itself

    def __post_init__(self) -> None:
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100 or None, got {self.jpeg_quality}")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


_STATE: dict = {}


def _worker_init(checkpoint: Path) -> None:
    import torch

    from amplify_ros.core.policy import Policy

    torch.set_num_threads(1)
    _STATE["policy"] = Policy.load(checkpoint)


def run_episode(task: str, index: int, seed: int, settings: EvalSettings, write_video: bool) -> EpisodeResult:
    """One closed-loop episode (uses the policy and simulator cached in this process)."""
    from amplify_ros.sim.metaworld_env import MetaWorldTask

    policy = _STATE.get("policy")
    if policy is None:
        _worker_init(settings.checkpoint)
        policy = _STATE["policy"]
    sim = _STATE.get("sim")
    cameras = tuple(policy.cameras)
    if sim is None or sim.task != task:
        if sim is not None:
            sim.close()
            if _STATE["future"] is not None:
                _STATE["future"].close()
        sim = _STATE["sim"] = MetaWorldTask(task, policy.image_size, cameras)
        _STATE["future"] = expert_future(policy, sim) if settings.codes == "expert-future" else None
    future = _STATE["future"]
    policy.configure(settings.runtime, settings.code_decoding)  # graphs are exported once, then reused
    runner = PolicyRunner(policy, RunnerSettings(settings.ensemble, settings.ensemble_k, settings.execute))
    sim.reset(seed)
    if future is not None:
        future.reset(seed)
    frames, policy_ms = [], []
    success, steps, reason = False, 0, "timeout"
    repeat = policy.action_repeat(sim.dt)
    limit = min(settings.max_steps, sim.max_steps)
    for step in range(0, limit, repeat):
        images = np.stack([sim.render(c) for c in cameras])
        if settings.jpeg_quality is not None:
            images = np.stack([jpeg_round_trip(image, settings.jpeg_quality) for image in images])
        if write_video:
            frames.append(images[0])
        codes = future.codes(sim) if future is not None and runner.needs_chunk else None
        out = runner.step(images, sim.proprio(), sim.sentence, step * sim.dt, codes)
        if out.prediction is not None:
            policy_ms.append(out.prediction.timings_ms["total_ms"])
        if out.refusal is not None:
            if out.refusal[0] != "nonfinite_action":  # the simulator's inputs are always usable: a bug
                raise RuntimeError(f"{task} episode {index}: {out.refusal[1]}")
            reason = "nonfinite_action"
            break
        hit, unstable, applied = sim.hold(out.action, min(repeat, limit - step))  # acts at its training rate
        steps = step + applied
        if unstable or hit:  # an unstable simulation's "success" does not count
            success, reason = not unstable, "unstable" if unstable else "success"
            break
    if write_video and settings.video_dir is not None:
        h, w = frames[0].shape[:2]
        viewer.write_video(
            settings.video_dir / f"{task}_{index:03d}_{reason}.mp4",
            (cv2.resize(f, (w * 3, h * 3), interpolation=cv2.INTER_NEAREST) for f in frames),
            20,
        )
    return EpisodeResult(task, index, seed, success, steps, reason, tuple(policy_ms))


def future_tokenizer(policy):
    """The tokenizer that encodes the expert's future for ``policy``: the one its forward model
    carries (its codes are the ones the inverse model was trained on)."""
    if policy.motion is None or policy.motion.tokenizer is None:
        raise CheckpointError("--codes expert-future needs an AMPLIFY policy whose forward model carries its tokenizer")
    return policy.motion.tokenizer


def expert_future(policy, sim):
    """The true-future code source for ``policy`` in ``sim``."""
    from amplify_ros.sim.expert_future import ExpertFuture

    return ExpertFuture(
        sim.task, policy.image_size, sim.cameras, future_tokenizer(policy), policy.action_repeat(sim.dt)
    )


def run(
    jobs: list[tuple[str, int, int]], settings: EvalSettings, workers: int = 1, videos_per_task: int = 2
) -> Iterator[EpisodeResult]:
    """Evaluate (task, index, seed) jobs, yielding outcomes as they finish."""
    args = [(t, i, s, settings, settings.video_dir is not None and i < videos_per_task) for t, i, s in jobs]
    if workers <= 1:
        for a in args:
            yield run_episode(*a)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_worker_init, initargs=(settings.checkpoint,)
    ) as pool:
        futures = [pool.submit(run_episode, *a) for a in args]
        for fut in as_completed(futures):
            yield fut.result()


def summarise(outcomes: list[EpisodeResult]) -> dict:
    """Per-task and mean success with 95 % intervals, failure reasons and policy latency."""
    tasks = sorted({o.task for o in outcomes})
    per_task = {}
    for t in tasks:
        mine = [o for o in outcomes if o.task == t]
        k = sum(o.success for o in mine)
        lo, hi = wilson_interval(k, len(mine))
        reasons: dict[str, int] = {}
        for o in mine:
            reasons[o.reason] = reasons.get(o.reason, 0) + 1
        per_task[t] = {
            "success": k / len(mine),
            "episodes": len(mine),
            "ci95": [lo, hi],
            "reasons": reasons,
            "mean_steps": float(np.mean([o.steps for o in mine])),
        }
    n, k = len(outcomes), sum(o.success for o in outcomes)
    ms = [m for o in outcomes for m in o.policy_ms]
    return {
        "mean_success": float(np.mean([v["success"] for v in per_task.values()])) if per_task else 0.0,
        "episodes": n,
        "ci95_pooled": list(wilson_interval(k, n)),
        "per_task": per_task,
        "policy_ms_p50": float(np.percentile(ms, 50)) if ms else None,
        "policy_ms_p95": float(np.percentile(ms, 95)) if ms else None,
    }
