"""Damage files the ways disks and interrupted copies do, for testing the readers (no ROS).

``corrupt(path, mode, rng)``: ``truncate`` cuts the file at a random byte offset, ``zero_length``
empties it, ``overwrite`` writes random bytes over a few random spans. A bag folder is damaged
through its storage file (.mcap or .db3). Used by test/test_corrupt_files.py and
benchmarks/faults.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MODES = ("truncate", "zero_length", "overwrite")


def storage_file(path: str | os.PathLike) -> Path:
    """``path`` itself, or the first .mcap / .db3 file of a bag folder."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))[0]
    return path


def corrupt(path: str | os.PathLike, mode: str, rng: np.random.Generator) -> str:
    """Damage ``path`` (a file, or a bag folder's storage file) in place; what was done, in words."""
    file = storage_file(path)
    data = bytearray(file.read_bytes())
    if mode == "truncate":
        cut = int(rng.integers(1, max(len(data), 2)))
        file.write_bytes(bytes(data[:cut]))
        return f"truncated {file.name} at byte {cut} of {len(data)}"
    if mode == "zero_length":
        file.write_bytes(b"")
        return f"emptied {file.name}"
    if mode == "overwrite":
        spans = []
        for _ in range(int(rng.integers(1, 5))):
            at, size = int(rng.integers(0, len(data))), int(rng.integers(1, 4096))
            data[at:at + size] = rng.integers(0, 256, len(data[at:at + size]), dtype=np.uint8).tobytes()
            spans.append(f"{at}+{size}")
        file.write_bytes(bytes(data))
        return f"overwrote {file.name} at {', '.join(spans)}"
    raise ValueError(f"unknown corruption {mode!r}; known: {', '.join(MODES)}")
