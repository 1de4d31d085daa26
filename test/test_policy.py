"""Inverse / BC training, the Policy object, and closed-loop episodes in Meta-World."""

import numpy as np
import pytest
import torch
from test_trainer import sets, train_tokenizer
from tiny import TINY_FORWARD, tiny_dataset

from amplify_ros.core.checkpoint import save_checkpoint
from amplify_ros.core.inverse_model import InverseConfig, InverseModel, truncated_normal_nll
from amplify_ros.core.policy import Policy
from amplify_ros.train import policy_eval
from amplify_ros.train.eval_cli import main as eval_main
from amplify_ros.train.train_cli import main as train_main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("policy")
    data = tiny_dataset(root / "ds")
    assert train_tokenizer(data, root / "tok", 4) == 0
    common = ["--max-steps", "4", "--batch-size", "8", "--ckpt-every", "4", "--val-every", "4", *sets(TINY_FORWARD)]
    assert (
        train_main(
            ["forward", "--data", str(data), "--out", str(root / "fwd"), "--tokenizer", str(root / "tok"), *common]
        )
        == 0
    )
    assert (
        train_main(
            [
                "inverse",
                "--data",
                str(data),
                "--out",
                str(root / "inv"),
                "--forward",
                str(root / "fwd"),
                "--chunk",
                "4",
                *common,
            ]
        )
        == 0
    )
    assert train_main(["bc", "--data", str(data), "--out", str(root / "bc"), "--chunk", "4", *common]) == 0
    assert (
        train_main(
            [
                "inverse",
                "--data",
                str(data),
                "--out",
                str(root / "inv0"),
                "--forward",
                str(root / "fwd"),
                "--chunk",
                "4",
                "--codes",
                "zero",
                *common,
            ]
        )
        == 0
    )
    return root


def test_policies_load_alone_and_predict_chunks(runs):
    images = np.zeros((1, 32, 32, 3), np.uint8)
    for name, kind in (("inv", "amplify"), ("bc", "bc")):
        policy = Policy.load(runs / name)
        pred = policy.predict(images, np.zeros(4, np.float32), "push the block")
        assert policy.kind == kind and policy.cameras == ["cam"]
        assert pred.actions.shape == (4, 4) and np.all(np.isfinite(pred.actions))
        assert (pred.codes is not None) == (kind == "amplify")
        assert pred.timings_ms["total_ms"] > 0
    with pytest.raises(ValueError, match=r"images must be \(1, 32, 32, 3\) uint8"):
        policy.predict(np.zeros((1, 64, 64, 3), np.uint8), np.zeros(4, np.float32), "push")
    with pytest.raises(ValueError, match="not finite"):
        policy.predict(images, np.array([0, np.nan, 0, 0], np.float32), "push")


def test_a_zero_code_policy_is_fed_the_zero_code_and_needs_no_forward_model(runs):
    policy = Policy.load(runs / "inv0")
    assert policy.zero_codes and policy.motion is None and policy.kind == "amplify"
    images, proprio = np.zeros((1, 32, 32, 3), np.uint8), np.zeros(4, np.float32)
    pred = policy.predict(images, proprio, "push the block")
    zero = policy.inverse.fsq.zero_index
    assert np.all(pred.codes == zero) and "forward_ms" not in pred.timings_ms
    explicit = policy.predict(images, proprio, "push the block", np.full(policy.inverse.cfg.code_len, zero))
    np.testing.assert_array_equal(pred.actions, explicit.actions)
    assert not Policy.load(runs / "inv").zero_codes


def test_two_cameras_train_into_a_two_view_policy(tmp_path):
    """A recording with a wrist camera (import-bag --extra-image-topic) through the whole trainer."""
    data = tiny_dataset(tmp_path / "ds", episodes=2, cameras=("camera", "wrist"))
    assert train_tokenizer(data, tmp_path / "tok", 2) == 0
    common = ["--max-steps", "2", "--batch-size", "4", "--ckpt-every", "2", "--val-every", "2", *sets(TINY_FORWARD)]
    assert (
        train_main(
            [
                "forward",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "fwd"),
                "--tokenizer",
                str(tmp_path / "tok"),
                *common,
            ]
        )
        == 0
    )
    assert (
        train_main(
            [
                "inverse",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "inv"),
                "--forward",
                str(tmp_path / "fwd"),
                "--chunk",
                "4",
                *common,
            ]
        )
        == 0
    )
    policy = Policy.load(tmp_path / "inv")
    assert policy.views == 2 and policy.cameras == ["camera", "wrist"] and policy.motion.views == 2
    pred = policy.predict(np.zeros((2, 32, 32, 3), np.uint8), np.zeros(4, np.float32), "push the block")
    assert pred.actions.shape == (4, 4) and pred.codes is not None


