"""``dataset.yaml``: how a dataset folder was made, so that a run with other settings cannot add
its episodes to it. One type for every writer (generate, import-video, import-bag,
import-lerobot) and for the check in ``dataset.prepare``.

The file is a flat YAML mapping of the fields below; a field that does not apply to a dataset
(None) is left out, and a missing key reads back as None.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

FORMAT = "amplify_ros.dataset/1"


@dataclass(frozen=True)
class DatasetManifest:
    env: str  # where the episodes come from: metaworld, video, rosbag, lerobot (tests: synthetic)
    image_size: int  # square image side (px)
    fps: float | None = None  # frame rate (imports; generated data records it per episode)
    cameras: list[str] | None = None
    action_free: bool | None = None
    format: str = FORMAT
    # generated (amplify-data generate)
    seed: int | None = None
    action_noise: float | None = None
    max_steps: int | None = None
    action_repeat: int | None = None  # None: 1 (datasets from before it stay extendable)
    tracks: str | None = None  # "oracle" or "none"
    grid_size: int | None = None
    horizon: int | None = None
    # imported rosbag2 recordings
    image_topic: str | None = None
    extra_image_topics: list[str] | None = None
    state_topic: str | None = None
    state_joints: list[str] | None = None
    action_topic: str | None = None
    # imported LeRobot datasets
    lerobot_cameras: list[str] | None = None
    state: str | None = None
    action: str | None = None

    def to_dict(self) -> dict[str, Any]:
        plain = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return {"format": plain.pop("format"), **plain}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetManifest:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"dataset.yaml has settings this version does not know: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if v is not None})
