"""The ONNX Runtime path gives the torch path's codes and actions, and refuses what it cannot run."""

import numpy as np
import pytest
import torch
from tiny import tiny_policy_checkpoint

from amplify_ros.core.policy import MotionPrior, Policy


def frames(n: int, views: int = 1, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 255, (n, views, size, size, 3), np.uint8)


@pytest.mark.parametrize("cameras", [("corner",), ("corner", "wrist")])
def test_amplify_onnxruntime_predicts_what_torch_predicts(tmp_path, cameras):
    path = tiny_policy_checkpoint(tmp_path, parallel_depth=1, cameras=cameras)
    eager, fast = Policy.load(path), Policy.load(path)
    eager.configure("torch", "parallel")
    fast.configure("onnxruntime", "auto")
    assert fast.motion.code_decoding == "parallel" and fast.runtime == fast.motion.runtime == "onnxruntime"
    rng = np.random.default_rng(0)
    for images in frames(6, len(cameras)):
        proprio = rng.normal(size=4).astype(np.float32)
        a, b = eager.predict(images, proprio, "press the button"), fast.predict(images, proprio, "press the button")
        np.testing.assert_array_equal(a.codes, b.codes)
        np.testing.assert_allclose(a.actions, b.actions, atol=1e-4)
        assert set(b.timings_ms) == {"forward_ms", "inverse_ms", "total_ms"}
    codes = eager.predict(images, proprio, "press").codes  # codes from elsewhere (a forward node)
    np.testing.assert_allclose(
        eager.predict(images, proprio, "", codes).actions, fast.predict(images, proprio, "", codes).actions, atol=1e-4
    )


def test_bc_onnxruntime_conditions_on_the_sentence(tmp_path):
    path = tiny_policy_checkpoint(tmp_path, amplify=False)
    eager, fast = Policy.load(path), Policy.load(path)
    fast.configure("onnxruntime")
    images, proprio = frames(1)[0], np.ones(4, np.float32)
    for sentence in ("press the button", "the"):
        np.testing.assert_allclose(
            eager.predict(images, proprio, sentence).actions, fast.predict(images, proprio, sentence).actions, atol=1e-4
        )


def test_autoregressive_decoding_stays_in_torch_and_back_to_torch_drops_the_graphs(tmp_path):
    path = tiny_policy_checkpoint(tmp_path, parallel_depth=1)
    eager, fast = Policy.load(path), Policy.load(path)
    fast.configure("onnxruntime", "autoregressive")
    images, proprio = frames(1)[0], np.zeros(4, np.float32)
    np.testing.assert_array_equal(
        eager.predict(images, proprio, "press").codes, fast.predict(images, proprio, "press").codes
    )
    fast.configure("torch")
    assert fast._graph is None and fast.motion._graph is None and fast.motion.code_decoding == "autoregressive"


def test_what_cannot_run_is_refused_and_changes_nothing(tmp_path):
    prior = MotionPrior.load(tiny_policy_checkpoint(tmp_path))  # no parallel head
    with pytest.raises(ValueError, match="has autoregressive"):
        prior.configure("onnxruntime", "parallel")
    prior.configure("onnxruntime", "auto")  # auto: autoregressive here, in torch
    assert (prior.code_decoding, prior.runtime, prior._graph) == ("autoregressive", "onnxruntime", None)
    with pytest.raises(ValueError, match="choose from"):
        prior.configure("tensorrt")
    policy = Policy.load(tiny_policy_checkpoint(tmp_path / "p", parallel_depth=1))
    policy.device = torch.device("cuda")  # no GPU needed: refused before anything moves there
    with pytest.raises(ValueError, match="runs on the CPU"):
        policy.configure("onnxruntime")
    assert policy.runtime == "torch" and policy._graph is None


def test_a_graph_is_exported_once_per_model_and_found_again_by_what_it_is_made_of(tmp_path, monkeypatch):
    monkeypatch.setenv("AMPLIFY_ROS_ONNX_CACHE", str(tmp_path / "cache"))
    export, exports = torch.onnx.export, []
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: exports.append(1) or export(*a, **k))
    path = tiny_policy_checkpoint(tmp_path, amplify=False)
    images, proprio = frames(1)[0], np.ones(4, np.float32)
    Policy.load(path).configure("onnxruntime")
    again = Policy.load(path)
    again.configure("onnxruntime")  # a respawn: the graph comes from the cache
    assert len(exports) == 1 and len(list((tmp_path / "cache").glob("*.onnx"))) == 1
    changed = Policy.load(path)
    changed.inverse.mean_out.bias.data += 0.5  # other weights: another graph, never the cached one
    eager = Policy.load(path)
    eager.inverse.mean_out.bias.data += 0.5
    changed.configure("onnxruntime")
    assert len(exports) == 2
    np.testing.assert_allclose(
        changed.predict(images, proprio, "press").actions, eager.predict(images, proprio, "press").actions, atol=1e-4
    )
