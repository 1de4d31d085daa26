"""amplify-train's TrainConfig: the flags it makes, its defaults and presets (as they were before it
existed), its train.yaml, and the check --resume makes against a run's saved settings."""

import dataclasses
import os
import typing

import pytest
import yaml

from amplify_ros.core.checkpoint import MODELS
from amplify_ros.train.config import OptimConfig, PresetName, TrainConfig, TrainError, changed_settings, read_train_yaml
from amplify_ros.train.config_cli import build_parser, flag_name, from_plain, leaves, parse, to_plain
from amplify_ros.train.model_kinds import KINDS
from amplify_ros.train.presets import PRESETS, with_preset


def config(*argv: str) -> TrainConfig:
    return with_preset(parse(TrainConfig, build_parser(TrainConfig), list(argv)))


def flat(cfg: TrainConfig) -> dict:
    """The settings by the names the flat train.yaml used."""
    out = {}
    for path, f, _ in leaves(TrainConfig):
        value = cfg
        for part in path.split("."):
            value = getattr(value, part)
        out[f.metadata.get("legacy", f.name)] = to_plain(value)
    return out


# TrainArgs(...).resolved() of `amplify-train tokenizer --data /d --out o`, before TrainConfig
BEFORE = yaml.safe_load("""{
kind: tokenizer, data: /d, out: o, preset: small, max_steps: 3000, batch_size: 32, lr: 0.002, warmup_steps: 200,
device: cpu, precision: fp32, seed: 0, val_fraction: 0.1, holdout_tasks: [], train_per_task: null, cameras: null,
tokenizer: null, forward: null, codes: predicted, chunk: 16, init_from: null, train_only: [], model_overrides: {},
log_every: 20, val_every: 500, ckpt_every: 500, val_batches: 10, keep_checkpoints: 3, resume: false, progress: true}""")
# and of one call that sets every flag
EVERY_FLAG = (
    "forward --data /d --out o --tokenizer t --preset paper --max-steps 5 --lr 0.1 --batch-size 3 --device cuda "
    "--precision bf16 --seed 4 --val-fraction 0.2 --holdout-tasks a,b --train-per-task 7 --cameras c1,c2 --log-every 3 "
    "--val-every 4 --ckpt-every 5 --set depth=6 --set fsq-levels=[4,4] --resume --init-from i --codes gt --chunk 8"
).split() + ["--train-only", "parallel, head"]
EVERY_FLAG_BEFORE = {
    **BEFORE,
    **yaml.safe_load("""{
kind: forward, preset: paper, max_steps: 5, batch_size: 3, lr: 0.1, warmup_steps: 1000, device: cuda, precision: bf16,
seed: 4, val_fraction: 0.2, holdout_tasks: [a, b], train_per_task: 7, cameras: [c1, c2], tokenizer: t, init_from: i,
train_only: [parallel, head], model_overrides: {depth: 6, fsq_levels: [4, 4]}, log_every: 3, val_every: 4,
ckpt_every: 5, resume: true, codes: gt, chunk: 8}"""),
}
# the optimiser constants, which were literals in the trainer
CONSTANTS = dict(betas=[0.9, 0.95], weight_decay=0.01, grad_clip=1.0, lr_floor=0.05)


def test_defaults_are_the_ones_before():
    assert flat(config("tokenizer", "--data", "/d", "--out", "o")) == {**BEFORE, **CONSTANTS}
    assert flat(config("bc", "--data", "/d", "--out", "o"))["lr"] == 5e-4  # only the small tokenizer trains faster


def test_every_flag_parses_to_the_value_it_had():
    assert flat(config(*EVERY_FLAG)) == {**EVERY_FLAG_BEFORE, **CONSTANTS}


def test_bad_values_are_refused_with_the_flag_named(capsys):
    with pytest.raises(SystemExit):
        config("forward", "--data", "/d", "--out", "o", "--set", "depth")
    assert "argument --set: takes KEY=VALUE, got 'depth'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        config("forward", "--data", "/d", "--out", "o", "--codes", "some")
    assert "argument --codes: invalid choice" in capsys.readouterr().err
    with pytest.raises(TrainError, match="precision must be one of fp32, bf16, got 'fp16'"):
        dataclasses.replace(config("bc", "--data", "/d", "--out", "o"), optim=OptimConfig(precision="fp16"))


