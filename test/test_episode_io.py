"""The HDF5 episode format: exact round trip, atomic writes, clear errors on bad files."""

import h5py
import numpy as np
import pytest

from amplify_ros.data import episode as episode_mod
from amplify_ros.data.episode import CorruptEpisodeError, Episode, Tracks, read_episode, read_summary, write_episode


def make_episode(t=7, with_actions=True, seed=0):
    rng = np.random.default_rng(seed)
    return Episode(
        task="door-open",
        sentence="open the door by pulling its handle",
        images={"corner": rng.integers(0, 256, (t, 16, 16, 3), dtype=np.uint8)},
        fps=80.0,
        proprio=rng.normal(size=(t, 4)).astype(np.float32),
        actions=rng.uniform(-1, 1, (t - 1, 4)).astype(np.float32) if with_actions else None,
        tracks={
            "corner": Tracks(
                rng.normal(size=(t, 16, 400, 2)).astype(np.float32), rng.random((t, 16, 400)) > 0.2, "oracle"
            )
        },
        success=True,
        seed=1234,
        env="metaworld",
        extras={"rand_vec": np.arange(3.0)},
        info={"action_noise": 0.1},
    )


def test_round_trip_is_exact(tmp_path):
    ep = make_episode()
    path = write_episode(tmp_path / "a" / "episode_00000.h5", ep)
    back = read_episode(path)
    assert (back.task, back.sentence, back.fps, back.success, back.seed, back.env) == (
        ep.task,
        ep.sentence,
        80.0,
        True,
        1234,
        "metaworld",
    )
    assert np.array_equal(back.images["corner"], ep.images["corner"])
    assert np.array_equal(back.proprio, ep.proprio) and np.array_equal(back.actions, ep.actions)
    assert np.array_equal(back.tracks["corner"].points, ep.tracks["corner"].points)
    assert np.array_equal(back.tracks["corner"].visible, ep.tracks["corner"].visible)
    assert back.tracks["corner"].source == "oracle"
    assert np.array_equal(back.extras["rand_vec"], np.arange(3.0))
    assert back.info == {"action_noise": 0.1}
    summary = read_summary(path)
    assert (summary.num_frames, summary.image_size, summary.has_actions, summary.track_sources) == (
        7,
        (16, 16),
        True,
        {"corner": "oracle"},
    )


def test_action_free_episode_has_no_actions(tmp_path):
    path = write_episode(tmp_path / "e.h5", make_episode(with_actions=False))
    assert read_episode(path).actions is None
    assert not read_summary(path).has_actions


def test_a_failed_write_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    target = tmp_path / "e.h5"
    write_episode(target, make_episode(seed=1))
    before = target.read_bytes()

    def crash(f, ep):
        f.create_dataset("partial", data=np.zeros(10))
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(episode_mod, "_write", crash)
    with pytest.raises(KeyboardInterrupt):
        write_episode(target, make_episode(seed=2))
    assert target.read_bytes() == before  # the old complete file is untouched
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_inconsistent_episodes_are_rejected():
    ep = make_episode()
    with pytest.raises(ValueError, match="T-1"):
        Episode(task="x", sentence="y", images=ep.images, fps=10, actions=np.zeros((7, 4)))
    with pytest.raises(ValueError, match="uint8"):
        Episode(task="x", sentence="y", images={"c": np.zeros((3, 8, 8, 3), np.float32)}, fps=10)


@pytest.mark.parametrize("content", [b"", b"not an hdf5 file at all" * 10])
def test_garbage_files_raise_corrupt_episode(tmp_path, content):
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    with pytest.raises(CorruptEpisodeError, match="bad.h5"):
        read_summary(path)


def test_truncated_and_foreign_files_raise_corrupt_episode(tmp_path):
    path = write_episode(tmp_path / "e.h5", make_episode())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptEpisodeError):
        read_episode(path)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(CorruptEpisodeError, match="not an amplify_ros episode"):
        read_summary(foreign)
