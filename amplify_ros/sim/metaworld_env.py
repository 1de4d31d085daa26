"""A Meta-World task with its scripted expert, reproducible task variation and a fast renderer.

Meta-World's gym wrappers resample the task variant (object and goal positions) on every
reset. Here the variant is drawn from the seed passed to ``reset``, so ``reset(seed)`` always
gives the same initial state, and the sampled vector is kept for the record (``rand_vec``).
"""

from __future__ import annotations

import warnings

import mujoco
import numpy as np
from metaworld.env_dict import ENV_CLS_MAP
from metaworld.policies import ENV_POLICY_MAP

from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.sim.camera import PinholeCamera
from amplify_ros.sim.ground_truth import camera_for
from amplify_ros.sim.metaworld_tasks import canonical, env_name, sentence

ACTION_DIM = 4  # end-effector delta (x, y, z) in [-1, 1] (x 1 cm) + gripper effort
PROPRIO_DIM = 4  # end-effector position (m) + gripper opening in [0, 1]


def camera_names(task: str) -> list[str]:
    """Cameras defined in a task's MuJoCo model."""
    model = ENV_CLS_MAP[env_name(task)]().model
    return [model.camera(i).name for i in range(model.ncam)]


class MetaWorldTask:
    """One Meta-World task: ``reset(seed)``, ``step(action)``, ``expert_action()``, ``render(cam)``."""

    def __init__(self, task: str, image_size: int = IMAGE_SIZE, cameras: tuple[str, ...] = ("corner",)) -> None:
        self.task = canonical(task)
        self.sentence = sentence(self.task)
        env = ENV_CLS_MAP[env_name(self.task)]()
        env._set_task_called = True  # we drive task variation ourselves, below
        env._freeze_rand_vec = False
        env.seeded_rand_vec = True
        env._partially_observable = False  # experts read the goal from the observation
        del env.sawyer_observation_space  # cached while partially observable; recompute
        self.env = env
        self.model: mujoco.MjModel = env.model
        self.data: mujoco.MjData = env.data
        self.max_steps: int = env.max_path_length
        self.dt: float = float(env.dt)
        self._expert = ENV_POLICY_MAP[env_name(self.task)]()
        self._renderer = mujoco.Renderer(self.model, image_size, image_size)
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
            self._renderer.scene.flags[flag] = 0  # 5x faster off-screen, barely visible at 128 px
        self.image_size = image_size
        self.cameras = tuple(cameras)
        self.obs = np.zeros(39)
        self.rand_vec = np.zeros(0)
        self.reset(0)
        self.camera_models: dict[str, PinholeCamera] = {
            cam: camera_for(self.model, self.data, cam, image_size, image_size) for cam in self.cameras
        }

    def reset(self, seed: int) -> np.ndarray:
        self.env.seed(int(seed) % 2**32)
        self.obs, _ = self.env.reset()
        self.rand_vec = np.asarray(self.env._last_rand_vec, dtype=np.float64).copy()
        return self.obs

    def step(self, action: np.ndarray) -> tuple[np.ndarray, bool, bool]:
        """Apply one action; returns (observation, success, simulation_unstable)."""
        self.obs, _, _, _, info = self.env.step(np.asarray(action, dtype=np.float32))
        return self.obs, bool(info["success"]), bool(self.env._did_see_sim_exception)

    def hold(self, action: np.ndarray, steps: int) -> tuple[bool, bool, int]:
        """Apply ``action`` (clipped to [-1, 1]) for up to ``steps`` steps, as a policy acting
        at a lower rate does; stops early on success or instability. Returns (success,
        simulation_unstable, steps applied)."""
        success = unstable = False
        applied = 0
        while applied < steps and not (success or unstable):
            _, success, unstable = self.step(np.clip(action, -1.0, 1.0))
            applied += 1
        return success, unstable, applied

    def copy_state(self, other: MetaWorldTask) -> None:
        """Put this simulation in ``other``'s state (same task, reset with the same seed, so the
        task variation matches): physics plus what the environment keeps between steps.
        The step counter starts again from 0, so a look-ahead never hits the episode limit."""
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.empty(mujoco.mj_stateSize(other.model, spec))
        mujoco.mj_getState(other.model, other.data, state, spec)
        mujoco.mj_setState(self.model, self.data, state, spec)
        mujoco.mj_forward(self.model, self.data)
        self.obs = other.obs.copy()
        self.env._prev_obs = other.env._prev_obs.copy()  # the observation stacks the previous frame
        self.env.curr_path_length = 0

    def expert_action(self) -> np.ndarray:
        with warnings.catch_warnings():
            # the experts' gains saturate on purpose; Meta-World warns about it on every call
            warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high")
            return np.asarray(self._expert.get_action(self.obs), dtype=np.float64)

    def proprio(self) -> np.ndarray:
        return self.obs[:PROPRIO_DIM].astype(np.float32)

    def render(self, camera: str) -> np.ndarray:
        """(H, W, 3) uint8 RGB, upright (see PinholeCamera.rotate_180)."""
        self._renderer.update_scene(self.data, camera=camera)
        img = self._renderer.render()
        return np.ascontiguousarray(img[::-1, ::-1]) if self.camera_models[camera].rotate_180 else img

    def close(self) -> None:
        """Free the renderer. MuJoCo frees GL objects in whichever context is current, so make
        ours current first: otherwise another live renderer's textures are freed instead and it
        renders noise."""
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            gl = getattr(renderer, "_gl_context", None)
            if gl is not None:
                gl.make_current()
            renderer.close()
            self.env.close()

    def __del__(self) -> None:
        self.close()
