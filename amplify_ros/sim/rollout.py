"""Record one scripted-expert episode of a Meta-World task, with exact tracks per camera."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from amplify_ros.core.tracks import GRID_SIZE, HORIZON
from amplify_ros.data.episode import Episode, Tracks
from amplify_ros.sim.ground_truth import GroundTruthTracker
from amplify_ros.sim.metaworld_env import ACTION_DIM, MetaWorldTask


@dataclass(frozen=True)
class RolloutConfig:
    action_noise: float = 0.1  # std of Gaussian noise added to every expert action (action units)
    max_steps: int | None = None  # None: the task's own limit (500 in Meta-World)
    action_free: bool = False  # drop actions from the recorded episode
    action_repeat: int = 1  # simulator steps per recorded frame (Meta-World: 80 Hz / K frames per second)
    tracks: bool = True  # exact ground-truth tracks
    grid_size: int = GRID_SIZE
    horizon: int = HORIZON

    def __post_init__(self) -> None:
        if self.action_noise < 0:
            raise ValueError(f"action_noise must be >= 0, got {self.action_noise}")
        if self.action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {self.action_repeat}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")


@dataclass
class RolloutTiming:
    """Seconds spent per stage, summed over the frames of one episode."""

    frames: int = 0
    physics: float = 0.0
    render: float = 0.0
    tracks: float = 0.0


def record_episode(sim: MetaWorldTask, seed: int, cfg: RolloutConfig) -> tuple[Episode, RolloutTiming]:
    """Run the noisy expert from ``reset(seed)`` until success or the step limit (in simulator
    steps). With ``action_repeat`` K the expert still acts every simulator step, but a frame is
    recorded every K steps and the action between two frames is the mean of the K actions
    applied: holding it for K steps moves the arm as the expert did (how policies execute it)."""
    rng = np.random.default_rng(seed)
    timing = RolloutTiming()
    sim.reset(seed)
    trackers = (
        {
            cam: GroundTruthTracker(sim.model, cam, sim.camera_models[cam], cfg.grid_size, cfg.horizon)
            for cam in sim.cameras
        }
        if cfg.tracks
        else {}
    )
    images: dict[str, list[np.ndarray]] = {cam: [] for cam in sim.cameras}
    proprio, states, actions = [], [], []

    def record_frame() -> None:
        t0 = time.perf_counter()
        for cam in sim.cameras:
            images[cam].append(sim.render(cam))
        t1 = time.perf_counter()
        for tracker in trackers.values():
            tracker.observe(sim.data)
        timing.render += t1 - t0
        timing.tracks += time.perf_counter() - t1
        timing.frames += 1
        proprio.append(sim.proprio())
        states.append(sim.obs.astype(np.float32))

    record_frame()
    success = unstable = False
    max_steps = min(cfg.max_steps or sim.max_steps, sim.max_steps)
    applied: list[np.ndarray] = []
    for step in range(max_steps):
        t0 = time.perf_counter()
        action = sim.expert_action()
        action = np.clip(action + rng.normal(0.0, cfg.action_noise, action.shape), -1.0, 1.0)
        _, success, unstable = sim.step(action)
        timing.physics += time.perf_counter() - t0
        if unstable:
            break
        applied.append(action)
        if len(applied) == cfg.action_repeat or success or step == max_steps - 1:
            actions.append(np.mean(applied, axis=0).astype(np.float32))
            applied = []
            record_frame()
        if success:
            break

    tracks = {}
    for cam, tracker in trackers.items():
        points, visible = tracker.tracks()
        tracks[cam] = Tracks(points, visible, source="oracle")
    cameras_info = {
        cam: {"K": m.intrinsics().tolist(), "fovy_deg": m.fovy_deg, "rotate_180": m.rotate_180}
        for cam, m in sim.camera_models.items()
    }
    episode = Episode(
        task=sim.task,
        sentence=sim.sentence,
        images={cam: np.stack(frames) for cam, frames in images.items()},
        fps=1.0 / (sim.dt * cfg.action_repeat),
        proprio=np.stack(proprio),
        actions=None if cfg.action_free else np.stack(actions).reshape(-1, ACTION_DIM),
        tracks=tracks,
        success=success,
        seed=seed,
        env="metaworld",
        extras={"env_state": np.stack(states), "rand_vec": sim.rand_vec},
        info={
            "action_noise": cfg.action_noise,
            "action_repeat": cfg.action_repeat,
            "unstable": unstable,
            "cameras": cameras_info,
            "proprio": ["ee_x", "ee_y", "ee_z", "gripper_opening"],
            "actions": ["dx", "dy", "dz", "gripper"],
        },
    )
    return episode, timing
