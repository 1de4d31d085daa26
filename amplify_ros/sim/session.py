"""A run of Meta-World episodes driven from outside, one action at a time: what the sim bridge
node steps. Episode bookkeeping (seeds, step limit, success, results) lives here, without ROS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.sim.generate import episode_seed
from amplify_ros.sim.metaworld_env import ACTION_DIM, MetaWorldTask
from amplify_ros.sim.metaworld_tasks import canonical

ARM_JOINT_PREFIXES = ("right_j", "r_close", "l_close")  # the Sawyer's arm and gripper joints
EE_STATE_NAMES = ["ee_x", "ee_y", "ee_z", "gripper"]  # the policy's proprioception, by name
ACTION_NAMES = ["ee_dx", "ee_dy", "ee_dz", "gripper"]


def check_action(action: np.ndarray) -> np.ndarray:
    """``action`` as float64, or ValueError unless it is 4 finite numbers."""
    action = np.asarray(action, np.float64)
    if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
        raise ValueError(f"an action is {ACTION_DIM} finite numbers {ACTION_NAMES}, got {action.tolist()}")
    return action


@dataclass(frozen=True)
class EpisodeResult:
    """How one simulated episode ended: the sim bridge's and the evaluator's."""

    task: str
    index: int
    seed: int
    success: bool
    steps: int
    reason: str  # success | timeout | unstable | reset (bridge) | nonfinite_action (evaluator)
    policy_ms: tuple[float, ...] = field(default=(), compare=False)  # the evaluator's chunk times

    def as_dict(self) -> dict:
        """The bridge's JSON (it does not time the policy: no policy_ms)."""
        out = asdict(self)
        del out["policy_ms"]
        return out


class SimSession:
    """Episodes of one task with seeds derived from (``seed``, task, episode index)."""

    def __init__(
        self,
        task: str,
        image_size: int = IMAGE_SIZE,
        cameras: tuple[str, ...] = ("corner",),
        seed: int = 1_000_003,
        max_steps: int = 500,
        action_repeat: int = 1,
    ) -> None:
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {action_repeat}")
        self.action_repeat = action_repeat
        if not cameras:
            raise ValueError("a session renders at least one camera")
        self.cameras = tuple(cameras)
        self.image_size = image_size
        self.seed = seed
        self.max_steps = max_steps
        self.sim = MetaWorldTask(task, image_size, self.cameras)
        self.episode = -1
        self.step_in_episode = 0
        self.total_steps = 0  # across episodes: the simulation clock
        self.results: list[EpisodeResult] = []
        self.new_episode()

    @property
    def task(self) -> str:
        return self.sim.task

    @property
    def sentence(self) -> str:
        return self.sim.sentence

    @property
    def dt(self) -> float:
        return self.sim.dt

    @property
    def time(self) -> float:
        """Simulation time (s) since the session started."""
        return self.total_steps * self.sim.dt

    def set_task(self, task: str) -> None:
        """Switch task (a new simulator); the next episode is episode 0 of the new task."""
        task = canonical(task)  # raises ValueError naming the known tasks
        if task != self.sim.task:
            self.sim.close()
            self.sim = MetaWorldTask(task, self.image_size, self.cameras)
            self.episode = -1
        self.new_episode()

    def new_episode(self) -> None:
        self.episode += 1
        self.step_in_episode = 0
        self.sim.reset(episode_seed(self.seed, self.task, self.episode))

    def render(self, camera: str | None = None) -> np.ndarray:
        """(H, W, 3) uint8 from ``camera`` (default: the first)."""
        return self.sim.render(camera or self.cameras[0])

    def ee_state(self) -> np.ndarray:
        return self.sim.proprio()

    def expert_action(self) -> np.ndarray:
        """Meta-World's scripted expert's action for the current state (unclipped)."""
        return self.sim.expert_action()

    def arm_joints(self) -> tuple[list[str], np.ndarray]:
        model, data = self.sim.model, self.sim.data
        ids = [j for j in range(model.njnt) if model.joint(j).name.startswith(ARM_JOINT_PREFIXES)]
        return [model.joint(j).name for j in ids], np.array([data.qpos[model.jnt_qposadr[j]] for j in ids])

    def step(self, action: np.ndarray) -> EpisodeResult | None:
        """Apply one action (clipped to Meta-World's [-1, 1]) for ``action_repeat`` simulator
        steps; the episode's result when it ends (success, step limit or an unstable
        simulation), after which a new episode has begun."""
        steps = min(self.action_repeat, self.max_steps - self.step_in_episode)
        success, unstable, applied = self.sim.hold(check_action(action), steps)
        self.step_in_episode += applied
        self.total_steps += applied
        reason = (
            "success"
            if success
            else "unstable"
            if unstable
            else "timeout"
            if self.step_in_episode >= self.max_steps
            else ""
        )
        return self.finish(reason) if reason else None

    def finish(self, reason: str) -> EpisodeResult:
        """End the current episode (``reason`` 'reset' for one cut short) and start the next."""
        result = EpisodeResult(
            self.task,
            self.episode,
            episode_seed(self.seed, self.task, self.episode),
            reason == "success",
            self.step_in_episode,
            reason,
        )
        self.results.append(result)
        self.new_episode()
        return result

    def close(self) -> None:
        self.sim.close()