def test_inverse_training_skips_action_free_episodes(tmp_path, runs, capsys):
    data = tiny_dataset(tmp_path / "ds", episodes=2, actions=False)
    assert (
        train_main(["bc", "--data", str(data), "--out", str(tmp_path / "bc"), "--max-steps", "2", *sets(TINY_FORWARD)])
        == 2
    )
    assert "no training samples (2 episodes without actions skipped)" in capsys.readouterr().err


def test_inverse_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = InverseConfig(image_size=32, chunk=4, code_len=5, fsq_levels=[4, 4], **TINY_FORWARD)
    model = InverseModel(cfg)
    images = torch.randint(0, 255, (4, 1, 32, 32, 3), dtype=torch.uint8)
    actions = torch.rand(4, 4, 4) * 1.6 - 0.8
    codes = torch.randint(0, 16, (4, 5))
    mask = torch.ones(4, 4)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = model(images, torch.zeros(4, 4), actions, mask, codes)[0].item()
    for _ in range(120):
        loss, metrics = model(images, torch.zeros(4, 4), actions, mask, codes)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first and metrics["action_l1"] < 0.1


def test_truncated_normal_nll_is_a_normalised_density():
    xs = torch.linspace(-1, 1, 20001)
    for mean in (-0.9, 0.0, 0.7):
        density = torch.exp(-truncated_normal_nll(xs, torch.full_like(xs, mean), torch.full_like(xs, 0.3)))
        assert torch.trapezoid(density, xs).item() == pytest.approx(1.0, abs=1e-3)


def metaworld_policy(image_size=64):
    cfg = InverseConfig(
        image_size=image_size, chunk=4, use_codes=False, use_text=True, vocab=["<unk>", "reach"], **TINY_FORWARD
    )
    return Policy(InverseModel(cfg), cameras=["corner"])


def test_an_untrained_policy_runs_a_metaworld_episode_end_to_end(tmp_path):
    policy_eval._STATE.clear()
    policy_eval._STATE["policy"] = metaworld_policy()
    settings = policy_eval.EvalSettings(tmp_path, max_steps=8, video_dir=tmp_path / "videos")
    outcome = policy_eval.run_episode("reach", 0, 123, settings, write_video=True)
    assert outcome.steps == 8 and outcome.reason == "timeout" and len(outcome.policy_ms) == 8
    assert list((tmp_path / "videos").glob("reach_000_timeout.mp4"))
    summary = policy_eval.summarise([outcome])
    assert summary["per_task"]["reach"]["success"] == 0.0 and summary["episodes"] == 1


def test_a_policy_trained_at_20_hz_holds_each_action_for_four_simulator_steps(tmp_path):
    policy_eval._STATE.clear()
    policy = metaworld_policy()
    policy.fps = 20.0
    assert policy.action_repeat(0.0125) == 4
    policy_eval._STATE["policy"] = policy
    outcome = policy_eval.run_episode(
        "reach", 0, 123, policy_eval.EvalSettings(tmp_path, max_steps=8), write_video=False
    )
    assert outcome.steps == 8 and len(outcome.policy_ms) == 2
    assert policy_eval._STATE["sim"].env.curr_path_length == 8


def test_a_nonfinite_action_stops_the_episode_before_the_simulator(tmp_path, monkeypatch):
    policy_eval._STATE.clear()
    policy = metaworld_policy()
    policy_eval._STATE["policy"] = policy
    monkeypatch.setattr(policy.inverse, "predict", lambda *a, **k: torch.full((1, 4, 4), float("nan")))
    outcome = policy_eval.run_episode(
        "reach", 0, 123, policy_eval.EvalSettings(tmp_path, max_steps=8), write_video=False
    )
    assert outcome.reason == "nonfinite_action" and outcome.steps == 0 and not outcome.success
    assert policy_eval._STATE["sim"].env.curr_path_length == 0  # never stepped


def test_wilson_interval():
    lo, hi = policy_eval.wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)


def test_eval_refuses_a_policy_for_another_action_space(tmp_path, capsys):
    cfg = InverseConfig(image_size=64, action_dim=7, chunk=4, use_codes=False, use_text=True, **TINY_FORWARD)
    save_checkpoint(tmp_path / "ckpt", "bc", InverseModel(cfg), {"cameras": ["corner"]})
    assert eval_main(["policy", "--checkpoint", str(tmp_path / "ckpt"), "--tasks", "reach", "--episodes", "1"]) == 2
    assert "7-D actions; Meta-World takes 4" in capsys.readouterr().err
