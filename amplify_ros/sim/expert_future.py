"""Motion codes of the true future: what the scripted expert would do from the current state.

The upper bound for the forward model in closed-loop evaluation (the ablation "inverse model
on the tokenizer's codes of the true future"): at every query a shadow simulation takes the
evaluated one's state, the noise-free expert runs one tokenizer horizon ahead in it, and the
exact tracks of the query grid over those frames are encoded by the tokenizer. The evaluated
simulation is never stepped, so the episode itself is the policy's alone.
"""

from __future__ import annotations

import numpy as np
import torch

from amplify_ros.core.tokenizer import MotionTokenizer
from amplify_ros.sim.ground_truth import GroundTruthTracker
from amplify_ros.sim.metaworld_env import MetaWorldTask


class ExpertFuture:
    def __init__(
        self, task: str, image_size: int, cameras: tuple[str, ...], tokenizer: MotionTokenizer, action_repeat: int
    ) -> None:
        self.tokenizer = tokenizer.eval()
        self.action_repeat = action_repeat
        self.horizon = tokenizer.cfg.horizon
        self.shadow = MetaWorldTask(task, image_size, cameras)
        self.trackers = [
            GroundTruthTracker(self.shadow.model, cam, self.shadow.camera_models[cam], horizon=self.horizon)
            for cam in cameras
        ]

    def reset(self, seed: int) -> None:
        """Call with the evaluated episode's seed: object and goal positions live outside the
        physics state, so the shadow gets them from the same reset."""
        self.shadow.reset(seed)

    def tracks(self, sim: MetaWorldTask) -> np.ndarray:
        """(V, horizon, N, 2) normalised tracks of the grid while the expert acts from ``sim``'s
        state, one frame every ``action_repeat`` simulator steps."""
        self.shadow.copy_state(sim)
        for tracker in self.trackers:
            tracker.reset()
            tracker.observe(self.shadow.data)
        for _ in range(self.horizon - 1):
            for _ in range(self.action_repeat):
                self.shadow.step(np.clip(self.shadow.expert_action(), -1.0, 1.0))
            for tracker in self.trackers:
                tracker.observe(self.shadow.data, open_window=False)  # the window from now is all we need
        return np.stack([tracker.tracks()[0][0] for tracker in self.trackers])

    @torch.inference_mode()
    def codes(self, sim: MetaWorldTask) -> np.ndarray:
        """(T,) the tokenizer's codes of the expert's next ``horizon`` frames from ``sim``'s state."""
        tracks = torch.from_numpy(self.tracks(sim)).unsqueeze(0)
        return self.tokenizer.encode(tracks)[1][0].numpy()

    def close(self) -> None:
        self.shadow.close()