def test_every_setting_has_a_flag_of_its_own_and_help():
    flags = [flag_name(f) for _, f, _ in leaves(TrainConfig) if f.metadata["cli"]]
    assert len(flags) == len(set(flags)) and all(f.metadata["help"] for _, f, _ in leaves(TrainConfig))
    assert {"--data", "--out", "--set", "--lr", "--max-steps", "--resume"} <= set(flags)


def test_presets_are_the_sizes_and_steps_they_were():
    small, paper = PRESETS["small"], PRESETS["paper"]
    steps = [(p.optim.batch_size, p.optim.lr, p.schedule.max_steps, p.schedule.warmup_steps) for p in (small, paper)]
    assert steps == [(32, 5e-4, 3000, 200), (64, 1e-4, 50000, 1000)]
    trunks = {
        "small": "dim: 256, depth: 4, heads: 8, resnet_width: 32, stem_pool: true",
        "paper": "dim: 768, depth: 8, heads: 8, resnet_width: 64, stem_pool: false",
        "paper policy": "dim: 768, depth: 4, heads: 8, resnet_width: 64, stem_pool: false",
    }
    before = yaml.safe_load(f"""{{  # MODEL_PRESETS, the dicts presets.py held: (preset, kind) -> model settings
    small tokenizer: {{dim: 256, enc_depth: 2, dec_depth: 1, heads: 8, point_mlp_dim: 64, train_points: 100,
                       dropout: 0.0, factorised: true, image_cond: true}},
    paper tokenizer: {{dim: 768, enc_depth: 2, dec_depth: 1, heads: 8, point_mlp_dim: 256, train_points: null}},
    small forward: {{{trunks["small"]}}}, paper forward: {{{trunks["paper"]}}},
    small track-baseline: {{{trunks["small"]}, train_points: 32}},
    paper track-baseline: {{{trunks["paper"]}, train_points: 32}},
    small inverse: {{{trunks["small"]}, use_codes: true, use_text: false}},
    paper inverse: {{{trunks["paper policy"]}, use_codes: true, use_text: false}},
    small bc: {{{trunks["small"]}, use_codes: false, use_text: true}},
    paper bc: {{{trunks["paper policy"]}, use_codes: false, use_text: true}}}}""")
    for preset_kind, sizes in before.items():
        preset, kind = preset_kind.split()
        model = PRESETS[preset].models[kind]
        assert type(model) is MODELS[kind][1]
        assert dataclasses.asdict(model) == dataclasses.asdict(MODELS[kind][1](**sizes)), (preset, kind)


def test_kinds_and_presets_are_the_same_everywhere():
    assert list(KINDS) == list(MODELS) == list(TrainConfig.__dataclass_fields__["kind"].metadata["choices"])
    assert set(typing.get_args(PresetName)) == set(PRESETS)
    assert all(set(p.models) == set(KINDS) for p in PRESETS.values())


def test_train_yaml_round_trip():
    cfg = config(*EVERY_FLAG)
    assert from_plain(TrainConfig, yaml.safe_load(cfg.to_yaml())) == cfg
    assert from_plain(TrainConfig, read_train_yaml(cfg.to_yaml())) == cfg


def test_a_flat_train_yaml_reads_as_the_same_settings():
    cfg = config(*EVERY_FLAG)
    legacy = {k: v for k, v in flat(cfg).items() if k not in {"resume", "progress", "max_steps", *CONSTANTS}}
    assert from_plain(TrainConfig, read_train_yaml(yaml.safe_dump(legacy))) == dataclasses.replace(
        cfg, resume=False, schedule=dataclasses.replace(cfg.schedule, max_steps=None)
    )


def test_resume_checks_the_settings_that_change_updates_only(tmp_path):
    saved = read_train_yaml(config("tokenizer", "--data", str(tmp_path), "--out", "o").to_yaml())
    relative = os.path.relpath(tmp_path)  # the same folder named another way
    same = config("tokenizer", "--data", relative, "--out", "o", "--resume", "--max-steps", "9", "--val-every", "2")
    assert changed_settings(saved, same) == []
    other = config(
        "tokenizer", "--data", str(tmp_path), "--out", "o", "--lr", "0.1", "--set", "depth=2", "--betas", "0.9,0.99"
    )
    assert changed_settings(saved, other) == ["--set", "--lr", "--betas"]
    del saved["optim"]["weight_decay"]  # a setting the run predates keeps its default
    assert changed_settings(saved, same) == []
    assert changed_settings(
        saved, config("tokenizer", "--data", str(tmp_path), "--out", "o", "--weight-decay", "0")
    ) == ["--weight-decay"]
