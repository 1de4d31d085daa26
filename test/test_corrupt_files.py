"""Damaged episode files and bags: each reported in one line naming it and skipped, the rest
used, exit status 1 when something was skipped (amplify-data's module docstring)."""

import numpy as np
import pytest
from bags import recording, write_bag
from tiny import tiny_dataset

from amplify_ros.data.corrupt_files import corrupt
from amplify_ros.data.dataset import list_episodes
from amplify_ros.data.windows import WindowDataset
from amplify_ros.train.data_cli import main


@pytest.fixture
def damaged_dataset(tmp_path):
    """A tiny dataset (8 episodes) with one truncated, one emptied and one overwritten from byte 0."""
    root = tiny_dataset(tmp_path / "ds", episodes=4, frames=8)
    paths = list_episodes(root)
    rng = np.random.default_rng(0)
    corrupt(paths[0], "truncate", rng)
    corrupt(paths[3], "zero_length", rng)
    paths[5].write_bytes(bytes(64) + paths[5].read_bytes()[64:])  # the HDF5 superblock overwritten
    return root, paths, [paths[0], paths[3], paths[5]]


def names(path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_info_and_track_name_each_damaged_episode_skip_it_and_exit_1(damaged_dataset, capsys):
    root, _, bad = damaged_dataset
    assert main(["info", str(root)]) == 1
    out = capsys.readouterr().out
    assert "episodes       5" in out and all(sum(names(p) in line for line in out.splitlines()) == 1 for p in bad)
    assert main(["track", str(root), "--backend", "lk", "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "5 episode(s) tracked" in err and "3 unreadable" in err and all(names(p) in err for p in bad)


def test_training_loads_the_readable_episodes_and_names_the_others(damaged_dataset, capsys):
    root, paths, bad = damaged_dataset
    ds = WindowDataset(root, [str(p.relative_to(root)) for p in paths], progress=False)
    assert len(ds.episodes) == 5 and sorted(ds.skipped_corrupt) == sorted(str(p.relative_to(root)) for p in bad)
    err = capsys.readouterr().err
    assert all(sum(names(p) in line for line in err.splitlines()) == 1 for p in bad)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_import_bag_skips_truncated_emptied_and_overwritten_bags_and_imports_the_rest(tmp_path, capsys, storage):
    bags = [write_bag(tmp_path / f"bag_{i}", recording(duration=1.0), storage=storage) for i in range(5)]
    for bag, mode, seed in ((bags[1], "truncate", 1), (bags[2], "zero_length", 0), (bags[3], "overwrite", 2)):
        corrupt(bag, mode, np.random.default_rng(seed))
    status = main(["import-bag", *map(str, bags), "--action-topic", "/cmd", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if line.startswith("amplify-data: skipped")]
    assert status == (1 if skipped else 0) and "Traceback" not in err
    assert len(list_episodes(tmp_path / "out")) == 5 - len(skipped) >= 2  # the good ones are always in
    assert {bags[2].name} <= {b.name for b in bags if any(f"{b}:" in line for line in skipped)}  # an empty bag is named
