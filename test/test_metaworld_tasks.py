"""Task names, suites and sentences agree with Meta-World's own lists."""

import pytest
from metaworld.env_dict import ENV_CLS_MAP, MT10_V3

from amplify_ros.sim.metaworld_tasks import SENTENCES, SUITES, UnknownTaskError, env_name, resolve_tasks


def test_every_metaworld_task_has_a_sentence():
    assert {env_name(t) for t in SENTENCES} == set(ENV_CLS_MAP)
    assert len(set(SENTENCES.values())) == len(SENTENCES)  # no two tasks read the same


def test_suites_match_metaworld():
    assert [env_name(t) for t in SUITES["mt10"]] == list(MT10_V3)
    assert len(resolve_tasks("mt50")) == 50
    assert len(resolve_tasks("avdc11")) == 11


def test_resolve_accepts_names_suffixes_files_and_drops_repeats(tmp_path):
    f = tmp_path / "tasks.txt"
    f.write_text("# mine\ndoor-open-v3\n\nreach  # trailing comment\n")
    assert resolve_tasks(str(f)) == ["door-open", "reach"]
    assert resolve_tasks("reach,door-open-v3,reach") == ["reach", "door-open"]


def test_unknown_task_lists_the_valid_names():
    with pytest.raises(UnknownTaskError, match="unknown Meta-World task 'door-opn'.*door-open"):
        resolve_tasks("door-opn")
