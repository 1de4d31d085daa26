"""DatasetManifest: the dataset.yaml of every writer, and folders written before it existed."""

import pytest
import yaml

from amplify_ros.data.bag_import import BagImportSettings
from amplify_ros.data.bag_import import manifest as bag_manifest
from amplify_ros.data.dataset import MANIFEST, DatasetMismatchError, prepare, read_manifest
from amplify_ros.data.manifest import DatasetManifest
from amplify_ros.data.video_import import manifest as video_manifest

# what `amplify-data generate --tasks avdc11 --episodes 50 --action-repeat 4` wrote before DatasetManifest
GENERATED_BEFORE = """\
format: amplify_ros.dataset/1
env: metaworld
seed: 0
image_size: 128
cameras:
- corner
action_free: false
action_noise: 0.1
max_steps: null
action_repeat: 4
tracks: oracle
grid_size: 20
horizon: 16
"""
GENERATED = DatasetManifest(
    env="metaworld",
    seed=0,
    image_size=128,
    cameras=["corner"],
    action_free=False,
    action_noise=0.1,
    action_repeat=4,
    tracks="oracle",
    grid_size=20,
    horizon=16,
)
BAG_SETTINGS = BagImportSettings(extra_image_topics=("/wrist/image",), state_joints=("j1", "j2"), action_topic="/cmd")


@pytest.mark.parametrize(
    "manifest",
    [
        GENERATED,
        video_manifest(96, 20.0),
        DatasetManifest.from_dict(bag_manifest(BAG_SETTINGS)),
    ],
)
def test_round_trip_through_the_file(manifest, tmp_path):
    prepare(tmp_path / "ds", manifest)
    on_disk = read_manifest(tmp_path / "ds")
    assert on_disk["format"] == "amplify_ros.dataset/1" and list(on_disk)[0] == "format"
    assert DatasetManifest.from_dict(on_disk) == manifest


def test_settings_that_do_not_apply_are_left_out():
    assert video_manifest(128, 20.0).to_dict() == {
        "format": "amplify_ros.dataset/1",
        "env": "video",
        "image_size": 128,
        "fps": 20.0,
        "cameras": ["video"],
        "action_free": True,
    }


def test_a_folder_written_before_extends_with_the_same_settings_only(tmp_path):
    (tmp_path / MANIFEST).write_text(GENERATED_BEFORE)
    prepare(tmp_path, GENERATED)  # its `max_steps: null` is the same as no step limit given
    assert (tmp_path / MANIFEST).read_text() == GENERATED_BEFORE  # not rewritten
    with pytest.raises(DatasetMismatchError, match="seed: folder has 0, asked for 1"):
        prepare(tmp_path, DatasetManifest(**{**GENERATED.to_dict(), "seed": 1}))


def test_a_manifest_with_unknown_settings_is_another_dataset(tmp_path):
    (tmp_path / MANIFEST).write_text(yaml.safe_dump({**GENERATED.to_dict(), "colour": "red"}))
    with pytest.raises(DatasetMismatchError, match="colour"):
        prepare(tmp_path, GENERATED)
