"""The deployed models' inference passes as ONNX Runtime graphs: the same numbers, ~2.3x sooner.

On one CPU thread the shipped policy's parallel code pass plus inverse pass take 12 ms in
ONNX Runtime against 27 ms in eager torch (benchmarks/latency.py measures it through DDS): ORT
fuses the ResNet's convolution + batch-norm + ReLU and the transformer's attention and runs
them without torch's per-operator dispatch, which dominates for models this small.

Each graph is exported from the loaded torch module when a model is switched to this runtime
(torch's dynamo exporter, ~5 s per graph of the shipped model) and kept in a cache folder
(``$AMPLIFY_ROS_ONNX_CACHE``, default ``~/.cache/amplify_ros/onnx``) under a digest of
everything it is made of: weights and buffers, model configs, input shapes, the source of
amplify_ros/core and the torch version. A graph therefore cannot drift from the model it came
from, and a node restarted on the same checkpoint (a respawn) loads in well under a second
instead of exporting again. Shapes are fixed to one sample (what the nodes and the evaluator
feed). The task sentence is embedded by the torch
word-bag encoder and enters the graph as a vector. Autoregressive code decoding is a loop with
a key/value cache; it stays in torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from amplify_ros.core.forward_model import ForwardModel
from amplify_ros.core.inverse_model import InverseModel

RUNTIMES = ("torch", "onnxruntime")


class OrtGraph:
    """One exported pass: keyword numpy inputs -> its outputs (numpy), on ``threads`` threads."""

    def __init__(self, module: nn.Module, example: dict[str, torch.Tensor], threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:  # a listed dependency; say which when an install lacks it
            raise RuntimeError(
                f"runtime onnxruntime needs the onnxruntime, onnx and onnxscript packages: {err}"
            ) from err
        self.inputs = list(example)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.log_severity_level = 3  # errors only: its warnings about unused initialisers are noise here
        self._session = ort.InferenceSession(
            exported(module.eval(), example), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, **inputs: np.ndarray) -> list[np.ndarray]:
        if sorted(inputs) != sorted(self.inputs):
            raise ValueError(f"graph inputs are {self.inputs}, got {sorted(inputs)}")
        return self._session.run(None, inputs)


def cache_folder() -> Path:
    return Path(os.environ.get("AMPLIFY_ROS_ONNX_CACHE") or Path.home() / ".cache" / "amplify_ros" / "onnx")


def exported(module: nn.Module, example: dict[str, torch.Tensor]) -> bytes:
    """The ONNX model of ``module`` for inputs shaped like ``example``: from the cache, or
    exported and then cached (a cache that cannot be written is only a slower start)."""
    path = cache_folder() / f"{_digest(module, example)}.onnx"
    with contextlib.suppress(OSError):
        return path.read_bytes()
    with _quiet_export():
        program = torch.onnx.export(
            module, tuple(example.values()), input_names=list(example), dynamo=True, verbose=False
        )
    graph = program.model_proto.SerializeToString()
    with contextlib.suppress(OSError):  # atomic: a reader never sees half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as tmp:
            tmp.write(graph)
        os.replace(tmp.name, path)
    return graph


def _digest(module: nn.Module, example: dict[str, torch.Tensor]) -> str:
    """What the exported graph depends on: tensors (buffers include the normalisation statistics),
    configs (e.g. head counts, which no tensor shape shows), input shapes, our code, torch."""
    h = hashlib.sha256(f"{type(module).__name__} {torch.__version__}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.read_bytes())
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(repr([getattr(m, "cfg", None) for m in module.modules()]).encode())
    h.update(repr({k: (tuple(v.shape), str(v.dtype)) for k, v in example.items()}).encode())
    return h.hexdigest()[:32]


@contextlib.contextmanager
def _quiet_export():
    """The exporter prints progress lines with emoji to stdout and logs warnings: a node's log
    wants one line saying the graph is ready, which the caller writes."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch's own deprecations inside the exporter
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class _ParallelCodes(nn.Module):
    """images (1, V, H, W, 3) uint8, sentence vector (1, D) -> codes (1, T) from the parallel head."""

    def __init__(self, forward: ForwardModel) -> None:
        super().__init__()
        self.forward_model = forward

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        f = self.forward_model
        img = f.image_tokens(images)
        x = torch.cat([img, text.unsqueeze(1), f.sos.expand(len(img), 1, -1)], dim=1)
        n = x.shape[1]
        return f.parallel_logits(f.trunk(x + f.pos[:n], mask=f._mask[:n, :n])).argmax(-1)


class _Actions(nn.Module):
    """images, proprio (1, P), then codes (1, T) and/or a sentence vector (1, D), as the model
    takes them -> the action chunk (1, K, A) in the robot's units."""

    def __init__(self, inverse: InverseModel) -> None:
        super().__init__()
        self.inverse = inverse

    def forward(self, images: torch.Tensor, proprio: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        inv = self.inverse
        codes = condition[0] if inv.cfg.use_codes else None
        text = condition[-1] if inv.cfg.use_text else None
        return inv.unnormalise_actions(inv.means(images, proprio, codes, text))


def _images(views: int, size: int) -> torch.Tensor:
    return torch.zeros(1, views, size, size, 3, dtype=torch.uint8)


def parallel_codes_graph(forward: ForwardModel, threads: int) -> OrtGraph:
    """``graph(images=, text=)[0]``: the codes (1, T) int64. Needs the parallel head."""
    if not forward.cfg.parallel_depth:
        raise ValueError("this forward model has no parallel code head: ONNX Runtime runs only parallel decoding")
    example = {"images": _images(forward.cfg.views, forward.cfg.image_size), "text": torch.zeros(1, forward.cfg.dim)}
    return OrtGraph(_ParallelCodes(forward), example, threads)


def actions_graph(inverse: InverseModel, threads: int) -> OrtGraph:
    """``graph(images=, proprio=[, codes=][, text=])[0]``: the chunk (1, K, A); codes (1, T)
    int64 for a model that takes motion codes, text (1, D) for one that takes the sentence."""
    cfg = inverse.cfg
    example = {"images": _images(cfg.views, cfg.image_size), "proprio": torch.zeros(1, cfg.proprio_dim)}
    if cfg.use_codes:
        example["codes"] = torch.zeros(1, cfg.code_len, dtype=torch.long)
    if cfg.use_text:
        example["text"] = torch.zeros(1, cfg.dim)
    return OrtGraph(_Actions(inverse), example, threads)
