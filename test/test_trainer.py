"""amplify-train / amplify-eval on tiny synthetic data: checkpoints, exact resume, torchrun, errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny import TINY_FORWARD, TINY_TOKENIZER, tiny_dataset

from amplify_ros.core.checkpoint import CheckpointError, load_checkpoint, resolve
from amplify_ros.core.forward_model import ForwardModel
from amplify_ros.train import trainer
from amplify_ros.train.eval_cli import main as eval_main
from amplify_ros.train.train_cli import main as train_main


def sets(cfg: dict) -> list[str]:
    return [x for k, v in cfg.items() for x in ("--set", f"{k}={json.dumps(v)}")]


def train_tokenizer(data, out, steps=6, *extra):
    argv = [
        "tokenizer",
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-steps",
        str(steps),
        "--batch-size",
        "8",
        "--log-every",
        "2",
        "--val-every",
        "3",
        "--ckpt-every",
        "3",
        *sets(TINY_TOKENIZER),
        *extra,
    ]
    return train_main(argv)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_dataset(tmp_path_factory.mktemp("tiny") / "ds")


@pytest.fixture(scope="module")
def tokenizer_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tok"
    assert train_tokenizer(data, out, 30) == 0
    return out


def test_a_run_holds_checkpoints_logs_and_its_split(tokenizer_run):
    ckpt = resolve(tokenizer_run)
    assert ckpt.name == "step_0000030"
    assert {p.name for p in ckpt.iterdir()} == {"model.yaml", "model.safetensors", "stats.json", "training_state.pt"}
    assert len(list((tokenizer_run / "checkpoints").iterdir())) == 3  # older ones pruned
    assert list((tokenizer_run / "tb").glob("events.out.tfevents.*"))
    split = json.loads((tokenizer_run / "split.json").read_text())
    assert len(split["val"]) == 2 and len(split["train"]) == 6  # one validation episode per task
    model, stats = load_checkpoint(tokenizer_run, "tokenizer")
    assert stats["image_size"] == 32 and model.cfg.num_points == 16


def test_checkpoint_round_trip_gives_identical_outputs(tokenizer_run, tmp_path):
    from amplify_ros.core.checkpoint import save_checkpoint

    model, stats = load_checkpoint(tokenizer_run, "tokenizer")
    tracks = torch.rand(2, 1, 6, 16, 2) * 2 - 1
    images = torch.randint(0, 255, (2, 1, 32, 32, 3), dtype=torch.uint8)
    save_checkpoint(tmp_path / "copy", "tokenizer", model, stats)
    again, _ = load_checkpoint(tmp_path / "copy", "tokenizer")
    assert torch.equal(model.reconstruct(tracks, images), again.reconstruct(tracks, images))


def test_resume_continues_exactly(data, tmp_path, monkeypatch):
    random_bits = ["--set", "dropout=0.1", "--set", "train_points=8"]  # RNG state must be restored too
    assert train_tokenizer(data, tmp_path / "straight", 6, *random_bits) == 0
    real_save = trainer._save

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt  # killed right after the step-3 checkpoint

    monkeypatch.setattr(trainer, "_save", save_then_die)
    assert train_tokenizer(data, tmp_path / "cut", 6, *random_bits) == 130
    monkeypatch.setattr(trainer, "_save", real_save)
    assert train_tokenizer(data, tmp_path / "cut", 6, *random_bits, "--resume") == 0
    a = load_file(str(resolve(tmp_path / "straight") / "model.safetensors"))
    b = load_file(str(resolve(tmp_path / "cut") / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_rerun_without_resume_or_with_other_settings_is_refused(tokenizer_run, data, capsys):
    assert train_tokenizer(data, tokenizer_run, 30) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert train_tokenizer(data, tokenizer_run, 30, "--resume", "--lr", "0.1") == 2
    assert "other settings" in capsys.readouterr().err
    # what is logged and kept, and the same folders named another way, are not other settings
    relative = Path(os.path.relpath(data))
    assert train_tokenizer(relative, tokenizer_run, 30, "--resume", "--val-every", "7", "--ckpt-every", "9") == 0


def test_forward_model_trains_on_tokenizer_codes_and_evaluates(data, tokenizer_run, tmp_path, capsys):
    argv = [
        "forward",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "fwd"),
        "--tokenizer",
        str(tokenizer_run),
        "--max-steps",
        "4",
        "--batch-size",
        "8",
        "--ckpt-every",
        "4",
        "--val-every",
        "4",
        *sets(TINY_FORWARD),
    ]
    assert train_main(argv) == 0
    assert (resolve(tmp_path / "fwd") / "tokenizer" / "model.yaml").is_file()  # loads alone
    capsys.readouterr()
    assert (
        eval_main(
            [
                "tracks",
                "--checkpoint",
                str(tmp_path / "fwd"),
                "--data",
                str(data),
                "--json",
                "--overlays",
                str(tmp_path / "ov"),
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "forward" and result["samples"] == 24 and 0 <= result["pixel_acc"] <= 1
    assert len(list((tmp_path / "ov").glob("*.png"))) == 6
    assert (
        eval_main(
            [
                "tracks",
                "--checkpoint",
                "zero-motion",
                "--data",
                str(data),
                "--split-from",
                str(tmp_path / "fwd"),
                "--json",
            ]
        )
        == 0
    )
    zero = json.loads(capsys.readouterr().out)
    assert zero["mse"] > 0 and zero["samples"] == 24


def test_a_parallel_code_head_trains_on_a_frozen_forward_model(data, tokenizer_run, tmp_path, capsys):
    common = [
        "forward",
        "--data",
        str(data),
        "--tokenizer",
        str(tokenizer_run),
        "--max-steps",
        "4",
        "--batch-size",
        "8",
        "--ckpt-every",
        "4",
        "--val-every",
        "4",
        *sets(TINY_FORWARD),
    ]
    assert train_main([*common, "--out", str(tmp_path / "ar")]) == 0
    assert (
        train_main(
            [
                *common,
                "--out",
                str(tmp_path / "par"),
                "--init-from",
                str(tmp_path / "ar"),
                "--set",
                "parallel_depth=1",
                "--train-only",
                "parallel",
            ]
        )
        == 0
    )
    assert "fresh: parallel, parallel_head, parallel_queries" in capsys.readouterr().out
    ar, par = (load_checkpoint(resolve(tmp_path / name), "forward")[0] for name in ("ar", "par"))
    for name, tensor in ar.state_dict().items():  # the trunk and the autoregressive head did not move
        assert torch.equal(tensor, par.state_dict()[name]), name
    assert not torch.equal(par.parallel_queries, ForwardModel(par.cfg).parallel_queries)
    images = torch.randint(0, 255, (2, 1, 32, 32, 3), dtype=torch.uint8)
    sentences = ["push the block", "reach the block"]
    assert torch.equal(par.predict(images, sentences), ar.predict(images, sentences))
    codes = par.predict(images, sentences, decoding="parallel")
    assert codes.shape == (2, par.cfg.code_len) and int(codes.max()) < par.fsq.codebook_size
    with pytest.raises(ValueError, match="has autoregressive"):
        ar.predict(images, sentences, decoding="parallel")
    assert train_main([*common, "--out", str(tmp_path / "bad"), "--train-only", "nothing"]) == 2
    assert "names no parameter" in capsys.readouterr().err


def test_forward_needs_a_tokenizer_that_fits_the_data(data, tokenizer_run, tmp_path, capsys):
    assert train_main(["forward", "--data", str(data), "--out", str(tmp_path / "a")]) == 2
    assert "needs --tokenizer" in capsys.readouterr().err
    other = tiny_dataset(tmp_path / "other", episodes=2)
    stats_file = resolve(tokenizer_run) / "stats.json"
    stats = json.loads(stats_file.read_text())
    bad = tmp_path / "bad_tok"
    import shutil

    shutil.copytree(resolve(tokenizer_run), bad)
    (bad / "stats.json").write_text(json.dumps({**stats, "image_size": 64}))
    assert (
        train_main(
            [
                "forward",
                "--data",
                str(other),
                "--out",
                str(tmp_path / "b"),
                "--tokenizer",
                str(bad),
                *sets(TINY_FORWARD),
            ]
        )
        == 2
    )
    assert "image_size: model 64, data 32" in capsys.readouterr().err


def test_a_checkpoint_of_another_frame_rate_is_refused_and_one_without_a_rate_flagged(
    data, tokenizer_run, tmp_path, capsys
):
    import shutil

    stats = json.loads((resolve(tokenizer_run) / "stats.json").read_text())
    assert stats["fps"] == 10.0  # the tiny episodes' rate, recorded at training
    for name, changed in (
        ("fast", {**stats, "fps": 80.0}),
        ("unknown", {k: v for k, v in stats.items() if k != "fps"}),
    ):
        shutil.copytree(resolve(tokenizer_run), tmp_path / name)
        (tmp_path / name / "stats.json").write_text(json.dumps(changed))
    capsys.readouterr()
    argv = ["tracks", "--data", str(data), "--split-from", str(tokenizer_run), "--json", "--checkpoint"]
    assert eval_main([*argv, str(tmp_path / "fast")]) == 2
    assert "fps: model 80.0, data 10.0" in capsys.readouterr().err
    assert eval_main([*argv, str(tmp_path / "unknown")]) == 0
    out = capsys.readouterr()
    assert "does not record the frame rate" in out.err
    assert json.loads(out.out)["warnings"] == [
        "the checkpoint does not record the frame rate it was trained at; the data is 10 Hz"
    ]
    assert (
        train_main(
            [
                "forward",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "f"),
                "--tokenizer",
                str(tmp_path / "fast"),
                *sets(TINY_FORWARD),
            ]
        )
        == 2
    )


def test_wrong_shaped_weights_name_the_tensor(tokenizer_run, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(resolve(tokenizer_run), bad)
    state = load_file(str(bad / "model.safetensors"))
    state["head.weight"] = torch.zeros(3, 3)
    save_file(state, str(bad / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"head.weight: shape \(3, 3\) in file"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="holds a 'tokenizer' model, not a 'forward'"):
        load_checkpoint(tokenizer_run, "forward")


def test_unknown_setting_and_empty_dataset_are_clear_errors(data, tmp_path, capsys):
    assert train_tokenizer(data, tmp_path / "x", 2, "--set", "depthh=3") == 2
    assert "'depthh'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert train_main(["tokenizer", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "y")]) == 2
    assert "no training episodes" in capsys.readouterr().err


def test_torchrun_with_two_cpu_processes(data, tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    out = tmp_path / "ddp"
    cmd = [
        str(torchrun),
        "--nproc_per_node=2",
        "--master_port",
        str(29500 + os.getpid() % 1000),
        "-m",
        "amplify_ros.train.train_cli",
        "tokenizer",
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-steps",
        "4",
        "--batch-size",
        "4",
        "--ckpt-every",
        "4",
        "--val-every",
        "100",
        *sets(TINY_TOKENIZER),
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    model, _ = load_checkpoint(out, "tokenizer")
    assert resolve(out).name == "step_0000004"


def test_resuming_a_finished_run_returns_at_once(tokenizer_run, data, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("a finished run must not load its data again")

    monkeypatch.setattr(trainer, "_load_data", no_loading)
    assert train_tokenizer(data, tokenizer_run, 30, "--resume") == 0


def test_a_run_from_before_a_setting_existed_resumes_when_it_keeps_its_default(data, tmp_path):
    import yaml

    assert train_tokenizer(data, tmp_path / "tok", 3) == 0
    saved = yaml.safe_load((tmp_path / "tok" / "train.yaml").read_text())
    for section, newer in (
        ("optim", "train_only"),
        ("model", "init_from"),
        ("data", "holdout_tasks"),  # list, path and
        ("optim", "precision"),
        ("optim", "betas"),
        ("schedule", "lr_floor"),
    ):  # plain settings
        saved[section].pop(newer)
    (tmp_path / "tok" / "train.yaml").write_text(yaml.safe_dump(saved))
    assert train_tokenizer(data, tmp_path / "tok", 6, "--resume") == 0


def legacy_train_yaml(data: Path, out: Path) -> str:
    """The flat train.yaml amplify-train wrote before its settings had sections, for train_tokenizer's run."""
    overrides = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in sorted(TINY_TOKENIZER.items()))
    return (
        f"batch_size: 8\ncameras: null\nchunk: 16\nckpt_every: 3\ncodes: predicted\ndata: {data}\ndevice: cpu\n"
        "forward: null\nholdout_tasks: []\ninit_from: null\nkeep_checkpoints: 3\nkind: tokenizer\nlog_every: 2\n"
        f"lr: 0.002\nmodel_overrides:\n{overrides}out: {out}\nprecision: fp32\npreset: small\nseed: 0\n"
        "tokenizer: null\ntrain_only: []\ntrain_per_task: null\nval_batches: 10\nval_every: 3\nval_fraction: 0.1\n"
        "warmup_steps: 200\n"
    )


def test_a_run_with_a_flat_train_yaml_resumes_exactly(data, tmp_path, capsys):
    assert train_tokenizer(data, tmp_path / "straight", 6) == 0
    assert train_tokenizer(data, tmp_path / "old", 3) == 0
    (tmp_path / "old" / "train.yaml").write_text(legacy_train_yaml(data, tmp_path / "old"))
    assert train_tokenizer(data, tmp_path / "old", 6, "--resume", "--lr", "0.1") == 2
    assert "other settings (--lr;" in capsys.readouterr().err
    assert train_tokenizer(data, tmp_path / "old", 6, "--resume") == 0
    a = load_file(str(resolve(tmp_path / "straight") / "model.safetensors"))
    b = load_file(str(resolve(tmp_path / "old") / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "old" / "train.yaml").read_text() == (tmp_path / "straight" / "train.yaml").read_text().replace(
        str(tmp_path / "straight"), str(tmp_path / "old")
    ).replace("resume: false", "resume: true")


def test_bfloat16_training_steps_keep_float32_weights(data, tmp_path):
    assert train_tokenizer(data, tmp_path / "bf16", 3, "--precision", "bf16") == 0
    model, _ = load_checkpoint(tmp_path / "bf16", "tokenizer")
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())
