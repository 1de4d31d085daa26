"""PolicyRunner without ROS: when it predicts, what it refuses, and its background forward model."""

import numpy as np
import pytest
from tiny import tiny_policy_checkpoint

from amplify_ros.control.policy_runner import PolicyRunner, RunnerSettings
from amplify_ros.core.policy import Policy

IMAGES = np.zeros((1, 32, 32, 3), np.uint8)
PROPRIO = np.zeros(4, np.float32)


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return Policy.load(tiny_policy_checkpoint(tmp_path_factory.mktemp("runner"), chunk=4))


def test_open_loop_predicts_once_per_executed_steps_and_a_gap_in_frames_drops_the_rest(policy):
    runner = PolicyRunner(policy, RunnerSettings("open-loop", execute_steps=3, max_gap=0.5))
    steps = [runner.step(IMAGES, PROPRIO, "press", 0.1 * i) for i in range(4)]
    assert [s.prediction is not None for s in steps] == [True, False, False, True]
    assert all(s.action.shape == (4,) and s.refusal is None for s in steps)
    np.testing.assert_allclose(steps[1].action, steps[0].prediction.actions[1])  # the chunk's next step
    assert set(steps[0].stages_ms) == {"forward_ms", "inverse_ms"} and not steps[1].stages_ms
    assert runner.step(IMAGES, PROPRIO, "press", 0.4).prediction is None
    assert runner.step(IMAGES, PROPRIO, "press", 1.5).prediction is not None  # 1.1 s after the last frame


def test_temporal_ensembling_predicts_every_frame_and_codes_from_elsewhere_are_used(policy):
    runner = PolicyRunner(policy, RunnerSettings())
    codes = np.zeros(policy.inverse.cfg.code_len, np.int64)
    steps = [runner.step(IMAGES, PROPRIO, "press", 0.05 * i, codes) for i in range(3)]
    assert all(s.prediction is not None for s in steps)
    np.testing.assert_array_equal(steps[0].prediction.codes, codes)
    assert "forward_ms" not in steps[0].stages_ms  # no forward pass: the codes were given


def test_unusable_input_and_non_finite_chunks_are_refused_with_a_reason(policy):
    runner = PolicyRunner(policy, RunnerSettings())
    out = runner.step(IMAGES, np.full(4, np.nan, np.float32), "press", 0.0)
    assert out.action is None and out.refusal[0] == "bad_input" and "not finite" in out.refusal[1]
    real = policy.inverse.mean_out.bias.data.clone()
    policy.inverse.mean_out.bias.data.fill_(float("nan"))
    try:
        out = runner.step(IMAGES, PROPRIO, "press", 0.1)
    finally:
        policy.inverse.mean_out.bias.data.copy_(real)
    assert out.action is None and out.refusal[0] == "nonfinite_action"
    assert runner.step(IMAGES, PROPRIO, "press", 0.2).action is not None  # nothing of it was kept


def test_async_mode_acts_with_codes_from_the_background_thread(policy):
    runner = PolicyRunner(policy, RunnerSettings(forward_mode="async", max_codes_age=1.0))
    try:
        first = runner.step(IMAGES, PROPRIO, "press", 1.0, source="frame 1")  # waits for the first codes
        assert first.background is not None and first.background.source == "frame 1"
        np.testing.assert_array_equal(first.prediction.codes, first.background.codes)
        assert {"forward_ms", "codes_age_ms", "inverse_ms"} <= set(first.stages_ms)
        runner.reset()  # a new task: codes of the old one are not used
        assert runner.worker.codes_for(1.0, "press", 1.0, 0.0) is None
    finally:
        runner.close()
    assert PolicyRunner(policy, RunnerSettings(forward_mode="sync")).worker is None
