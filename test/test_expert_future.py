"""The true-future code source of the policy benchmark's upper-bound ablation."""

import numpy as np
import pytest
from tiny import tiny_policy_checkpoint

from amplify_ros.core.policy import Policy
from amplify_ros.sim.ground_truth import GroundTruthTracker
from amplify_ros.train import policy_eval


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    policy = Policy.load(tiny_policy_checkpoint(tmp_path_factory.mktemp("ckpt"), image_size=64))
    policy.fps = 20.0  # Meta-World runs at 80 Hz: a frame every 4 simulator steps
    return policy


def test_the_future_is_what_the_expert_then_does_and_the_episode_is_untouched(policy):
    from amplify_ros.sim.metaworld_env import MetaWorldTask

    sim = MetaWorldTask("door-open", 64, ("corner",))
    future = policy_eval.expert_future(policy, sim)
    assert future.action_repeat == 4
    sim.reset(7)
    future.reset(7)
    for _ in range(20):
        sim.step(sim.expert_action())
    before = sim.data.qpos.copy(), sim.env.curr_path_length
    predicted = future.tracks(sim)
    assert np.array_equal(sim.data.qpos, before[0]) and sim.env.curr_path_length == before[1]

    tracker = GroundTruthTracker(sim.model, "corner", sim.camera_models["corner"], horizon=predicted.shape[1])
    tracker.observe(sim.data)
    for _ in range(predicted.shape[1] - 1):
        for _ in range(4):
            sim.step(np.clip(sim.expert_action(), -1, 1))
        tracker.observe(sim.data)
    actual = tracker.tracks()[0][0]
    assert np.abs(actual - actual[0]).max() > 0.05  # the arm moved
    np.testing.assert_allclose(predicted[0], actual, atol=1e-6)
    codes = future.codes(sim)
    assert codes.shape == (policy.inverse.cfg.code_len,) and codes.max() < policy.inverse.fsq.codebook_size
    future.close()
    sim.close()


def test_an_episode_runs_on_expert_future_codes_without_the_forward_model(policy, tmp_path, monkeypatch):
    policy_eval._STATE.clear()
    policy_eval._STATE["policy"] = policy
    monkeypatch.setattr(policy.motion.forward, "predict", lambda *a: pytest.fail("the forward model was asked"))
    settings = policy_eval.EvalSettings(tmp_path, max_steps=8, codes="expert-future")
    outcome = policy_eval.run_episode("reach", 0, 123, settings, write_video=False)
    assert outcome.steps == 8 and len(outcome.policy_ms) == 2  # a query every 4 simulator steps


def test_eval_refuses_expert_future_codes_for_bc(tmp_path, capsys):
    from amplify_ros.train.eval_cli import main as eval_main

    bc = tiny_policy_checkpoint(tmp_path, image_size=64, amplify=False)
    assert (
        eval_main(
            ["policy", "--checkpoint", str(bc), "--tasks", "reach", "--episodes", "1", "--codes", "expert-future"]
        )
        == 2
    )
    assert "needs an AMPLIFY policy whose forward model carries its tokenizer" in capsys.readouterr().err
